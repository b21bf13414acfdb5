// Package cachecontrol parses the Cache-Control header field (RFC 9111,
// Section 5.2) and Surrogate-Control, which shares its syntax.
// CDN-Cache-Control (RFC 9213) is a Structured Field Dictionary (RFC 8941)
// instead: the default policy reads it with a strict parser that refuses
// the whole field when it is not valid (see policy.Default).
//
// The parser never fails and never allocates: [Parse] merges one field value
// into a caller-owned [Directives], and [ParseField] merges every occurrence
// of a field. It is fuzzed; any input is accepted.
//
// # Reading junk
//
// Directive names are compared case-insensitively. An argument may be a
// token or a quoted string (RFC 9111 asks recipients to accept both forms),
// so max-age="60" is max-age=60, and a quoted argument may hold commas:
// no-cache="Set-Cookie, Authorization" is one directive. Unknown directives
// are skipped with their argument. Whitespace and characters that cannot
// start a directive (such as ';') separate directives, so a field written
// "public private" still says private.
//
// Delta-seconds arguments (1*DIGIT) larger than 2^31 are clamped to 2^31
// (RFC 9111, Section 1.2.2). Repeated and invalid arguments are merged to
// the most restrictive reading:
//
//   - max-age and s-maxage: an invalid argument (missing, empty, negative,
//     not a number) or two different values make the value 0, that is, the
//     response is stale (RFC 9111, Section 4.2.1). A repeated equal value
//     is kept.
//   - stale-while-revalidate, stale-if-error, max-stale: an invalid argument
//     is ignored; of several values the smallest is kept.
//   - min-fresh: an invalid argument is ignored; of several values the
//     largest is kept.
//
// Surrogate-Control's "max-age=30+60" form (fresh for 30 seconds, then
// usable stale for 60 seconds if the origin fails) is read as max-age=30,
// stale-if-error=60, in any of the fields.
//
// Directives that take no argument (no-store, public, must-revalidate ...)
// are set whatever follows them. no-cache and private with an argument set
// NoCacheFields and PrivateFields instead of NoCache and Private, so that a
// caller decides how to treat the qualified forms; a shared cache that does
// not implement them treats them as the unqualified forms.
package cachecontrol
