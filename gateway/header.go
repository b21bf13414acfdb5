package gateway

import (
	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/policy"
)

// # Why fold?
//
// The data-plane server and the upstream clients keep header names as
// received (DisableHeaderNamesNormalizing), so that a name reaches the other
// side unchanged. fasthttp's Peek is then case-sensitive: every lookup of a
// field by name goes through peekRequest and peekResponse instead.

// peekRequest returns the value of the first request field named name
// (any case), or nil.
func peekRequest(h *fasthttp.RequestHeader, name string) []byte {
	for k, v := range h.All() {
		if equalFold(k, name) {
			return v
		}
	}
	return nil
}

// peekResponse returns the value of the first response field named name
// (any case), or nil.
func peekResponse(h *fasthttp.ResponseHeader, name string) []byte {
	for k, v := range h.All() {
		if equalFold(k, name) {
			return v
		}
	}
	return nil
}

// hasResponseField reports whether the response has a field named name
// (any case).
func hasResponseField(h *fasthttp.ResponseHeader, name []byte) bool {
	for k := range h.All() {
		if equalFoldBytes(k, name) {
			return true
		}
	}
	return false
}

// equalFold is policy.EqualFold, named short for the gateway's many header
// comparisons.
func equalFold(b []byte, s string) bool { return policy.EqualFold(b, s) }

// equalFoldBytes is equalFold for two byte slices.
func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasPrefixFold reports whether b starts with the lower-case s, in any case.
func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && equalFold(b[:len(s)], s)
}

// hasSuffixFold reports whether b ends with the lower-case s, in any case.
func hasSuffixFold(b []byte, s string) bool {
	return len(b) >= len(s) && equalFold(b[len(b)-len(s):], s)
}

// containsFold reports whether b contains the lower-case s, in any case.
func containsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if lower(b[i]) == s[0] && equalFold(b[i:i+len(s)], s) {
			return true
		}
	}
	return false
}

// trimOWS trims optional whitespace (SP, HTAB) at both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// appendLower appends b lower-cased to dst.
func appendLower(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, lower(c))
	}
	return dst
}
