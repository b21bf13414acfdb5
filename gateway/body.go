package gateway

import (
	"bytes"
	"errors"
	"io"

	"github.com/valyala/fasthttp"
)

// # Request bodies
//
// A request body is never buffered whole: the data-plane server streams
// them (fasthttp's StreamRequestBody), reading at most 8KiB ahead, and
// [Gateway.forward] sends the stream upstream with the client's framing (its
// Content-Length, or chunked). Without streaming, fasthttp allocates a
// request's whole declared Content-Length before reading it: two thousand
// connections each declaring 10MiB and sending nothing pinned 20GB.
//
// The limits, as the head arrives (headerReceived):
//
//   - GET, HEAD, DELETE, OPTIONS, TRACE, CONNECT and PURGE, whose bodies have
//     no defined meaning, may declare at most maxBodylessBody (64KiB, or
//     max_body_size if smaller); other methods at most max_body_size.
//   - A Content-Length over the limit is answered 413 at once, without
//     reading the body, and the connection is closed.
//   - A chunked body is counted as it is forwarded: past the limit, the
//     upstream request is aborted (its connection closed, so the upstream
//     never sees a complete request), and the client gets 413 and a closed
//     connection (a client still sending may see the close before the 413).
//   - A GET or HEAD body is never forwarded; fasthttp discards up to 256KiB
//     of it after the response, and closes the connection if there is more.

// maxBodylessBody bounds the body of a request whose method gives a body no
// meaning (GET, HEAD, DELETE, OPTIONS, TRACE, CONNECT, PURGE).
const maxBodylessBody = 64 << 10

// bodyLimit returns the largest body a request with method may carry.
func (g *Gateway) bodyLimit(method []byte) int {
	limit := int(g.cfg.Server.MaxBodySize)
	if limit <= 0 {
		limit = fasthttp.DefaultMaxRequestBodySize
	}
	switch string(method) {
	case fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodDelete, fasthttp.MethodOptions,
		fasthttp.MethodTrace, fasthttp.MethodConnect, "PURGE":
		return min(limit, maxBodylessBody)
	}
	return limit
}

// headerReceived runs as soon as a request head is read, before its body.
// A head declaring a body over its method's limit is made bodiless and
// Connection: close (and loses its Expect: 100-continue), so that fasthttp
// reads nothing more and calls
// serveData at once, which answers 413; the connection then closes with
// the body unread. It also gives the body read_timeout (the head had
// read_header_timeout).
func (g *Gateway) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if h.ContentLength() > g.bodyLimit(h.Method()) {
		refuseBody(h)
	}
	return fasthttp.RequestConfig{ReadTimeout: g.cfg.Server.ReadTimeout.D()}
}

// refuseBody makes a request head bodiless and Connection: close, and
// drops its Expect (no "100 Continue" for a body that is refused), so that
// fasthttp reads nothing past the head and the connection closes after
// the answer with the body unread. For HeaderReceived hooks.
func refuseBody(h *fasthttp.RequestHeader) {
	h.SetContentLength(0)
	h.SetConnectionClose()
	h.Del("Expect")
}

// serveData is the data plane's handler: it refuses what headerReceived
// marked, then hands the request to handle.
func (g *Gateway) serveData(ctx *fasthttp.RequestCtx) {
	// Only a Connection: close request can have been marked; its declared
	// length is read again from the raw head.
	if h := &ctx.Request.Header; h.ConnectionClose() && declaredLength(h) > int64(g.bodyLimit(h.Method())) {
		g.handleParseError(ctx, fasthttp.ErrBodyTooLarge)
		return
	}
	g.handle(ctx)
}

// declaredLength returns the Content-Length of the raw head h was parsed
// from, or -1 when it has none (or one that is not a number, which fasthttp
// refuses before this is called).
func declaredLength(h *fasthttp.RequestHeader) int64 {
	for raw := h.RawHeaders(); len(raw) > 0; {
		var line []byte
		line, raw, _ = bytes.Cut(raw, newline)
		colon := indexByte(line, ':')
		if colon != len("content-length") || !equalFold(line[:colon], "content-length") {
			continue
		}
		var n int64
		v := trimOWS(line[colon+1:])
		if len(v) > 0 && v[len(v)-1] == '\r' {
			v = trimOWS(v[:len(v)-1])
		}
		for _, c := range v {
			if c < '0' || c > '9' || n > (1<<62)/10 {
				return -1
			}
			n = n*10 + int64(c-'0')
		}
		return n
	}
	return -1
}

var newline = []byte{'\n'}

// setUpstreamBody makes the client's body out's body: the server's stream,
// read as the upstream request is written, with the client's framing.
func (g *Gateway) setUpstreamBody(ctx *fasthttp.RequestCtx, out *fasthttp.Request) {
	in := &ctx.Request
	stream := ctx.RequestBodyStream()
	if stream == nil {
		// No stream: the body was read whole (a server without
		// StreamRequestBody, as in-memory tests use), or there is none.
		out.SetBodyRaw(in.Body())
		return
	}
	out.SetBodyStream(&clientBody{r: stream, limit: int64(g.bodyLimit(in.Header.Method()))}, in.Header.ContentLength())
}

// clientBody is a client's request body read while it is sent upstream. It
// fails past limit (a chunked body; a Content-Length over it was refused
// with the head), and turns any failure into a *StatusError, so that
// upstreamPool.do tells a client's fault from the upstream's.
type clientBody struct {
	r     io.Reader
	n     int64
	limit int64
}

// errBodyTooLarge is a streamed body found over its limit.
var errBodyTooLarge = errors.New("gateway: request body over the limit")

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	switch {
	case b.n > b.limit:
		return n, &StatusError{Status: fasthttp.StatusRequestEntityTooLarge, Err: errBodyTooLarge}
	case err == nil || err == io.EOF: //nolint:errorlint // io.Reader returns io.EOF itself, unwrapped
		return n, err
	case isTimeout(err):
		return n, &StatusError{Status: fasthttp.StatusRequestTimeout, Err: err}
	default:
		return n, &StatusError{Status: fasthttp.StatusBadRequest, Err: err}
	}
}
