package gateway

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"net"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/entry"
	"github.com/flowcache/flowcache/gateway/internal/l2"
	"github.com/flowcache/flowcache/internal/httplex"
	"github.com/flowcache/flowcache/policy"
)

// purge answers "PURGE /path[?query]" on any host a route serves: every
// stored variant of that URL is removed from L1 and L2, and the purge is
// published so that every node drops it from its L1. With
// "Fastly-Soft-Purge: 1" or the query parameter soft=1 the entries are
// marked stale instead (served only as stale or after revalidation). With a
// "Surrogate-Key: a b" field it purges every response tagged a or b instead
// of the URL.
//
// The answer is 200 {"purged":N}, or 404 {"purged":0} when nothing was
// stored, 503 with an "error" member when L2 could not be purged (L1 was).
// With [admin] token set it needs "Authorization: Bearer <token>" from
// every client, loopback included; with no token it is allowed from a
// loopback client only. Anything else gets 403.
func (g *Gateway) purge(ctx *fasthttp.RequestCtx, rt *route) {
	g.gm.purges.Inc()
	if !g.purgeAllowed(ctx) {
		g.writeError(ctx, rt, fwdBypass, errForbidden)
		return
	}
	x := acquireExchange(g, ctx, rt)
	defer releaseExchange(x)
	x.loadRequest()
	query, softParam := cutSoftParam(x.req.Query)
	soft := softParam || string(trimOWS(peekRequest(&ctx.Request.Header, "fastly-soft-purge"))) == "1"
	var n int
	var err error
	if tags := peekRequest(&ctx.Request.Header, "surrogate-key"); len(trimOWS(tags)) > 0 {
		n, err = g.purgeEverywhere(l2.Invalidation{Kind: l2.KindTag, Tags: splitTags(tags), Soft: soft})
	} else {
		n, err = g.purgeURL(&x.req, rt, x.req.Host, x.req.Path, query, soft)
	}
	g.gm.purged.Add(n)
	status := fasthttp.StatusOK
	switch {
	case err != nil:
		status = fasthttp.StatusServiceUnavailable
		g.log.LogAttrs(context.Background(), warnLevel, "purge_l2_failed", errAttr(err))
	case n == 0:
		status = fasthttp.StatusNotFound
	}
	x.hdr = appendPurgeResult(x.hdr[:0], n, err)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(x.hdr)
	setCacheHeaders(ctx, xcacheBypass, cacheStatusForward(fwdBypass, 0))
}

// purgeURL removes (or, soft, marks stale) every stored variant of the URL
// of host, path and query on rt, in L1 and L2, and publishes the purge to
// every node. from gives the scheme and the request headers the policy may
// read (see keyView.urlKey). It returns how many stored responses were
// purged and the L2 error, if any.
func (g *Gateway) purgeURL(from *policy.Request, rt *route, host, path, query []byte, soft bool) (int, error) {
	x := acquireKeyView(g)
	defer releaseKeyView(x)
	if !x.urlKey(rt, from, host, path, query) {
		return 0, nil
	}
	g.inv.log.addURL(x.key.Host, x.key.Target)
	var n int
	if soft {
		n = g.markURL(x.pkey)
	} else {
		n = g.removeURL(x.pkey, false)
	}
	b := g.bus()
	if b == nil {
		return n, nil
	}
	pctx, cancel := context.WithTimeout(context.Background(), purgeTimeout)
	defer cancel()
	m, err := b.Purge(pctx, l2.Invalidation{Kind: l2.KindURL, Host: string(x.key.Host), Path: string(x.key.Target), Soft: soft})
	if n == 0 {
		n = m
	}
	return n, err
}

// purgeTimeout bounds the L2 side of one purge.
const purgeTimeout = 10 * time.Second

// appendPurgeResult appends the JSON answer of a purge: {"purged":N} and,
// on failure, "error".
func appendPurgeResult(dst []byte, n int, err error) []byte {
	dst = append(dst, `{"purged":`...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	if err != nil {
		dst = append(dst, `,"error":`...)
		msg, _ := json.Marshal(err.Error()) // a string always encodes
		dst = append(dst, msg...)
	}
	return append(dst, "}\n"...)
}

// purgeEverywhere applies inv to this node's L1, then to L2, and publishes
// it to every node. It returns how many stored responses were removed or
// marked (the larger of L1's and L2's counts), and the L2 error, if any:
// L1 is purged even then.
func (g *Gateway) purgeEverywhere(inv l2.Invalidation) (int, error) {
	n := g.applyL1(&inv)
	b := g.bus()
	if b == nil {
		return n, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), purgeTimeout)
	defer cancel()
	m, err := b.Purge(ctx, inv)
	return max(n, m), err
}

// cutSoftParam removes the parameter "soft=1" from a query and reports
// whether it was there.
func cutSoftParam(q []byte) ([]byte, bool) {
	found := false
	var out []byte
	for rest := q; len(rest) > 0; {
		var p []byte
		if i := indexByte(rest, '&'); i >= 0 {
			p, rest = rest[:i], rest[i+1:]
		} else {
			p, rest = rest, nil
		}
		if string(p) == "soft=1" {
			found = true
			continue
		}
		if len(out) > 0 {
			out = append(out, '&')
		}
		out = append(out, p...)
	}
	if !found {
		return q, false
	}
	return out, true
}

// splitTags splits a Surrogate-Key value into its tags.
func splitTags(v []byte) []string {
	var tags []string
	for len(v) > 0 {
		var t []byte
		t, v = httplex.NextTag(v)
		if len(t) > 0 {
			tags = append(tags, string(t))
		}
	}
	return tags
}

// purgeAllowed: with a token configured, the token, from every client;
// without one, a loopback client (the real client behind trusted proxies,
// see Gateway.client).
func (g *Gateway) purgeAllowed(ctx *fasthttp.RequestCtx) bool {
	if g.cfg.Admin.Token != "" {
		return g.tokenOK(ctx)
	}
	ip, _ := g.client(ctx)
	return ip.IsLoopback()
}

// tokenOK reports whether the request carries "Authorization: Bearer
// <admin.token>" and a token is configured.
func (g *Gateway) tokenOK(ctx *fasthttp.RequestCtx) bool {
	return g.headerTokenOK(&ctx.Request.Header)
}

// headerTokenOK is tokenOK on a request head.
func (g *Gateway) headerTokenOK(h *fasthttp.RequestHeader) bool {
	tok := g.cfg.Admin.Token
	if tok == "" {
		return false
	}
	auth := peekRequest(h, "authorization")
	const prefix = "Bearer "
	if len(auth) <= len(prefix) || !equalFold(auth[:len(prefix)], prefix) {
		return false
	}
	return subtle.ConstantTimeCompare(auth[len(prefix):], []byte(tok)) == 1
}

// removeURL removes the record at pkey and every entry it leads to, from
// L1 and (unless l1Only) L2, and returns how many stored responses were
// removed.
func (g *Gateway) removeURL(pkey []byte, l1Only bool) int {
	del := g.del
	get := g.tierGet
	if l1Only {
		del, get = g.l1.del, g.l1.getLocal
	}
	mu := g.records.lock(pkey)
	mu.Lock()
	defer mu.Unlock()
	s := acquireRecordScratch()
	defer releaseRecordScratch(s)
	v, ok := get(pkey, s.rec)
	if !ok {
		return 0
	}
	s.rec = v
	kind, _, gen, payload, ok := parseRecordHead(v)
	if !ok {
		del(pkey)
		return 0
	}
	n := 0
	switch kind {
	case kindEntry:
		g.removeChunks(s, pkey, gen, payload)
		n = 1
	case kindKV: // a look-aside value found by a tag purge (kv.go)
		n = 1
	case kindVariants:
		forEachVariant(&s.ekey, pkey, gen, payload, func(ekey, _ []byte) bool {
			ev, found := get(ekey, s.buf)
			s.buf = ev
			if !found {
				return true
			}
			if k, _, id, p, ok := parseRecordHead(ev); ok && k == kindEntry {
				g.removeChunks(s, ekey, id, p)
			}
			if del(ekey) {
				n++
			}
			return true
		})
	}
	del(pkey)
	return n
}

// removeChunks deletes the L1 body chunks of the encoded entry p stored at
// key (L2 holds entries whole).
func (g *Gateway) removeChunks(s *recordScratch, key []byte, id uint64, p []byte) {
	var e entry.Entry
	if id == 0 || entry.Decode(p, &e) != nil || !e.Flags.Has(entry.FlagBodyChunked) {
		return
	}
	g.l1.forEachChunk(&s.ckey, key, id, len(e.Body), e.BodyLen, func(ckey []byte, _, _ int64) bool {
		g.l1.del(ckey)
		return true
	})
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

// invalidateAfter removes what a successful (2xx or 3xx) unsafe request
// may have changed (RFC 9111, Section 4.4): its target URI always; after a
// 2xx only, the Location and Content-Location URIs on the same host.
//
// # Why not Location after a 3xx?
//
// Section 4.4 lets a cache invalidate them (MAY), never requires it. After
// a redirect, Location is where the client goes next, not what changed:
// honouring it would let any anonymous POST /logout answered 303 /home evict
// /home from every node, at will. After a 201 it names the resource just
// created, and Content-Location after a 2xx the representation the answer
// carries: those did change.
func (g *Gateway) invalidateAfter(ctx *fasthttp.RequestCtx, rt *route, resp *fasthttp.Response) {
	x := acquireExchange(g, ctx, rt)
	defer releaseExchange(x)
	x.loadRequest()
	host, base := x.req.Host, x.req.Path // base: of relative references
	g.invalidateURI(host, x.req.Path, x.req.Query)
	if status := resp.StatusCode(); status < 200 || status > 299 {
		return
	}
	for _, name := range [...]string{"Location", "Content-Location"} {
		v := peekResponse(&resp.Header, name)
		if len(v) == 0 {
			continue
		}
		path, query, ok := sameHostTarget(v, host, base)
		if ok {
			g.invalidateURI(host, path, query)
		}
	}
}

func (g *Gateway) invalidateURI(host, path, query []byte) {
	rt := g.st.Load().router.matchNormal(host, path) // host: the request's, normal
	if rt == nil {
		return
	}
	x := acquireKeyView(g)
	defer releaseKeyView(x)
	if !x.urlKey(rt, nil, host, path, query) {
		return
	}
	g.inv.log.addURL(x.key.Host, x.key.Target)
	if g.removeURL(x.pkey, false) > 0 {
		rt.m.invalidations.Inc()
	}
	g.publishURL(x.key.Host, x.key.Target)
}

// publishURL tells every other node to drop the URL from its L1 (RFC 9111,
// Section 4.4, applied cluster-wide), at most once a second per URL (see
// fanoutLimiter). It waits for Redis only while the circuit breaker is
// closed: with Redis down the message cannot be sent anyway, and the unsafe
// request must not wait for timeouts. The message does not move the purge
// epoch (l2 Tier.Notify): nodes that miss it keep their L1 copy until it
// expires (see README, Redis L2).
func (g *Gateway) publishURL(host, target []byte) {
	b := g.bus()
	if b == nil {
		return
	}
	if !g.fanout.allow(g.inv.log.urlHash(host, target), g.now()) {
		g.gm.publishSuppressed.Inc()
		return
	}
	if st, _ := b.Health(); st != l2.StateClosed {
		g.gm.publishSkipped.Inc()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if err := b.Notify(ctx, &l2.Invalidation{Kind: l2.KindURL, Host: string(host), Path: string(target)}); err != nil {
		g.gm.publishSkipped.Inc()
	}
}

// publishTimeout bounds the invalidation message after an unsafe request.
const publishTimeout = time.Second

// sameHostTarget resolves ref, a Location or Content-Location value,
// against the request path base (RFC 3986, Section 5.2) and returns the
// result's path in normal form (normalPath, as routing and keys use) and
// its query, if the result is on host, the request's normal host: an
// absolute URI whose authority normalises to host, an absolute path
// ("/p?q") or a relative path ("p", "../p"). RFC 9111, Section 4.4 allows
// no other host. A reference that does not normalise is not followed.
func sameHostTarget(ref, host, base []byte) (path, query []byte, ok bool) {
	if i := indexByte(ref, '#'); i >= 0 {
		ref = ref[:i]
	}
	var target []byte
	switch {
	case len(ref) == 0:
		return nil, nil, false // the request target itself
	case len(ref) > 1 && ref[0] == '/' && ref[1] == '/':
		return nil, nil, false // network-path reference: another authority
	case ref[0] == '/':
		target = ref
	case hasScheme(ref):
		var u fasthttp.URI
		if err := u.Parse(nil, ref); err != nil {
			return nil, nil, false
		}
		if s := u.Scheme(); !equalFold(s, "http") && !equalFold(s, "https") {
			return nil, nil, false
		}
		var hb [64]byte
		h, err := normalHost(hb[:0], u.Host())
		if err != nil || !bytes.Equal(h, host) {
			return nil, nil, false
		}
		target = append(target, u.PathOriginal()...)
		if len(target) == 0 {
			target = append(target, '/')
		}
		if q := u.QueryString(); len(q) > 0 {
			target = append(append(target, '?'), q...)
		}
	default: // relative path: merged with the base's directory
		dir := base[:bytes.LastIndexByte(base, '/')+1]
		target = append(append(make([]byte, 0, len(dir)+len(ref)), dir...), ref...)
	}
	if i := indexByte(target, '?'); i >= 0 {
		target, query = target[:i], target[i+1:]
	}
	path, err := normalPath(nil, target)
	if err != nil {
		return nil, nil, false
	}
	return path, query, true
}

// hasScheme reports whether a URI reference starts with a scheme
// (RFC 3986, Section 3.1): a letter, then letters, digits, "+", "-" or
// ".", up to a ":" before any "/", "?" or "#".
func hasScheme(ref []byte) bool {
	for i, c := range ref {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return true
		default:
			return false
		}
	}
	return false
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
