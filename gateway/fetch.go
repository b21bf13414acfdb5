package gateway

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/entry"
	"github.com/flowcache/flowcache/gateway/internal/freshness"
)

// fetchMode says why the gateway goes upstream for a cacheable request.
type fetchMode uint8

const (
	modeMiss       fetchMode = iota // nothing usable stored: fetch, store if allowed
	modeRevalidate                  // x.ent is stale: conditional request with its validators
)

// miss fetches a cacheable request that found nothing usable, joining
// concurrent requests for the same key (see flightGroup). A HEAD is
// fetched with a GET, as Varnish does, so that it fills the cache for the
// GETs that follow; it joins their flight and they join its.
func (g *Gateway) miss(x *exchange) {
	x.rt.m.misses.Inc()
	g.coalesced(x)
}

// revalidate handles a stale entry: a conditional request with its
// validators (stale-if-error on failure), joined with concurrent requests
// for the same key like a miss.
func (g *Gateway) revalidate(x *exchange) {
	g.coalesced(x)
}

// coalesced makes one upstream request for concurrent requests of the same
// key: the leader fetches (or revalidates) and stores; waiters then read
// the cache again, and make their own attempt if it still has nothing
// fresh for them (the leader failed, or stored another variant).
func (g *Gateway) coalesced(x *exchange) {
	x.fkey = append(append(x.fkey[:0], x.pkey...), 0)
	x.fkey = append(x.fkey, x.key.Variant...)
	f, leader := g.flights.join(x.fkey)
	if !leader {
		x.rt.m.coalesced.Inc()
		if f.wait(g.cfg.Cache.CoalesceTimeout.D()) {
			if g.serveIfFresh(x, true, false) {
				return
			}
		} else {
			x.rt.m.coalesceTimeouts.Inc()
		}
		g.fetch(x, fetchModeFor(x), true) // own attempt
		return
	}
	defer g.flights.finish(x.fkey, f)
	// Re-check inside the flight: a leader that finished between our
	// lookup and our join may have stored what we need. When our lookup
	// found nothing for the URL, in L1 only: that leader wrote L1 at once
	// and queued its L2 write, which Redis most likely does not have yet;
	// a second L2 round trip on every miss would buy nothing.
	if g.serveIfFresh(x, false, x.fwd == fwdURIMiss) {
		return
	}
	g.fetch(x, fetchModeFor(x), false)
}

// fetchModeFor revalidates a found entry that has validators, and fetches
// anew otherwise.
func fetchModeFor(x *exchange) fetchMode {
	if x.found && (len(x.ent.ETag) > 0 || len(x.ent.LastModified) > 0) {
		return modeRevalidate
	}
	return modeMiss
}

// serveIfFresh looks the request up again (in L1 only when localOnly) and
// answers it if a fresh response is stored now. If not, x.found says
// whether a (stale) entry was found, for revalidation and stale-if-error.
//
// A waiter (collapsed) also takes an entry the origin answered after its
// own request arrived (x.now, set at arrival): that answer is as new as the
// one its own fetch would bring, so it satisfies a request no-cache or
// max-age=0 (and a response no-cache) without a fetch per waiter.
func (g *Gateway) serveIfFresh(x *exchange, collapsed, localOnly bool) bool {
	fwd := x.fwd
	arrived := x.now
	x.now = g.now()
	g.lookupIn(x, !localOnly)
	if !x.found {
		x.fwd = fwd
		return false
	}
	age := freshness.CurrentAge(time.Duration(x.ent.InitialAge), time.Unix(0, x.ent.ResponseTime), x.now)
	if x.assess(age) != freshness.Fresh && !(collapsed && x.answeredSince(arrived)) {
		x.fwd = fwd
		return false
	}
	x.rt.m.hits.Inc()
	xc, detail := hitKind(x)
	x.cs = appendCacheStatus(x.cs[:0], "", 0, false, collapsed, detail)
	if g.writeEntry(x, int64(age/time.Second), xc, x.cs) {
		return true
	}
	x.found, x.fwd = false, fwd
	return false
}

// answeredSince reports whether the found entry was received from (or
// validated by) the origin at or after t, and not invalidated since.
func (x *exchange) answeredSince(t time.Time) bool {
	e := &x.ent
	return e.ResponseTime >= t.UnixNano() && !e.Flags.Has(entry.FlagInvalidated) &&
		e.ResponseTime > x.g.inv.softAll.Load()
}

// fetch sends the request upstream and answers the client from the
// response: a 304 refreshes the stale entry; a full response is decided
// on, stored if allowed and small enough, and passed to the client,
// streamed when it is larger than cache.max_object_size.
func (g *Gateway) fetch(x *exchange, mode fetchMode, collapsed bool) {
	ctx, rt := x.ctx, x.rt
	stale := x.found
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	resp.StreamBody = true
	g.buildCacheRequest(ctx, rt, x.key.Target, req)
	if mode == modeRevalidate {
		addValidators(req, &x.ent)
	}
	x.l2seq, x.l1seq = g.l2.Seq(), g.inv.log.current()
	reqTime := g.now()
	if ctx.Request.Header.IsHTTP11() {
		rt.upstream.relays.Store(req, x.relayInterim)
	}
	err := rt.upstream.do(ctx, req, resp, rt.m.upstreamLatency)
	rt.upstream.relays.Delete(req) // before req goes back to its pool
	fasthttp.ReleaseRequest(req)
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		if stale && g.serveStaleIfError(x, 0) {
			return
		}
		g.writeError(ctx, rt, x.fwd, err)
		return
	}
	respTime := g.now()
	status := resp.StatusCode()
	if stale && (status == fasthttp.StatusNotModified && mode == modeRevalidate || status >= 500) {
		if status == fasthttp.StatusNotModified {
			g.refreshed(x, resp, reqTime, respTime)
			closeUpstream(resp)
			return
		}
		if g.serveStaleIfError(x, status) {
			closeUpstream(resp)
			return
		}
	}
	x.found = false
	g.respond(x, resp, reqTime, respTime, collapsed)
}

// relayInterim sends the client a 103 Early Hints with the Link fields of
// an upstream's 103 (RFC 9110, Section 15.2; RFC 8297). Other interim
// responses are dropped; none is stored. Called by interimTransport while
// the final response is awaited, before anything else is written.
func (x *exchange) relayInterim(h *fasthttp.ResponseHeader) {
	if h.StatusCode() != fasthttp.StatusEarlyHints {
		return
	}
	out := &x.ctx.Response.Header
	n := 0
	for k, v := range h.All() {
		if len(k) == 4 && equalFold(k, "link") {
			out.AddBytesKV(headerLink, v)
			n++
		}
	}
	if n == 0 {
		return
	}
	// A client that went away fails the final answer too; nothing to
	// do about it here.
	_ = x.ctx.EarlyHints()
	out.Del(string(headerLink))
}

var headerLink = []byte("Link")

// serveStaleIfError answers with the stale entry, the upstream having
// failed (upstreamStatus 0) or answered 5xx, if its stale-if-error window
// allows (RFC 5861, Section 4), or else the route's stale_if_error (RFC
// 9111, Section 4.2.4) where the response allows that (see
// operatorStaleIfError). Cache-Status says which: detail=stale-if-error or
// detail=stale-on-error.
func (g *Gateway) serveStaleIfError(x *exchange, upstreamStatus int) bool {
	e := &x.ent
	age := freshness.CurrentAge(time.Duration(e.InitialAge), time.Unix(0, e.ResponseTime), g.now())
	staleness := age - time.Duration(e.TTL)
	detail := "stale-if-error"
	if e.SIE <= 0 || staleness > time.Duration(e.SIE) {
		if staleness > operatorStaleIfError(e, x.rt.staleIfError) {
			return false
		}
		detail = "stale-on-error"
	}
	x.rt.m.stale.Inc()
	x.rt.m.upstreamErrors.Inc()
	x.cs = appendCacheStatus(x.cs[:0], fwdStale, upstreamStatus, false, false, detail)
	return g.writeEntry(x, int64(age/time.Second), xcacheStale, x.cs)
}

// operatorStaleIfError is the route's stale_if_error window for e, or 0
// when e forbids serving it stale: must-revalidate, proxy-revalidate and
// s-maxage (RFC 9111, Sections 5.2.2.2, 5.2.2.8, 5.2.2.10: all three set
// FlagMustRevalidate) and no-cache (Section 5.2.2.4).
func operatorStaleIfError(e *entry.Entry, window time.Duration) time.Duration {
	if e.Flags.Has(entry.FlagMustRevalidate) || e.Flags.Has(entry.FlagNoCache) {
		return 0
	}
	return window
}

// buildCacheRequest builds the upstream request of a cacheable miss,
// revalidation or refresh: the client's validators and Range are left
// out, and a HEAD is sent as a GET, whose answer can be stored (RFC 9110,
// Section 9.3.2 lets a cache answer HEAD from a stored GET).
func (g *Gateway) buildCacheRequest(ctx *fasthttp.RequestCtx, rt *route, target []byte, out *fasthttp.Request) {
	g.buildUpstreamRequest(ctx, rt, target, true, out)
	if out.Header.IsHead() {
		out.Header.SetMethod(fasthttp.MethodGet)
	}
}

func addValidators(req *fasthttp.Request, e *entry.Entry) {
	if len(e.ETag) > 0 {
		req.Header.SetBytesV("If-None-Match", e.ETag)
	}
	if len(e.LastModified) > 0 {
		req.Header.SetBytesV("If-Modified-Since", e.LastModified)
	}
}
