package gateway

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/freshness"
	"github.com/flowcache/flowcache/policy"
)

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
