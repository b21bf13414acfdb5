package gateway

import (
	"bytes"
	"errors"
	"net/netip"
	"unsafe"

	"github.com/valyala/fasthttp"
)

// # Host and path: one normal form for routing, key and upstream
//
// A request is routed, keyed and sent upstream with the same host and path,
// computed once by canonicalRequest before routing (see the README, "Host,
// path and forwarded fields"):
//
//   - The authority is the request target's when the target is in absolute
//     form (RFC 9112, Section 3.2.2: the Host field is then replaced), else
//     the Host field. It must be a reg-name (letters, digits, '-', '.', '_',
//     '~') or an IP literal, with an optional numeric port; userinfo,
//     percent-encoding, anything else is a 400. The normal form is
//     lower-case, without a trailing dot, and without the port: the port is
//     not part of the key and is not sent upstream (as nginx's $host).
//   - The path is normalised as RFC 3986, Section 6.2.2 allows: a
//     percent-encoded unreserved character is decoded, other escapes get
//     upper-case hex, "//" becomes "/", and dot-segments ("." and "..",
//     also when encoded) are removed. A path that some origins read as
//     another path (a backslash, a malformed escape, a dot-segment that
//     %2F, %5C or a ";" parameter would make) is a 400.
//
// The request's Host field and URI path are rewritten to the normal form
// when it differs, so that everything after routing reads one value.

var (
	errHost = errors.New("gateway: invalid host")
	errPath = errors.New("gateway: ambiguous or malformed request path")
)

// maxHostLen bounds a host name (DNS: 253, plus a trailing dot).
const maxHostLen = 254

// normalHost validates an authority (host [":" port]) and appends its
// normal form to dst: the host lower-cased, without port and without a
// trailing dot. IP literals keep their brackets. It does not allocate for
// a reg-name or an IPv4 address.
func normalHost(dst, a []byte) ([]byte, error) {
	if len(a) == 0 {
		return dst, errHost
	}
	var host, port []byte
	if a[0] == '[' {
		end := indexByte(a, ']')
		if end < 0 {
			return dst, errHost
		}
		host, port = a[:end+1], a[end+1:]
		if len(port) > 0 {
			if port[0] != ':' {
				return dst, errHost
			}
			port = port[1:]
		}
		if !validIPv6Literal(host[1 : len(host)-1]) {
			return dst, errHost
		}
	} else {
		host = a
		if i := indexByte(a, ':'); i >= 0 {
			host, port = a[:i], a[i+1:]
		}
		if n := len(host); n > 1 && host[n-1] == '.' {
			host = host[:n-1]
		}
		if len(host) == 0 || len(host) > maxHostLen-1 || host[len(host)-1] == '.' {
			return dst, errHost
		}
		prev := byte('.') // an empty label (leading dot, "a..b") is refused
		for _, c := range host {
			if !unreserved[c] || (c == '.' && prev == '.') {
				return dst, errHost
			}
			prev = c
		}
	}
	if len(port) > 5 {
		return dst, errHost
	}
	p := 0
	for _, c := range port {
		if c < '0' || c > '9' {
			return dst, errHost
		}
		p = p*10 + int(c-'0')
	}
	if p > 65535 {
		return dst, errHost
	}
	return appendLower(dst, host), nil
}

// isNormalName reports whether a is a reg-name already in normal form:
// lower-case unreserved characters, no port, no empty label. It is the
// fast path of normalHost.
func isNormalName(a []byte) bool {
	if len(a) == 0 || len(a) > maxHostLen-1 {
		return false
	}
	prev := byte('.')
	for _, c := range a {
		if !normalNameChar[c] || (c == '.' && prev == '.') {
			return false
		}
		prev = c
	}
	return prev != '.'
}

// normalNameChar is unreserved without upper-case letters.
var normalNameChar = func() (t [256]bool) {
	t = unreserved
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = false
	}
	return t
}()

// validIPv6Literal reports whether s (between the brackets) is an IPv6
// address without zone. IPvFuture is refused.
func validIPv6Literal(s []byte) bool {
	if len(s) < 2 || len(s) > 45 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.') {
			return false
		}
	}
	// Zero-copy: ParseAddr keeps no reference to a string without zone.
	ip, err := netip.ParseAddr(unsafe.String(unsafe.SliceData(s), len(s)))
	return err == nil && ip.Is6()
}

// unreserved is RFC 3986's unreserved character set (Section 2.3): the
// characters a percent-encoding in a path is decoded to, and the only ones
// this gateway accepts in a reg-name host (sub-delims and percent-encoding
// have no place in a host name an origin would route on).
var unreserved = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	t['-'], t['.'], t['_'], t['~'] = true, true, true, true
	return t
}()

// absoluteAuthority returns the authority of a request target in absolute
// form ("http://host:port/path"), and false for any other form.
func absoluteAuthority(uri []byte) ([]byte, bool) {
	if len(uri) == 0 || uri[0] == '/' {
		return nil, false
	}
	scheme, a, ok := bytes.Cut(uri, []byte("://"))
	if !ok || bytes.IndexByte(scheme, '/') >= 0 || bytes.IndexByte(scheme, ':') >= 0 {
		return nil, false
	}
	if j := bytes.IndexAny(a, "/?#"); j >= 0 {
		return a[:j], true
	}
	return a, true
}

// canonicalRequest validates the request's authority and path and rewrites
// them to their normal form (see the top of this file). A request without
// any Host is allowed only in HTTP/1.0 (RFC 9112, Section 3.2): it keeps an
// empty host, which only a "*" route matches.
func canonicalRequest(req *fasthttp.Request) error {
	h := &req.Header
	a := h.Host()
	if abs, ok := absoluteAuthority(h.RequestURI()); ok {
		a = abs
	}
	switch {
	case len(a) == 0:
		if h.IsHTTP11() {
			return errHost
		}
		if len(h.Host()) > 0 { // "http:///p": the empty authority wins
			h.SetHostBytes(nil)
		}
	case isNormalName(a) && string(a) == string(h.Host()):
		// Already normal, and the Host field itself (the common case).
	default:
		var buf [maxHostLen]byte
		host, err := normalHost(buf[:0], a)
		if err != nil {
			return err
		}
		if string(host) != string(h.Host()) {
			h.SetHostBytes(host)
		}
	}
	uri := req.URI()
	p := uri.PathOriginal()
	if !pathNeedsWork(p) {
		return nil
	}
	var pbuf [512]byte
	np, err := normalPath(pbuf[:0], p)
	if err != nil {
		return err
	}
	if string(np) != string(p) {
		uri.SetPathBytes(np)
	}
	return nil
}

// pathNeedsWork reports whether normalPath could change or refuse p: it
// does not start with "/", or holds '%', '\', ";", "//" or "/.".
func pathNeedsWork(p []byte) bool {
	if len(p) == 0 || p[0] != '/' {
		return true
	}
	for i, c := range p {
		if !pathSpecial[c] {
			continue
		}
		if c != '/' || (i+1 < len(p) && (p[i+1] == '/' || p[i+1] == '.')) {
			return true
		}
	}
	return false
}

// pathSpecial marks the bytes pathNeedsWork looks at.
var pathSpecial = [256]bool{'%': true, '\\': true, ';': true, '/': true}

// normalPath appends the normal form of the origin-form path p to dst:
// percent-encoded unreserved characters decoded, other escapes in
// upper-case hex, empty segments ("//") merged, dot-segments removed
// (RFC 3986, Section 5.2.4). It refuses (errPath) a path that is not
// origin-form, a backslash, a malformed escape, and a segment that is a
// dot-segment once %2F or %5C is read as a separator or its ";"
// parameters are dropped, as some origins do.
func normalPath(dst, p []byte) ([]byte, error) {
	if len(p) == 0 || p[0] != '/' {
		return dst, errPath
	}
	base := len(dst)
	for i := 0; i < len(p); {
		for i < len(p) && p[i] == '/' {
			i++
		}
		// One segment: decode it to dst after a '/', then look at it.
		start := len(dst)
		dst = append(dst, '/')
		ambiguous := false
		for i < len(p) && p[i] != '/' {
			c := p[i]
			switch {
			case c == '\\':
				return dst[:base], errPath
			case c == '%':
				if i+2 >= len(p) || unhex(p[i+1]) < 0 || unhex(p[i+2]) < 0 {
					return dst[:base], errPath
				}
				d := byte(unhex(p[i+1])<<4 | unhex(p[i+2]))
				if unreserved[d] {
					dst = append(dst, d)
				} else {
					if d == '/' || d == '\\' {
						ambiguous = true
					}
					dst = append(dst, '%', upperHex[d>>4], upperHex[d&15])
				}
				i += 3
				continue
			case c == ';':
				ambiguous = true
			}
			dst = append(dst, c)
			i++
		}
		s := dst[start+1:]
		if ambiguous && hasDotSegment(s) {
			return dst[:base], errPath
		}
		switch {
		case string(s) == ".":
			dst = dst[:start]
		case string(s) == "..":
			dst = dst[:start]
			for len(dst) > base && dst[len(dst)-1] != '/' {
				dst = dst[:len(dst)-1]
			}
			if len(dst) > base {
				dst = dst[:len(dst)-1]
			}
		case len(s) == 0 && i < len(p):
			dst = dst[:start] // an empty segment inside the path: "//" is "/"
		}
		if i >= len(p) && (string(s) == "." || string(s) == "..") {
			dst = append(dst, '/') // "/a/.." is "/", "/a/." is "/a/"
		}
	}
	if len(dst) == base {
		dst = append(dst, '/')
	}
	return dst, nil
}

// hasDotSegment reports whether the decoded segment s holds "." or ".."
// as a part once %2F and %5C are read as separators and ";" starts
// parameters.
func hasDotSegment(s []byte) bool {
	for {
		end, next := len(s), len(s)
		for j := 0; j+2 < len(s); j++ {
			if s[j] == '%' && isSepEscape(s[j+1:j+3]) {
				end, next = j, j+3
				break
			}
		}
		part := s[:end]
		if k := indexByte(part, ';'); k >= 0 {
			part = part[:k]
		}
		if string(part) == "." || string(part) == ".." {
			return true
		}
		if next >= len(s) {
			return false
		}
		s = s[next:]
	}
}

func isSepEscape(h []byte) bool {
	return string(h) == "2F" || string(h) == "5C"
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

const upperHex = "0123456789ABCDEF"
