package gateway

import (
	"bytes"
	"errors"
	"hash/maphash"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/entry"
	"github.com/flowcache/flowcache/gateway/internal/freshness"
	"github.com/flowcache/flowcache/policy"
)

// fetchMode says why the gateway goes upstream for a cacheable request.
type fetchMode uint8

const (
	modeMiss       fetchMode = iota // nothing usable stored: fetch, store if allowed
	modeRevalidate                  // x.ent is stale: conditional request with its validators
)

// revalidateKeep is how long past its stale windows an entry with
// validators is kept, so that it can be revalidated with a 304 instead of
// fetched again.
const revalidateKeep = time.Hour

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
			if g.serveIfFresh(x, true) {
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
	// lookup and our join may have stored what we need.
	if g.serveIfFresh(x, false) {
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

// serveIfFresh looks the request up again and answers it if a fresh
// response is stored now. If not, x.found says whether a (stale) entry was
// found, for revalidation and stale-if-error.
//
// A waiter (collapsed) also takes an entry the origin answered after its
// own request arrived (x.now, set at arrival): that answer is as new as the
// one its own fetch would bring, so it satisfies a request no-cache or
// max-age=0 (and a response no-cache) without a fetch per waiter.
func (g *Gateway) serveIfFresh(x *exchange, collapsed bool) bool {
	fwd := x.fwd
	arrived := x.now
	x.now = g.now()
	g.lookup(x)
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

// refreshed handles a 304 to a revalidation: the entry is refreshed (see
// refreshEntry) and the client answered from it.
func (g *Gateway) refreshed(x *exchange, resp *fasthttp.Response, reqTime, respTime time.Time) {
	x.rt.m.revalidated.Inc()
	stored := g.refreshEntry(x, resp, reqTime, respTime)
	age := freshness.CurrentAge(time.Duration(x.ent.InitialAge), respTime, g.now())
	x.cs = appendCacheStatus(x.cs[:0], x.fwd, fasthttp.StatusNotModified, stored, false, "")
	if !g.writeEntry(x, int64(age/time.Second), xcacheRevalidated, x.cs) {
		g.writeError(x.ctx, x.rt, x.fwd, &StatusError{Status: fasthttp.StatusBadGateway, Err: errors.New("gateway: body chunk lost during revalidation")})
	}
}

// refreshEntry updates the stored header fields of x.ent with those of a
// 304 (RFC 9111, Section 4.3.4), lets the policies decide again, and
// stores the entry anew with the same body. x.ent is replaced by the
// refreshed entry.
func (g *Gateway) refreshEntry(x *exchange, resp *fasthttp.Response, reqTime, respTime time.Time) bool {
	old := x.ent // aliases x.buf, which nothing below overwrites
	conn := peekResponse(&resp.Header, "connection")
	x.hdr = x.hdr[:0]
	for name, value, rest, ok := entry.NextHeader(old.Header); ok; name, value, rest, ok = entry.NextHeader(rest) {
		if hasResponseField(&resp.Header, name) && !equalFold(name, "content-length") {
			continue
		}
		x.hdr = entry.AppendHeader(x.hdr, name, value)
	}
	for k, v := range resp.Header.All() {
		if isHopByHop(k) || (len(conn) > 0 && inConnection(conn, k)) || equalFold(k, "content-length") ||
			equalFold(k, "content-type") && len(v) == 0 {
			continue
		}
		x.hdr = entry.AppendHeader(x.hdr, k, v)
	}
	x.resp.Reset()
	x.resp.Status = old.Status
	x.resp.BodySize = old.BodyLen
	x.resp.Now = respTime
	for name, value, rest, ok := entry.NextHeader(x.hdr); ok; name, value, rest, ok = entry.NextHeader(rest) {
		x.resp.Headers = append(x.resp.Headers, policy.Header{Name: name, Value: value})
	}
	g.decide(x)
	ne := old
	ne.Header = x.hdr
	ne.RequestTime, ne.ResponseTime = reqTime.UnixNano(), respTime.UnixNano()
	ne.InitialAge = int64(freshness.CorrectedInitialAge(peekResponse(&resp.Header, "age"), peekResponse(&resp.Header, "date"), reqTime, respTime))
	ne.TTL, ne.SWR, ne.SIE = int64(x.dec.TTL), int64(x.dec.StaleWhileRevalidate), int64(x.dec.StaleIfError)
	ne.Flags &^= entry.FlagMustRevalidate | entry.FlagNoCache | entry.FlagInvalidated
	if x.dec.MustRevalidate {
		ne.Flags |= entry.FlagMustRevalidate
	}
	if x.dec.NoCache {
		ne.Flags |= entry.FlagNoCache
	}
	if etag := x.resp.Headers.Get("etag"); etag != nil {
		ne.ETag = etag
	}
	if lm := x.resp.Headers.Get("last-modified"); lm != nil {
		ne.LastModified = lm
	}
	stored := false
	if x.dec.Store {
		stored = g.putEntry(x, &ne, x.ekey, x.gen)
		g.dropEvicted()
	}
	x.ent = ne
	return stored
}

// refreshInBackground starts the one background refresh of a stale entry
// served under stale-while-revalidate (RFC 5861, Section 3); if one is
// already running for this entry it does nothing.
func (g *Gateway) refreshInBackground(x *exchange) {
	if g.closing.Load() {
		return
	}
	x.fkey = append(append(x.fkey[:0], x.ekey...), 0, 'r')
	f, leader := g.flights.join(x.fkey)
	if !leader {
		return
	}
	bx := acquireExchange(g, nil, x.rt)
	bx.copyFrom(x)
	req := fasthttp.AcquireRequest()
	g.buildCacheRequest(x.ctx, x.rt, x.key.Target, req)
	addValidators(req, &x.ent)
	g.gm.refresh.Inc()
	g.bg.Add(1)
	go g.backgroundRefresh(bx, req, f)
}

func (g *Gateway) backgroundRefresh(x *exchange, req *fasthttp.Request, f *flight) {
	defer g.bg.Done()
	defer releaseExchange(x)
	defer g.flights.finish(x.fkey, f)
	resp := fasthttp.AcquireResponse()
	resp.StreamBody = true
	x.l2seq, x.l1seq = g.l2.Seq(), g.inv.log.current()
	reqTime := g.now()
	err := x.rt.upstream.do(nil, req, resp, x.rt.m.upstreamLatency)
	fasthttp.ReleaseRequest(req)
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		x.rt.m.upstreamErrors.Inc()
		g.log.LogAttrs(g.bgCtx, warnLevel, "background_refresh_failed", routeAttr(x.rt), errAttr(err))
		return
	}
	defer closeUpstream(resp)
	respTime := g.now()
	switch status := resp.StatusCode(); {
	case status == fasthttp.StatusNotModified:
		x.rt.m.revalidated.Inc()
		g.refreshEntry(x, resp, reqTime, respTime)
	case status >= 500:
		x.rt.m.upstreamErrors.Inc() // keep serving the stale entry
	default:
		x.loadResponse(resp, respTime)
		g.decide(x)
		if !x.dec.Store || resp.BodyStream() == nil {
			return
		}
		maxObj := int(g.cfg.Cache.MaxObjectSize)
		cl := resp.Header.ContentLength()
		if cl > maxObj {
			return
		}
		body, complete, err := readBounded(resp, x.body[:0], cl, maxObj)
		x.body = body
		if err != nil || !complete {
			return
		}
		g.store(x, resp, body, reqTime, respTime)
	}
}

// copyFrom makes x an owned copy of the state of src a background refresh
// needs after src's request has been answered: the request view, the key,
// and the stale entry.
func (x *exchange) copyFrom(src *exchange) {
	n := len(src.req.Method) + len(src.req.Scheme) + len(src.req.Host) + len(src.req.Path) + len(src.req.Query)
	for _, h := range src.req.Headers {
		n += len(h.Name) + len(h.Value)
	}
	n += len(src.key.Host) + len(src.key.Target) + len(src.key.Variant)
	if cap(x.arena) < n {
		x.arena = make([]byte, 0, n)
	}
	cp := func(b []byte) []byte {
		start := len(x.arena)
		x.arena = append(x.arena, b...)
		return x.arena[start:len(x.arena):len(x.arena)]
	}
	x.req.Method, x.req.Scheme, x.req.Host = cp(src.req.Method), cp(src.req.Scheme), cp(src.req.Host)
	x.req.Path, x.req.Query, x.req.Route = cp(src.req.Path), cp(src.req.Query), src.req.Route
	x.req.Headers = x.req.Headers[:0]
	for _, h := range src.req.Headers {
		x.req.Headers = append(x.req.Headers, policy.Header{Name: cp(h.Name), Value: cp(h.Value)})
	}
	x.key.Bypass = false
	x.key.Host, x.key.Target, x.key.Variant = cp(src.key.Host), cp(src.key.Target), cp(src.key.Variant)
	x.pol, x.reqCC, x.fwd, x.gen = src.pol, src.reqCC, fwdStale, src.gen
	if l, ok := x.pol.(PolicyLease); ok {
		l.Retain() // released with x, after the refresh
	}
	x.space = append(x.space[:0], src.space...)
	x.pkey = append(x.pkey[:0], src.pkey...)
	x.ekey = append(x.ekey[:0], src.ekey...)
	x.fkey = append(x.fkey[:0], src.fkey...)
	x.names = append(x.names[:0], src.names...)
	x.material = append(x.material[:0], src.material...)
	x.buf = append(x.buf[:0], src.buf...)
	x.found = false
	if _, _, _, payload, ok := parseRecordHead(x.buf); ok && entry.Decode(payload, &x.ent) == nil {
		x.found = true
	}
}

// decide runs policy.Default's Decide, then the route's policy's (which
// may override it), and applies what no policy may override: a request
// no-store, Vary: *, a 206 or 304 status.
func (g *Gateway) decide(x *exchange) {
	x.dec.Reset()
	if err := x.rt.def.Decide(&x.req, &x.resp, &x.dec); err != nil {
		x.dec.Store = false
		return
	}
	if x.pol != nil && x.pol != policy.Policy(&x.rt.def) {
		saved := x.dec
		if err := x.pol.Decide(&x.req, &x.resp, &x.dec); err != nil {
			x.rt.m.policyFallbacks.Inc()
			x.dec = saved
		}
	}
	if x.reqCC.NoStore || x.dec.TTL < 0 || !storableStatus(x.resp.Status) {
		x.dec.Store = false
	}
	for i := range x.resp.Headers {
		if equalFold(x.resp.Headers[i].Name, "vary") && containsToken(x.resp.Headers[i].Value, "*") {
			x.dec.Store = false
		}
	}
}

// storableStatus reports whether a response with status may be stored
// whatever a policy decides: a 206 holds part of a representation and a
// 304 none of it, so neither can answer a later request on its own.
func storableStatus(status int) bool {
	return status != fasthttp.StatusPartialContent && status != fasthttp.StatusNotModified
}

// loadResponse fills the policy's view of an upstream response (hop-by-hop
// fields removed). The slices alias resp.
func (x *exchange) loadResponse(resp *fasthttp.Response, now time.Time) {
	x.resp.Reset()
	x.resp.Status = resp.StatusCode()
	x.resp.Now = now
	x.resp.BodySize = int64(resp.Header.ContentLength())
	if x.resp.BodySize < 0 {
		x.resp.BodySize = -1
	}
	conn := peekResponse(&resp.Header, "connection")
	for k, v := range resp.Header.All() {
		if isHopByHop(k) || (len(conn) > 0 && inConnection(conn, k)) {
			continue
		}
		x.resp.Headers = append(x.resp.Headers, policy.Header{Name: k, Value: v})
	}
}

// respond answers the client with an upstream response, storing it when
// the policies allow and its body is at most cache.max_object_size. A
// larger body is streamed, never buffered whole.
func (g *Gateway) respond(x *exchange, resp *fasthttp.Response, reqTime, respTime time.Time, collapsed bool) {
	ctx := x.ctx
	x.loadResponse(resp, respTime)
	g.decide(x)
	storable := x.dec.Store
	maxObj := int(g.cfg.Cache.MaxObjectSize)
	cl := resp.Header.ContentLength()
	stream := resp.BodyStream()
	complete := true
	switch {
	case resp.SkipBody || stream == nil || resp.StatusCode() == fasthttp.StatusNoContent ||
		resp.StatusCode() == fasthttp.StatusNotModified:
		x.body = x.body[:0]
	case cl > maxObj:
		complete = false
	default:
		var err error
		x.body, complete, err = readBounded(resp, x.body[:0], cl, maxObj)
		if err != nil {
			closeUpstream(resp)
			g.writeError(ctx, x.rt, x.fwd, &upstreamError{target: "body", err: err})
			return
		}
	}
	if !complete && x.rangeHdr != nil && ctx.IsGet() && resp.StatusCode() == fasthttp.StatusOK {
		// Too large to store: the range is the upstream's to answer.
		closeUpstream(resp)
		g.forwardRange(x)
		return
	}
	stored := false
	if storable && complete {
		stored = g.store(x, resp, x.body, reqTime, respTime)
	}
	// Headers to the client.
	out := &ctx.Response
	status := resp.StatusCode()
	notModified := complete && status == fasthttp.StatusOK && x.conditional() &&
		freshness.NotModified(x.req.Headers, peekResponse(&resp.Header, "etag"), peekResponse(&resp.Header, "last-modified"))
	rng := rangeIgnore
	if complete && !notModified && status == fasthttp.StatusOK {
		rng = x.rangesFor(int64(len(x.body)), peekResponse(&resp.Header, "etag"), peekResponse(&resp.Header, "last-modified"))
	}
	g.dates.startWithDate(&out.Header, peekResponse(&resp.Header, "date"), respTime)
	if notModified {
		out.SetStatusCode(fasthttp.StatusNotModified)
	} else {
		out.SetStatusCode(status)
	}
	copyResponseHeaders(out, resp, notModified)
	x.cs = appendCacheStatus(x.cs[:0], x.fwd, status, stored, collapsed, detailFor(complete))
	setCacheHeaders(ctx, xcacheMiss, x.cs)
	x.setPolicyHeader()
	switch {
	case notModified:
		closeUpstream(resp)
		out.SkipBody = true
	case ctx.IsHead():
		// Fetched with a GET: the HEAD gets its head only, with the
		// length the GET's body has (RFC 9110, Section 9.3.2).
		closeUpstream(resp)
		out.SkipBody = true
		switch {
		case complete:
			out.Header.SetContentLength(len(x.body))
		case cl >= 0:
			out.Header.SetContentLength(cl)
		default:
			out.Header.SetContentLength(-1) // chunked, like the GET
		}
	case rng == rangeUnsatisfiable:
		closeUpstream(resp)
		x.setUnsatisfiable(out, int64(len(x.body)))
	case rng == rangeOK:
		x.writeRanges(out, x.body, peekResponse(&resp.Header, "content-type"))
		closeUpstream(resp)
	case !complete:
		prefix := bytes.Clone(x.body)
		out.SetBodyStream(&upstreamBody{r: io.MultiReader(bytes.NewReader(prefix), stream), resp: resp, cl: cl}, cl)
	case resp.SkipBody:
		out.Header.SetContentLength(cl)
		closeUpstream(resp)
	default:
		out.SetBody(x.body)
		closeUpstream(resp)
	}
}

func detailFor(complete bool) string {
	if complete {
		return ""
	}
	return "too-large"
}

// copyResponseHeaders copies an upstream response's end-to-end fields to
// the client's response (only the 304 fields when notModified).
func copyResponseHeaders(out *fasthttp.Response, resp *fasthttp.Response, notModified bool) {
	conn := peekResponse(&resp.Header, "connection")
	for k, v := range resp.Header.All() {
		if droppedResponseHeader(k, conn) || equalFold(k, "content-length") ||
			(notModified && !notModifiedHeader(k)) {
			continue
		}
		if equalFold(k, "content-type") && len(v) == 0 {
			continue
		}
		out.Header.AddBytesKV(k, v)
	}
}

// readBounded reads the body of resp into dst: exactly cl bytes when cl >= 0
// (cl <= limit), else until its end or more than limit bytes (complete =
// false; dst then holds what was read). A chunked body cut short by the
// upstream is an error, never a complete body (see upstreamCut).
func readBounded(resp *fasthttp.Response, dst []byte, cl, limit int) (body []byte, complete bool, err error) {
	r := resp.BodyStream()
	if cl >= 0 {
		if cap(dst) < cl {
			dst = make([]byte, 0, cl)
		}
		dst = dst[:cl]
		if _, err := io.ReadFull(r, dst); err != nil {
			return dst[:0], false, err
		}
		return dst, true, nil
	}
	for {
		if len(dst) == cap(dst) {
			if len(dst) > limit {
				return dst, false, nil
			}
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if errors.Is(err, io.EOF) {
			if upstreamCut(resp, cl, int64(len(dst))) {
				return dst, false, io.ErrUnexpectedEOF
			}
			return dst, len(dst) <= limit, nil
		}
		if err != nil {
			return dst, false, err
		}
		if len(dst) > limit {
			return dst, false, nil
		}
	}
}

// upstreamBody streams an upstream body to the client and releases the
// upstream response (and its connection) when fasthttp closes it. A body
// the upstream cut short ends with io.ErrUnexpectedEOF, not io.EOF, so that
// fasthttp closes the client connection instead of ending the response as
// if it were whole (a chunked response would otherwise get its last chunk).
type upstreamBody struct {
	r    io.Reader
	resp *fasthttp.Response
	cl   int   // the upstream's Content-Length, or -1 (chunked) / -2 (until close)
	n    int64 // bytes read so far
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if errors.Is(err, io.EOF) && upstreamCut(b.resp, b.cl, b.n) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Close releases the upstream response; later calls do nothing.
func (b *upstreamBody) Close() error {
	if b.resp == nil {
		return nil
	}
	err := b.resp.CloseBodyStream()
	fasthttp.ReleaseResponse(b.resp)
	b.resp = nil
	return err
}

func closeUpstream(resp *fasthttp.Response) {
	// The body was read whole or is not wanted; CloseBodyStream returns
	// the connection to the pool or closes it, nothing to report here.
	_ = resp.CloseBodyStream()
	fasthttp.ReleaseResponse(resp)
}

// store builds the entry for the complete response resp with body and
// writes it (and its variant record) to the tiers the decision allows.
func (g *Gateway) store(x *exchange, resp *fasthttp.Response, body []byte, reqTime, respTime time.Time) bool {
	// Vary names, lower-cased, comma-joined.
	x.names = x.names[:0]
	for i := range x.resp.Headers {
		h := &x.resp.Headers[i]
		if !equalFold(h.Name, "vary") {
			continue
		}
		for v := h.Value; len(v) > 0; {
			var item []byte
			if j := indexByte(v, ','); j >= 0 {
				item, v = v[:j], v[j+1:]
			} else {
				item, v = v, nil
			}
			if item = trimOWS(item); len(item) > 0 {
				if len(x.names) > 0 {
					x.names = append(x.names, ',')
				}
				x.names = appendLower(x.names, item)
			}
		}
	}
	x.hdr = x.hdr[:0]
	for i := range x.resp.Headers {
		h := &x.resp.Headers[i]
		if equalFold(h.Name, "age") || equalFold(h.Name, "set-cookie") || equalFold(h.Name, "content-length") {
			continue
		}
		x.hdr = entry.AppendHeader(x.hdr, h.Name, h.Value)
	}
	e := entry.Entry{
		Status:       x.resp.Status,
		RequestTime:  reqTime.UnixNano(),
		ResponseTime: respTime.UnixNano(),
		InitialAge:   int64(freshness.CorrectedInitialAge(peekResponse(&resp.Header, "age"), peekResponse(&resp.Header, "date"), reqTime, respTime)),
		TTL:          int64(x.dec.TTL),
		SWR:          int64(x.dec.StaleWhileRevalidate),
		SIE:          int64(x.dec.StaleIfError),
		ETag:         peekResponse(&resp.Header, "etag"),
		LastModified: peekResponse(&resp.Header, "last-modified"),
		Tags:         peekResponse(&resp.Header, "surrogate-key"),
		Header:       x.hdr,
		Body:         body,
		BodyLen:      int64(len(body)),
	}
	if x.dec.MustRevalidate {
		e.Flags |= entry.FlagMustRevalidate
	}
	if x.dec.NoCache {
		e.Flags |= entry.FlagNoCache
	}
	defer g.dropEvicted() // what the L1 index evicted for this entry; no record lock held then
	if len(x.names) == 0 && len(x.key.Variant) == 0 {
		x.ekey = append(x.ekey[:0], x.pkey...)
		return g.putEntry(x, &e, x.ekey, 0)
	}
	x.material = appendMaterial(x.material[:0], x.key.Variant, x.names, x.req.Headers)
	if len(x.names) > maxVaryLen || len(x.material) > maxVaryLen {
		return false // lengths are 16-bit in the record; such variants are not worth keeping
	}
	return g.putVariant(x, &e)
}

// maxVaryLen bounds the Vary names and the variant material of a stored
// variant.
const maxVaryLen = 8 << 10

// keepFor is how long an entry stays in the cache tiers: its freshness
// lifetime and stale windows (the route's stale_if_error, sie, included
// when e allows it) from now, plus revalidateKeep when it has validators;
// <= 0 means not worth storing.
func keepFor(e *entry.Entry, now time.Time, sie time.Duration) time.Duration {
	age := freshness.CurrentAge(time.Duration(e.InitialAge), time.Unix(0, e.ResponseTime), now)
	keep := time.Duration(e.TTL+max(e.SWR, e.SIE, int64(operatorStaleIfError(e, sie)))) - age
	if len(e.ETag) > 0 || len(e.LastModified) > 0 {
		keep = max(keep, 0) + revalidateKeep
	}
	return keep
}

// putEntry encodes e under key (chunking the body when it does not fit one
// freecache entry) into the tiers of x.dec. id is the chunk id to reuse
// (a refreshed entry keeps its chunks), 0 for a new one.
func (g *Gateway) putEntry(x *exchange, e *entry.Entry, key []byte, id uint64) bool {
	keep := keepFor(e, g.now(), x.rt.staleIfError)
	if keep <= 0 {
		return false
	}
	toL1 := x.dec.Admit && x.dec.Tier != policy.TierL2
	toL2 := x.dec.Tier != policy.TierL1 && g.l2.Enabled()
	if toL1 && g.inv.log.overtaken(x.l1seq, x.key.Host, x.key.Target) {
		// An invalidation of this URL was applied since the upstream
		// request: what it brought may be what was purged (see invalLog).
		toL1 = false
	}
	if toL1 && !g.indexL1(x, e.Tags) {
		// Indexed before it is written, so that a tag or prefix purge
		// never misses an entry L1 holds; too large to index: not in L1.
		toL1 = false
	}
	if !toL1 && !toL2 {
		return false
	}
	var flags byte
	if x.dec.Admit {
		flags = recAdmitL1
	}
	meta := entry.HeadSize + len(e.ETag) + len(e.LastModified) + len(e.Tags) + len(e.Header)
	full := e.Body
	if e.Flags.Has(entry.FlagBodyChunked) && id != 0 {
		// A refresh of a chunked entry: same chunks, longer life, in both
		// tiers (an L2 head outliving its chunks would read as a miss).
		for i, have := 0, int64(len(e.Body)); have < e.BodyLen; i++ {
			x.ckey = appendChunkKey(x.ckey[:0], key, id, i)
			if toL1 {
				g.l1.touch(x.ckey, keep)
			}
			if toL2 {
				g.l2.Touch(x.ckey, keep, g.l2IndexOf(x, e.Tags))
			}
			have += int64(g.l1.maxKV - len(x.ckey))
		}
	} else if !g.l1.fits(key, recHeadSize+meta+len(full)) {
		first := g.l1.maxKV - len(key) - recHeadSize - meta
		if first < 0 {
			return false // the head alone is too large
		}
		id = rand.Uint64() | 1 //nolint:gosec // an id must be distinct, not secret
		e.Flags |= entry.FlagBodyChunked
		e.Body = full[:first]
		rest := full[first:]
		for i := 0; len(rest) > 0; i++ {
			x.ckey = appendChunkKey(x.ckey[:0], key, id, i)
			n := min(len(rest), g.l1.maxKV-len(x.ckey))
			if toL1 && !g.l1.set(x.ckey, rest[:n], keep) {
				return false
			}
			if toL2 {
				g.l2Set(x, x.ckey, rest[:n], keep, e.Tags)
			}
			rest = rest[n:]
		}
	}
	x.enc = appendRecordHead(x.enc[:0], kindEntry, flags, id)
	x.enc = e.AppendEncode(x.enc)
	ok := true
	if toL1 {
		ok = g.l1.set(key, x.enc, keep)
	}
	if toL2 {
		g.l2Set(x, key, x.enc, keep, e.Tags)
	}
	if ok {
		x.rt.m.stored.Inc()
	}
	return ok
}

// l2Set writes a record of x's URL to L2, indexed for purge.
func (g *Gateway) l2Set(x *exchange, key, value []byte, ttl time.Duration, tags []byte) {
	g.l2.Set(key, value, ttl, g.l2IndexOf(x, tags))
}

// l2IndexOf is the purge index of a record of x's URL.
func (g *Gateway) l2IndexOf(x *exchange, tags []byte) *l2Index {
	return &l2Index{Tags: tags, Host: x.key.Host, Path: x.key.Target, Seq: x.l2seq}
}

// putVariant stores e as the variant x.material of the URL x.pkey and
// records it in the URL's variant record. Record updates are serialised
// per URL (recordLocks), so that two variants stored at once are both
// listed and PURGE finds them.
func (g *Gateway) putVariant(x *exchange, e *entry.Entry) bool {
	mu := g.records.lock(x.pkey)
	mu.Lock()
	defer mu.Unlock()
	var old variantRecord
	gen := uint64(0)
	if v, ok := g.tierGet(x.pkey, x.rec); ok {
		x.rec = v
		if kind, _, id, payload, ok := parseRecordHead(v); ok && kind == kindVariants {
			if r, ok := parseVariantRecord(payload); ok && bytes.Equal(r.names, x.names) && r.n < maxVariants {
				old, gen = r, id
			}
		}
	}
	if gen == 0 {
		gen = rand.Uint64() | 1 //nolint:gosec // a generation must be distinct, not secret
		old = variantRecord{}
	}
	x.ekey = appendVariantKey(x.ekey[:0], x.pkey, gen, x.material)
	if !g.putEntry(x, e, x.ekey, 0) {
		return false
	}
	extra := x.material
	if old.has(x.material) {
		extra = nil
	}
	var flags byte
	if x.dec.Admit {
		flags = recAdmitL1
	}
	rec := appendRecordHead(x.hdr[len(x.hdr):], kindVariants, flags, gen) // x.hdr's spare capacity; e no longer needed
	rec = appendVariantRecord(rec, x.names, old, extra)
	keep := max(keepFor(e, g.now(), x.rt.staleIfError), revalidateKeep)
	if x.dec.Tier != policy.TierL2 {
		g.l1.set(x.pkey, rec, keep)
	}
	if x.dec.Tier != policy.TierL1 && g.l2.Enabled() {
		g.l2Set(x, x.pkey, rec, keep, nil)
	}
	return true
}

// recordLocks serialise variant record updates per URL (striped).
type recordLocks struct {
	seed maphash.Seed
	mu   [64]sync.Mutex
}

func (r *recordLocks) lock(pkey []byte) *sync.Mutex {
	return &r.mu[maphash.Bytes(r.seed, pkey)%uint64(len(r.mu))]
}
