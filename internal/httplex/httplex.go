// Package httplex holds the lexical rules of HTTP field values that several
// parsers of this module share (RFC 9110, Section 5.6): optional
// whitespace, tokens, ASCII case folding, comma-separated lists, and
// delta-seconds (RFC 9111, Section 1.2.2). Each rule
// has one implementation here, so that the Cache-Control parser, the date
// parser, the default policy and the gateway agree on what a token or a
// blank is.
//
// It imports the standard library only, so that package policy (standard
// library only, for policy authors) may use it. Nothing here allocates;
// results are sub-slices of the input.
package httplex

import "bytes"

// IsOWS reports whether c is optional whitespace: SP or HTAB (RFC 9110,
// Section 5.6.3).
func IsOWS(c byte) bool { return c == ' ' || c == '\t' }

// TrimOWS returns b without the optional whitespace (SP, HTAB) at either end.
func TrimOWS(b []byte) []byte {
	return TrimRightOWS(TrimLeftOWS(b))
}

// TrimLeftOWS returns b without the optional whitespace at its start.
func TrimLeftOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// TrimRightOWS returns b without the optional whitespace at its end.
func TrimRightOWS(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// SkipOWS returns the index of the first byte of v at or after i that is
// not optional whitespace, or len(v): for parsers that walk a value by
// index.
func SkipOWS(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	return i
}

// CutItem returns the first member of the comma-separated list v, without
// the optional whitespace around it, and what follows its comma (nil after
// the last member). Empty members are returned as such (RFC 9110, Section
// 5.6.1 lets a recipient skip them): the caller decides.
func CutItem(v []byte) (item, rest []byte) {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		return TrimOWS(v[:i]), v[i+1:]
	}
	return TrimOWS(v), nil
}

// MaxDelta is the largest delta-seconds value kept: RFC 9111, Section
// 1.2.2 says a larger one is to be taken as 2^31.
const MaxDelta = 1 << 31

// ParseDelta parses delta-seconds (RFC 9111, Section 1.2.2): one or more
// digits and nothing else, clamped at MaxDelta. ok is false for anything
// else (empty, a sign, a blank).
func ParseDelta(b []byte) (v int64, ok bool) {
	if len(b) == 0 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v < MaxDelta {
			v = v*10 + int64(c-'0')
		}
	}
	return min(v, MaxDelta), true
}

// NextTag splits the first tag off a Surrogate-Key list (tags separated by
// spaces; HTAB and commas are taken as separators too, as senders write
// them): the tag, empty when the list holds only separators, and the rest
// to pass to the next call. The L1 index, the L2 index and purges all
// split tags with it, so that a tag stored is the tag a purge names.
func NextTag(list []byte) (tag, rest []byte) {
	list = bytes.TrimLeft(list, " \t,")
	if i := bytes.IndexAny(list, " \t,"); i >= 0 {
		return list[:i], list[i+1:]
	}
	return list, nil
}

// IsTchar reports whether c may appear in a token (RFC 9110, Section 5.6.2):
// a letter, a digit or one of !#$%&'*+-.^_`|~.
func IsTchar(c byte) bool { return tchar[c] }

// IsToken reports whether b is a non-empty token (RFC 9110, Section 5.6.2),
// such as a field name or a method.
func IsToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return true
}

// tchar marks the token characters (RFC 9110, Section 5.6.2). A [256] table
// indexed by a byte needs no bounds check.
var tchar = [256]bool{
	'!': true, '#': true, '$': true, '%': true, '&': true, '\'': true, '*': true,
	'+': true, '-': true, '.': true, '^': true, '_': true, '`': true, '|': true, '~': true,
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true,
	'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true, 'g': true, 'h': true, 'i': true,
	'j': true, 'k': true, 'l': true, 'm': true, 'n': true, 'o': true, 'p': true, 'q': true, 'r': true,
	's': true, 't': true, 'u': true, 'v': true, 'w': true, 'x': true, 'y': true, 'z': true,
	'A': true, 'B': true, 'C': true, 'D': true, 'E': true, 'F': true, 'G': true, 'H': true, 'I': true,
	'J': true, 'K': true, 'L': true, 'M': true, 'N': true, 'O': true, 'P': true, 'Q': true, 'R': true,
	'S': true, 'T': true, 'U': true, 'V': true, 'W': true, 'X': true, 'Y': true, 'Z': true,
}

// Lower returns c lower-cased if it is an ASCII upper-case letter, else c.
func Lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// EqualFold reports whether b equals s under ASCII case folding (field
// names and most HTTP tokens are case-insensitive; non-ASCII bytes must be
// equal). Unlike bytes.EqualFold it does no Unicode folding, and it takes
// the string without converting it.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := b[i], s[i]
		if c == d {
			continue
		}
		if c|0x20 != d|0x20 || c|0x20 < 'a' || c|0x20 > 'z' {
			return false
		}
	}
	return true
}

// EqualFoldBytes is EqualFold for two byte slices.
func EqualFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		c, d := a[i], b[i]
		if c == d {
			continue
		}
		if c|0x20 != d|0x20 || c|0x20 < 'a' || c|0x20 > 'z' {
			return false
		}
	}
	return true
}
