package gateway

import (
	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/internal/httplex"
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

// The lexical rules of field values have one implementation, in package
// httplex; the gateway's many header parsers call them by these short
// names (each inlined).

// equalFold is httplex.EqualFold: b equals the ASCII s in any case.
func equalFold(b []byte, s string) bool { return httplex.EqualFold(b, s) }

// equalFoldBytes is httplex.EqualFoldBytes, equalFold for two byte slices.
func equalFoldBytes(a, b []byte) bool { return httplex.EqualFoldBytes(a, b) }

// lower is httplex.Lower: c lower-cased if it is an ASCII letter.
func lower(c byte) byte { return httplex.Lower(c) }

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

// trimOWS is httplex.TrimOWS: b without optional whitespace (SP, HTAB) at
// either end.
func trimOWS(b []byte) []byte { return httplex.TrimOWS(b) }

// appendLower appends b lower-cased to dst.
func appendLower(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, lower(c))
	}
	return dst
}
