package gateway

import (
	"errors"

	"github.com/valyala/fasthttp"
)

// forward proxies a request the cache does not take part in (a bypassing
// policy, a no_cache route, an unsafe method): the request goes upstream
// as received (minus hop-by-hop and override fields), the response comes
// back streamed, nothing is stored. A successful unsafe method invalidates
// what it may have changed (RFC 9111, Section 4.4).
func (g *Gateway) forward(ctx *fasthttp.RequestCtx, rt *route, fwd string) {
	// Policy bypasses are counted by the caller.
	if fwd == fwdMethod || rt.cfg.NoCache {
		rt.m.bypass.Inc()
	}
	g.proxy(ctx, rt, originForm(ctx), fwd, xcacheBypass, "")
}

// forwardRange forwards a cacheable GET with a Range whose representation
// is larger than cache.max_object_size: Range, If-Range and the client's
// other conditionals go upstream, the answer (a 206, usually) is streamed
// back, and nothing is stored (RFC 9111, Section 3.3 lets a cache store
// partial content; this one stores whole representations only).
func (g *Gateway) forwardRange(x *exchange) {
	g.proxy(x.ctx, x.rt, x.key.Target, x.fwd, xcacheMiss, "too-large")
}

// proxy sends the client's request to target upstream and streams the
// answer back, with X-Cache xcache and a Cache-Status of fwd and detail.
func (g *Gateway) proxy(ctx *fasthttp.RequestCtx, rt *route, target []byte, fwd, xcache, detail string) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	resp.StreamBody = true
	g.buildUpstreamRequest(ctx, rt, target, false, req)
	err := rt.upstream.do(ctx, req, resp, rt.m.upstreamLatency)
	fasthttp.ReleaseRequest(req)
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		g.writeError(ctx, rt, fwd, err)
		if se := (*StatusError)(nil); errors.As(err, &se) {
			// The client's body failed midway (clientBody): what is left
			// of it cannot be told from a next request.
			ctx.SetConnectionClose()
		}
		return
	}
	status := resp.StatusCode()
	if fwd == fwdMethod && status >= 200 && status < 400 && isUnsafe(ctx.Method()) {
		g.invalidateAfter(ctx, rt, resp)
	}
	out := &ctx.Response
	g.dates.startWithDate(&out.Header, peekResponse(&resp.Header, "date"), g.now())
	out.SetStatusCode(status)
	copyResponseHeaders(out, resp, false)
	setCacheHeaders(ctx, xcache, appendCacheStatus(make([]byte, 0, 64), fwd, status, false, false, detail))
	cl := resp.Header.ContentLength()
	if stream := resp.BodyStream(); stream != nil && !resp.SkipBody &&
		status != fasthttp.StatusNoContent && status != fasthttp.StatusNotModified {
		out.SetBodyStream(&upstreamBody{r: stream, resp: resp, cl: cl}, cl)
		return
	}
	if resp.SkipBody && cl >= 0 {
		out.Header.SetContentLength(cl)
	}
	closeUpstream(resp)
}

// originForm returns the request target in origin form ("/path?query"),
// also for a client that sent the absolute form.
func originForm(ctx *fasthttp.RequestCtx) []byte {
	uri := ctx.Request.URI()
	path, query := uri.PathOriginal(), uri.QueryString()
	t := make([]byte, 0, len(path)+1+len(query))
	t = append(t, path...)
	if len(query) > 0 {
		t = append(t, '?')
		t = append(t, query...)
	}
	return t
}

// isUnsafe reports the methods whose success invalidates: every method not
// known to be safe (RFC 9111, Section 4.4; RFC 9110, Section 9.2.1), so
// that PROPFIND, M-SEARCH or a custom method invalidates like POST. GET and
// HEAD never come here; PURGE is handled before.
func isUnsafe(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return false
	}
	return true
}

func cacheStatusForward(fwd string, status int) []byte {
	return appendCacheStatus(make([]byte, 0, 48), fwd, status, false, false, "")
}
