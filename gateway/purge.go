package gateway

import (
	"context"
	"crypto/subtle"
	"net"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/entry"
	"github.com/flowcache/flowcache/policy"
)

// purge answers "PURGE /path[?query]" on any host a route serves: every
// stored variant of that URL is removed from L1 and L2. The answer is 200
// {"purged":N}, or 404 {"purged":0} when nothing was stored. It is allowed
// from a loopback client, or with "Authorization: Bearer <admin.token>"
// when a token is set; anything else gets 403.
func (g *Gateway) purge(ctx *fasthttp.RequestCtx, rt *route) {
	g.gm.purges.Inc()
	if !g.purgeAllowed(ctx) {
		g.writeError(ctx, rt, fwdBypass, errForbidden)
		return
	}
	x := acquireExchange(g, ctx, rt)
	defer releaseExchange(x)
	x.loadRequest()
	n := 0
	if g.urlKey(x, rt, x.req.Host, x.req.Path, x.req.Query) {
		n = g.removeURL(x, false)
	}
	g.gm.purged.Add(n)
	status := fasthttp.StatusOK
	if n == 0 {
		status = fasthttp.StatusNotFound
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	x.hdr = append(x.hdr[:0], `{"purged":`...)
	x.hdr = strconv.AppendInt(x.hdr, int64(n), 10)
	x.hdr = append(x.hdr, "}\n"...)
	ctx.SetBody(x.hdr)
	setCacheHeaders(ctx, xcacheBypass, cacheStatusForward(fwdBypass, 0))
}

func (g *Gateway) purgeAllowed(ctx *fasthttp.RequestCtx) bool {
	if ip := ctx.RemoteIP(); ip.IsLoopback() {
		return true
	}
	return g.tokenOK(ctx)
}

// tokenOK reports whether the request carries "Authorization: Bearer
// <admin.token>" and a token is configured.
func (g *Gateway) tokenOK(ctx *fasthttp.RequestCtx) bool {
	tok := g.cfg.Admin.Token
	if tok == "" {
		return false
	}
	auth := peekRequest(&ctx.Request.Header, "authorization")
	const prefix = "Bearer "
	if len(auth) <= len(prefix) || !equalFold(auth[:len(prefix)], prefix) {
		return false
	}
	return subtle.ConstantTimeCompare(auth[len(prefix):], []byte(tok)) == 1
}

// urlKey derives x.pkey for a GET of host, path and query on rt with the
// route's policy, as a cache lookup would. The request's Cookie and
// Authorization fields are left out of the view: the URL's record (and
// with it every variant) does not depend on them. It reports false if the
// policy bypasses the URL.
func (g *Gateway) urlKey(x *exchange, rt *route, host, path, query []byte) bool {
	x.rt = rt
	x.req.Method = methodGET
	x.req.Host, x.req.Path, x.req.Query, x.req.Route = host, path, query, rt.name
	hs := x.req.Headers[:0]
	for _, h := range x.req.Headers {
		if equalFold(h.Name, "cookie") || equalFold(h.Name, "authorization") {
			continue
		}
		hs = append(hs, h)
	}
	x.req.Headers = hs
	x.policyKey()
	if x.key.Bypass {
		return false
	}
	x.pkey = appendPrimaryKey(x.pkey[:0], x.space, &x.key)
	return true
}

var methodGET = []byte("GET")

// removeURL removes the record at x.pkey and every entry it leads to, from
// L1 and (unless l1Only) L2, and returns how many stored responses were
// removed.
func (g *Gateway) removeURL(x *exchange, l1Only bool) int {
	del := g.del
	if l1Only {
		del = g.l1.del
	}
	mu := g.records.lock(x.pkey)
	mu.Lock()
	defer mu.Unlock()
	get := g.tierGet
	if l1Only {
		get = g.l1.get
	}
	v, ok := get(x.pkey, x.rec)
	if !ok {
		return 0
	}
	x.rec = v
	kind, _, gen, payload, ok := parseRecordHead(v)
	if !ok {
		del(x.pkey)
		return 0
	}
	n := 0
	switch kind {
	case kindEntry:
		g.removeChunks(x, x.pkey, gen, payload, del)
		n = 1
	case kindVariants:
		rec, ok := parseVariantRecord(payload)
		if !ok {
			break
		}
		for l := rec.list; ; {
			m, rest, ok := nextVariant(l)
			if !ok {
				break
			}
			l = rest
			x.ekey = appendVariantKey(x.ekey[:0], x.pkey, gen, m)
			ev, found := get(x.ekey, x.buf)
			x.buf = ev
			if !found {
				continue
			}
			if k, _, id, p, ok := parseRecordHead(ev); ok && k == kindEntry {
				g.removeChunks(x, x.ekey, id, p, del)
			}
			if del(x.ekey) {
				n++
			}
		}
	}
	del(x.pkey)
	return n
}

// removeChunks deletes the body chunks of the encoded entry p stored at key.
func (g *Gateway) removeChunks(x *exchange, key []byte, id uint64, p []byte, del func([]byte) bool) {
	var e entry.Entry
	if id == 0 || entry.Decode(p, &e) != nil || !e.Flags.Has(entry.FlagBodyChunked) {
		return
	}
	for i, have := 0, int64(len(e.Body)); have < e.BodyLen; i++ {
		x.ckey = appendChunkKey(x.ckey[:0], key, id, i)
		del(x.ckey)
		have += int64(g.l1.maxKV - len(x.ckey))
	}
}

// del removes key from L1 and L2 and reports whether either held it.
func (g *Gateway) del(key []byte) bool {
	ok := g.l1.del(key)
	if g.l2.Enabled() {
		if n, err := g.l2.Delete(context.Background(), key); err == nil && n > 0 {
			ok = true
		}
	}
	return ok
}

// invalidateAfter removes what a successful unsafe request may have
// changed: its target URI and the Location and Content-Location URIs on the
// same host (RFC 9111, Section 4.4).
func (g *Gateway) invalidateAfter(ctx *fasthttp.RequestCtx, rt *route, resp *fasthttp.Response) {
	x := acquireExchange(g, ctx, rt)
	defer releaseExchange(x)
	x.loadRequest()
	host := x.req.Host
	g.invalidateURI(x, host, x.req.Path, x.req.Query)
	for _, name := range [...]string{"Location", "Content-Location"} {
		v := peekResponse(&resp.Header, name)
		if len(v) == 0 {
			continue
		}
		path, query, ok := sameHostTarget(v, host)
		if ok {
			g.invalidateURI(x, host, path, query)
		}
	}
}

func (g *Gateway) invalidateURI(x *exchange, host, path, query []byte) {
	rt := g.st.Load().router.match(host, path)
	if rt == nil {
		return
	}
	x.req.Headers = x.req.Headers[:0]
	if g.urlKey(x, rt, host, path, query) && g.removeURL(x, false) > 0 {
		rt.m.invalidations.Inc()
	}
}

// sameHostTarget returns the path and query of a URI reference if it is
// relative ("/p?q") or absolute with the given host.
func sameHostTarget(ref, host []byte) (path, query []byte, ok bool) {
	if len(ref) > 1 && ref[0] == '/' && ref[1] == '/' {
		return nil, nil, false // network-path reference: another authority
	}
	if len(ref) == 0 || ref[0] != '/' {
		var u fasthttp.URI
		if err := u.Parse(nil, ref); err != nil || !equalFoldBytes(hostWithoutPort(u.Host()), host) {
			return nil, nil, false
		}
		return append([]byte(nil), u.PathOriginal()...), append([]byte(nil), u.QueryString()...), true
	}
	if i := indexByte(ref, '#'); i >= 0 {
		ref = ref[:i]
	}
	if i := indexByte(ref, '?'); i >= 0 {
		return ref[:i], ref[i+1:], true
	}
	return ref, nil, true
}

// loopbackHost reports whether a Host header names the loopback interface.
func loopbackHost(h []byte) bool {
	host := hostWithoutPort(h)
	if equalFold(host, "localhost") {
		return true
	}
	if len(host) > 1 && host[0] == '[' {
		host = host[1 : len(host)-1]
	}
	ip := net.ParseIP(string(host))
	return ip != nil && ip.IsLoopback()
}

var _ policy.Policy = (*policy.Default)(nil)
