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
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	resp.StreamBody = true
	g.buildUpstreamRequest(ctx, rt, originForm(ctx), false, req)
	err := rt.upstream.do(req, resp, rt.m.upstreamLatency)
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
	startWithDate(&out.Header, peekResponse(&resp.Header, "date"), g.now())
	out.SetStatusCode(status)
	copyResponseHeaders(out, resp, false)
	setCacheHeaders(ctx, xcacheBypass, cacheStatusForward(fwd, status))
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

func cacheStatusForward(fwd string, status int) []byte {
	return appendCacheStatus(make([]byte, 0, 48), fwd, status, false, false, "")
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
