package gateway

import (
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/entry"
	"github.com/flowcache/flowcache/gateway/internal/freshness"
	"github.com/flowcache/flowcache/policy"
)

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
	old := x.ent // aliases x.held, which nothing below overwrites
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
		// Stored whole: a body L1 holds in chunks is put together first
		// (L2 takes it whole), and L1 keeps its chunks.
		var reuse l1Chunks
		whole := true
		if ne.Flags.Has(entry.FlagBodyChunked) {
			reuse = l1Chunks{id: x.gen, first: len(ne.Body)}
			x.rbuf = append(x.rbuf[:0], ne.Body...)
			whole = x.forEachStoredChunk(&ne, func(c []byte) { x.rbuf = append(x.rbuf, c...) })
			ne.Body, ne.Flags = x.rbuf, ne.Flags&^entry.FlagBodyChunked
		}
		if whole {
			stored = g.putEntry(x, &ne, x.ekey, reuse).any()
			g.dropEvicted()
		} else {
			ne = old // a chunk is gone: not stored, and the answer fails as it would have
		}
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
	x.buf = append(x.buf[:0], src.held...)
	x.found, x.held, x.large = false, nil, false
	if _, _, _, payload, ok := parseRecordHead(x.buf); ok && entry.Decode(payload, &x.ent) == nil {
		x.found, x.held = true, x.buf
	}
}
