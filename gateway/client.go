package gateway

import (
	"bytes"
	"net/netip"
	"unsafe"

	"github.com/valyala/fasthttp"
)

// # Who is the client?
//
// The peer of the connection is the client, unless it is one of
// [server] trusted_proxies: only then are its forwarding fields believed,
// as nginx's set_real_ip_from with real_ip_recursive on. The addresses of
// X-Forwarded-For (or, with real_ip_header = "Forwarded", the for= of each
// Forwarded element) are walked from the right, skipping trusted proxies;
// the first one that is not trusted is the client. An address that does
// not parse ("unknown", an obfuscated identifier, garbage) ends the walk:
// the trusted hop to its right is then the client. When every address is
// trusted, the leftmost is the client. Only the last maxHops addresses are
// looked at.
//
// The client's scheme is https when the connection is TLS or, from a
// trusted proxy, when the forwarded proto says so: the X-Forwarded-Proto
// value at the client's position when that field lists as many values as
// X-Forwarded-For, else its last value; with Forwarded, the proto= of the
// client's element.

// maxHops bounds how many forwarded addresses client looks at.
const maxHops = 16

// realIPForwarded is the value of [server] real_ip_header that selects the
// Forwarded field (RFC 7239) instead of X-Forwarded-For.
const realIPForwarded = "forwarded"

// hop is one forwarded address and the scheme the hop that added it saw.
type hop struct {
	addr     netip.Addr
	https    bool
	hasProto bool
}

// hops is a ring of the last maxHops forwarded addresses.
type hops struct {
	h [maxHops]hop
	n int // total seen; the ring holds the last min(n, maxHops)
}

func (r *hops) add(a netip.Addr) *hop {
	p := &r.h[r.n%maxHops]
	*p = hop{addr: a}
	r.n++
	return p
}

// at returns the i-th hop from the right (0 = rightmost).
func (r *hops) at(i int) *hop { return &r.h[(r.n-1-i)%maxHops] }

func (r *hops) len() int { return min(r.n, maxHops) }

// client returns the client's address and whether it reached the
// gateway (or the first trusted proxy) over TLS; see "Who is the client?"
// above. It does not allocate for IPv4 and IPv6 addresses.
func (g *Gateway) client(ctx *fasthttp.RequestCtx) (netip.Addr, bool) {
	peer, _ := netip.AddrFromSlice(ctx.RemoteIP())
	peer = peer.Unmap()
	https := ctx.IsTLS()
	if len(g.trusted) == 0 || !g.trustedAddr(peer) {
		return peer, https
	}
	var r hops
	h := &ctx.Request.Header
	if g.realIPForwarded {
		for k, v := range h.All() {
			if equalFold(k, "forwarded") {
				parseForwarded(&r, v)
			}
		}
	} else {
		for k, v := range h.All() {
			if equalFold(k, "x-forwarded-for") {
				eachListItem(v, func(item []byte) { r.add(parseHopAddr(item)) })
			}
		}
	}
	n := r.len()
	if n == 0 {
		return peer, https
	}
	ci := -1 // the client's position from the right; -1: the peer
	for i := 0; i < n; i++ {
		a := r.at(i).addr
		if !a.IsValid() {
			break
		}
		ci = i
		if !g.trustedAddr(a) {
			break
		}
	}
	if ci < 0 {
		return peer, https
	}
	c := r.at(ci)
	if g.realIPForwarded {
		if c.hasProto {
			https = c.https
		}
		return c.addr, https
	}
	// X-Forwarded-Proto: the value at the client's position when the
	// lists match, else the last one.
	var protos hops
	for k, v := range h.All() {
		if equalFold(k, "x-forwarded-proto") {
			eachListItem(v, func(item []byte) { protos.add(netip.Addr{}).https = equalFold(item, "https") })
		}
	}
	switch {
	case protos.n == 0:
	case protos.n == r.n:
		https = protos.at(ci).https
	default:
		https = protos.at(0).https
	}
	return c.addr, https
}

// https reports whether the client reached the gateway (or the first
// trusted proxy) over TLS, as client does; without trusted proxies it is
// only a look at the connection.
func (g *Gateway) https(ctx *fasthttp.RequestCtx) bool {
	if len(g.trusted) == 0 {
		return ctx.IsTLS()
	}
	_, https := g.client(ctx)
	return https
}

func (g *Gateway) trustedAddr(a netip.Addr) bool {
	for _, p := range g.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// eachListItem calls f with each comma-separated item of v, trimmed.
func eachListItem(v []byte, f func(item []byte)) {
	for len(v) > 0 {
		var item []byte
		item, v, _ = bytes.Cut(v, comma)
		if item = trimOWS(item); len(item) > 0 {
			f(item)
		}
	}
}

var comma, semicolon, equals = []byte{','}, []byte{';'}, []byte{'='}

// parseForwarded adds the for= address and proto= of each element of a
// Forwarded field value (RFC 7239, Section 4) to r.
func parseForwarded(r *hops, v []byte) {
	eachListItem(v, func(elem []byte) {
		var addr netip.Addr
		https, hasProto := false, false
		for len(elem) > 0 {
			var pair []byte
			pair, elem, _ = bytes.Cut(elem, semicolon)
			name, val, ok := bytes.Cut(trimOWS(pair), equals)
			if !ok {
				continue
			}
			if n := len(val); n >= 2 && val[0] == '"' && val[n-1] == '"' {
				val = val[1 : n-1]
			}
			switch {
			case equalFold(name, "for"):
				addr = parseHopAddr(val)
			case equalFold(name, "proto"):
				https, hasProto = equalFold(val, "https"), true
			}
		}
		p := r.add(addr)
		p.https, p.hasProto = https, hasProto
	})
}

// parseHopAddr parses a forwarded address: an IPv4 or IPv6 address,
// optionally with a port ("1.2.3.4:80", "[2001:db8::1]:80"). Anything else
// (a zone, "unknown", an obfuscated identifier) is the invalid Addr.
func parseHopAddr(b []byte) netip.Addr {
	if len(b) == 0 || len(b) > 64 {
		return netip.Addr{}
	}
	if b[0] == '[' {
		end := indexByte(b, ']')
		if end < 0 {
			return netip.Addr{}
		}
		b = b[1:end]
	} else if i := indexByte(b, ':'); i >= 0 && indexByte(b[i+1:], ':') < 0 {
		b = b[:i] // IPv4 with port
	}
	if indexByte(b, '%') >= 0 {
		return netip.Addr{}
	}
	// Zero-copy: ParseAddr keeps no reference to a string without zone.
	a, err := netip.ParseAddr(unsafe.String(unsafe.SliceData(b), len(b)))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// parseTrustedProxies parses [server] trusted_proxies: CIDRs or single
// addresses. Validate has checked them.
func parseTrustedProxies(list []string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if p, err := parseProxy(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func parseProxy(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
