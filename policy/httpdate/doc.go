// Package httpdate parses and formats HTTP dates (RFC 9110, Section 5.6.7)
// without allocating: the Date, Expires, Last-Modified and If-Modified-Since
// fields.
//
// [Parse] accepts the three formats a recipient must accept: IMF-fixdate
// ("Sun, 06 Nov 1994 08:49:37 GMT"), the obsolete RFC 850 format
// ("Sunday, 06-Nov-94 08:49:37 GMT") and ANSI C's asctime() format
// ("Sun Nov  6 08:49:37 1994"). [Append] writes IMF-fixdate, the only format
// a sender may generate.
//
// # Notes
//
// Names are case-sensitive, as the grammar says; surrounding whitespace is
// ignored. The day name is checked to be a day name but not to match the
// date (a mismatch is common and harmless). A second of 60 (leap second) is
// accepted and read as the next minute. A two-digit RFC 850 year that would
// be more than 50 years in the future is read as the most recent past year
// with those digits, as RFC 9110 requires.
//
// The package is shared by the default policy (package policy) and the
// gateway, so it lives outside both.
package httpdate
