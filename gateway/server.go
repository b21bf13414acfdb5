package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/entry"
	"github.com/flowcache/flowcache/internal/httplex"
	"github.com/flowcache/flowcache/policy"
	"github.com/flowcache/flowcache/policy/cachecontrol"
)

const (
	warnLevel  = slog.LevelWarn
	errorLevel = slog.LevelError
)

// newDataServer configures the fasthttp server of the data plane with the
// limits of [server]: the read deadline of a request head is
// read_header_timeout (the body gets read_timeout once the head is in),
// heads over max_header_size get 431, bodies over their method's limit 413
// (see headerReceived), at most max_conns connections are served (one more
// gets 503 and is closed), and request bodies are streamed, never read whole.
func (g *Gateway) newDataServer() *fasthttp.Server {
	sc := &g.cfg.Server
	return &fasthttp.Server{
		Handler:                       g.serveData,
		HeaderReceived:                g.headerReceived,
		ErrorHandler:                  g.handleParseError,
		Name:                          "flowcache",
		ReadBufferSize:                int(sc.MaxHeaderSize),
		ReadTimeout:                   sc.ReadHeaderTimeout.D(),
		WriteTimeout:                  sc.WriteTimeout.D(),
		IdleTimeout:                   sc.IdleTimeout.D(),
		MaxRequestBodySize:            int(sc.MaxBodySize),
		StreamRequestBody:             true,
		Concurrency:                   sc.MaxConns,
		DisablePreParseMultipartForm:  true,
		DisableHeaderNamesNormalizing: true,
		NoDefaultContentType:          true,
		CloseOnShutdown:               true,
		SecureErrorLogMessage:         true,
		Logger:                        slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
		// Date is the origin's on a cached or forwarded answer (RFC 9110,
		// Section 6.6.1); the gateway sets its own only where it makes
		// the answer or the origin sent none (see dateHeads).
		NoDefaultDate: true,
	}
}

// handleParseError answers a request fasthttp could not read: 431 for a
// head over the limit, 413 for a body over the limit, 408 for a read
// timeout, 400 for anything else (bad framing, bad field, bad chunk). The
// connection is closed.
func (g *Gateway) handleParseError(ctx *fasthttp.RequestCtx, err error) {
	g.gm.rejected.Inc()
	status := fasthttp.StatusBadRequest
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &small):
		status = fasthttp.StatusRequestHeaderFieldsTooLarge
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status = fasthttp.StatusRequestEntityTooLarge
	case isTimeout(err):
		status = fasthttp.StatusRequestTimeout
	}
	g.writeError(ctx, nil, fwdBypass, &StatusError{Status: status, Err: err})
	ctx.SetConnectionClose()
}

// handle is the data plane's request handler: it recovers panics (fasthttp
// does not), checks framing, validates and normalises host and path
// (canonicalRequest), routes, and dispatches by method.
func (g *Gateway) handle(ctx *fasthttp.RequestCtx) {
	defer func() {
		if p := recover(); p != nil {
			g.gm.panics.Inc()
			g.log.LogAttrs(context.Background(), errorLevel, "handler_panic",
				slog.String("panic", fmt.Sprint(p)), slog.String("uri", string(ctx.RequestURI())))
			g.writeError(ctx, nil, fwdMiss, &StatusError{Status: fasthttp.StatusInternalServerError, Err: errPanic})
			ctx.SetConnectionClose()
		}
	}()
	g.dates.capture(&ctx.Response.Header)
	if err := checkFraming(&ctx.Request.Header); err != nil {
		g.gm.rejected.Inc()
		g.writeError(ctx, nil, fwdBypass, &StatusError{Status: fasthttp.StatusBadRequest, Err: err})
		ctx.SetConnectionClose() // after writeError, which resets the response
		return
	}
	// Route, key and upstream request all read the normal host and path.
	if err := canonicalRequest(&ctx.Request); err != nil {
		g.gm.rejected.Inc()
		g.writeError(ctx, nil, fwdBypass, &StatusError{Status: fasthttp.StatusBadRequest, Err: err})
		return
	}
	rt := g.st.Load().router.matchNormal(ctx.Request.Header.Host(), ctx.Request.URI().PathOriginal())
	if rt == nil {
		g.noRoute.requests.Inc()
		g.writeError(ctx, nil, fwdBypass, errNoRoute)
		g.observe(ctx, nil)
		return
	}
	rt.m.requests.Inc()
	h := &ctx.Request.Header
	switch {
	case h.IsGet() || h.IsHead():
		if rt.cfg.NoCache {
			g.forward(ctx, rt, fwdBypass)
			return
		}
		x := acquireExchange(g, ctx, rt)
		g.serveCacheable(x)
		releaseExchange(x)
	case string(h.Method()) == "PURGE":
		ctx.Response.Header.Reset() // a PURGE answer is the gateway's own: fasthttp's Date (see dateHeads)
		g.purge(ctx, rt)
		g.auditPurge(ctx)
	default:
		g.forward(ctx, rt, fwdMethod)
	}
	g.observe(ctx, rt)
}

// checkFraming refuses what fasthttp tolerates but RFC 9112 forbids in a
// request head: both Content-Length and Transfer-Encoding (Section 6.3), a
// transfer coding other than "chunked", a field name that is not a token,
// and a control character in a field value. fasthttp itself refuses a
// duplicate or malformed Content-Length and a bad chunk.
func checkFraming(h *fasthttp.RequestHeader) error {
	raw := h.RawHeaders()
	var cl, te bool
	for len(raw) > 0 {
		var line []byte
		if i := indexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			line, raw = raw, nil
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) == 0 {
			continue
		}
		colon := indexByte(line, ':')
		if colon <= 0 {
			return fmt.Errorf("%w: header line without field name", errFraming)
		}
		name, value := line[:colon], line[colon+1:]
		if !httplex.IsToken(name) {
			return fmt.Errorf("%w: invalid field name %q", errFraming, name)
		}
		for _, c := range value {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				return fmt.Errorf("%w: control character in field %q", errFraming, name)
			}
		}
		switch {
		case equalFold(name, "content-length"):
			cl = true
		case equalFold(name, "transfer-encoding"):
			if te || !equalFold(trimOWS(value), "chunked") {
				return fmt.Errorf("%w: unsupported transfer-encoding", errFraming)
			}
			te = true
		}
	}
	if cl && te {
		return fmt.Errorf("%w: both content-length and transfer-encoding", errFraming)
	}
	return nil
}

func indexByte(b []byte, c byte) int {
	for i, d := range b {
		if d == c {
			return i
		}
	}
	return -1
}

// exchange is the per-request state of a cacheable request, pooled. It
// holds the policy views and every buffer the hit path needs, so that a
// hit allocates nothing once the pool is warm. An exchange must not be
// used after releaseExchange.
type exchange struct {
	keyView // g, rt, pol, req, key, space, pkey
	ctx     *fasthttp.RequestCtx

	reqCC cachecontrol.Directives
	resp  policy.Response
	dec   policy.Decision
	ent   entry.Entry
	now   time.Time

	found    bool   // ent holds a stored response for this request
	fromL2   bool   // the record found came from L2 (X-Cache: HIT-L2)
	large    bool   // ... came from the large-object tier: held is immutable, served without a copy
	held     []byte // the record ent was decoded from: buf, or the large-object tier's
	fwd      string // Cache-Status fwd reason on a miss
	ekey     []byte // key of the entry found or to store (pkey, or a variant key)
	material []byte // variant material (policy variant, Vary values)
	names    []byte // Vary names of the variant record
	gen      uint64 // variant record generation, then the found entry's chunk id
	l2seq    uint64 // l2Tier.Seq() before the upstream request
	l1seq    uint64 // invalLog.current() before the upstream request
	buf      []byte // record read buffer; ent aliases it
	rec      []byte // variant record read buffer
	chunk    []byte // chunk read buffer
	enc      []byte // encode buffer
	hdr      []byte // header block / scratch
	cs       []byte // Cache-Status value
	fkey     []byte // flight key
	ckey     []byte // chunk key scratch
	body     []byte // body read buffer on a miss
	arena    []byte // owned copies of the request view (background refresh)
	num      [24]byte

	rangeHdr []byte      // the request's Range, aliasing fasthttp's buffer, or nil
	ifRange  []byte      // the request's If-Range, or nil
	ranges   []httpRange // the satisfiable ranges of rangeHdr
	rbuf     []byte      // a copy of the whole body, answering ranges from it
	rtmp     []byte      // Content-Range and multipart scratch
}

var exchangePool sync.Pool

// maxPooledRecord bounds the record buffer a pooled exchange keeps: room
// for a 1 MiB body read whole from L2, so that such hits reuse it.
const maxPooledRecord = 2 << 20

func acquireExchange(g *Gateway, ctx *fasthttp.RequestCtx, rt *route) *exchange {
	x, _ := exchangePool.Get().(*exchange)
	if x == nil {
		x = &exchange{buf: make([]byte, 0, 16<<10)}
	}
	x.g, x.ctx, x.rt = g, ctx, rt
	return x
}

func releaseExchange(x *exchange) {
	x.keyView.reset()
	x.ctx = nil
	x.resp.Reset()
	x.dec.Reset()
	x.ent = entry.Entry{}
	x.found, x.fromL2, x.fwd, x.gen, x.l2seq, x.l1seq = false, false, "", 0, 0, 0
	x.large, x.held = false, nil
	x.ekey, x.material, x.names = x.ekey[:0], x.material[:0], x.names[:0]
	x.enc, x.hdr, x.cs, x.fkey, x.ckey = x.enc[:0], x.hdr[:0], x.cs[:0], x.fkey[:0], x.ckey[:0]
	x.body, x.arena = x.body[:0], x.arena[:0]
	x.rangeHdr, x.ifRange, x.ranges, x.rbuf = nil, nil, x.ranges[:0], x.rbuf[:0]
	// A large miss must not pin its buffers in the pool.
	if cap(x.enc) > 1<<20 {
		x.enc = nil
	}
	if cap(x.body) > 1<<20 {
		x.body = nil
	}
	if cap(x.rbuf) > 1<<20 {
		x.rbuf = nil
	}
	if cap(x.buf) > maxPooledRecord {
		x.buf = nil // an entry read whole from L2
	}
	exchangePool.Put(x)
}
