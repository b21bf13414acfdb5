package gateway

import (
	"bufio"
	"bytes"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/entry"
	"github.com/flowcache/flowcache/gateway/internal/freshness"
)

// X-Cache values.
const (
	xcacheHit   = "HIT"
	xcacheHitL2 = "HIT-L2"
	// xcacheRevalidated: answered from a stored response the origin has
	// just confirmed with a 304.
	xcacheRevalidated = "REVALIDATED"
	xcacheMiss        = "MISS"
	xcacheStale       = "STALE"
	xcacheBypass      = "BYPASS"
)

// Cache-Status fwd reasons (RFC 9211, Section 2.2).
const (
	fwdBypass   = "bypass"    // the policy or the route bypasses the cache
	fwdMethod   = "method"    // the method is not cacheable
	fwdURIMiss  = "uri-miss"  // nothing stored for the URL
	fwdVaryMiss = "vary-miss" // the URL is stored, not this variant
	fwdMiss     = "miss"      // stored but unusable (e.g. a missing chunk)
	fwdRequest  = "request"   // the request's directives forced a fetch
	fwdStale    = "stale"     // stored, stale: revalidated or refreshed
)

const cacheName = "flowcache"

// appendTTL appends "; ttl=N", the entry's remaining freshness in seconds
// (negative when stale), to a Cache-Status value.
func appendTTL(dst []byte, ttl, age time.Duration) []byte {
	dst = append(dst, "; ttl="...)
	return strconv.AppendInt(dst, int64((ttl-age)/time.Second), 10)
}

// Canonical names of the fields the gateway sets on every answer (read
// only; SetCanonical skips normalising them on the hit path).
var (
	headerXCache      = []byte("X-Cache")
	headerCacheStatus = []byte("Cache-Status")
	headerAge         = []byte("Age")
	valueHit          = []byte(xcacheHit)
	valueHitL2        = []byte(xcacheHitL2)
	valueRevalidated  = []byte(xcacheRevalidated)
	valueMiss         = []byte(xcacheMiss)
	valueStale        = []byte(xcacheStale)
	valueBypass       = []byte(xcacheBypass)
)

func xcacheValue(xcache string) []byte {
	switch xcache {
	case xcacheHit:
		return valueHit
	case xcacheHitL2:
		return valueHitL2
	case xcacheRevalidated:
		return valueRevalidated
	case xcacheStale:
		return valueStale
	case xcacheBypass:
		return valueBypass
	default:
		return valueMiss
	}
}

func setCacheHeaders(ctx *fasthttp.RequestCtx, xcache string, cacheStatus []byte) {
	ctx.Response.Header.SetCanonical(headerXCache, xcacheValue(xcache))
	ctx.Response.Header.SetCanonical(headerCacheStatus, cacheStatus)
}

// cacheStatusError is the Cache-Status of an answer made from an error:
// "flowcache; fwd=X; detail=D", D a token naming the cause.
func cacheStatusError(fwd, detail string) []byte {
	b := make([]byte, 0, 64)
	b = append(b, cacheName...)
	b = append(b, "; fwd="...)
	b = append(b, fwd...)
	b = append(b, "; detail="...)
	b = append(b, detail...)
	return b
}

// appendCacheStatus builds "flowcache; hit" or "flowcache; fwd=X[;
// fwd-status=N][; stored][; collapsed][; detail=D]" (RFC 9211, Section 2).
// detail must be a token (RFC 8941, Section 3.3.4): its first character a
// letter or "*", the rest tchar, ":" or "/"; never a bare number, which
// would parse as an Integer.
func appendCacheStatus(dst []byte, fwd string, fwdStatus int, stored, collapsed bool, detail string) []byte {
	dst = append(dst, cacheName...)
	if fwd == "" {
		dst = append(dst, "; hit"...)
	} else {
		dst = append(dst, "; fwd="...)
		dst = append(dst, fwd...)
		if fwdStatus > 0 {
			dst = append(dst, "; fwd-status="...)
			dst = strconv.AppendInt(dst, int64(fwdStatus), 10)
		}
	}
	if stored {
		dst = append(dst, "; stored"...)
	}
	if collapsed {
		dst = append(dst, "; collapsed"...)
	}
	if detail != "" {
		dst = append(dst, "; detail="...)
		dst = append(dst, detail...)
	}
	return dst
}

// storedHeaderSkipped reports the fields of a stored header block that are
// not sent to the client: framing (recomputed), Date (sent first, see
// startWithDate), Age (recomputed), and the targeted fields meant for this
// cache.
func storedHeaderSkipped(name []byte) bool {
	switch len(name) {
	case 3:
		return equalFold(name, "age")
	case 4:
		return equalFold(name, "date")
	case 14:
		return equalFold(name, "content-length")
	case 17:
		return forCacheOnly(name) || equalFold(name, "transfer-encoding")
	case 13:
		return forCacheOnly(name)
	case 10:
		return equalFold(name, "set-cookie")
	}
	return false
}

// notModifiedHeader reports the fields a 304 carries (RFC 9110, Section
// 15.4.5).
func notModifiedHeader(name []byte) bool {
	return equalFold(name, "etag") || equalFold(name, "cache-control") || equalFold(name, "expires") ||
		equalFold(name, "vary") || equalFold(name, "content-location") || equalFold(name, "last-modified")
}

// writeEntry answers the client from x.ent: status, stored headers, Age,
// the cache headers and the body (all chunks). A client's conditional
// request that the entry satisfies gets a 304. It reports false, with the
// response reset, if a body chunk has gone missing (the caller then treats
// the entry as a miss). It does not allocate once buffers are warm.
func (g *Gateway) writeEntry(x *exchange, age int64, xcache string, cacheStatus []byte) bool {
	e := &x.ent
	resp := &x.ctx.Response
	notModified := e.Status == fasthttp.StatusOK && x.conditional() && freshness.NotModified(x.req.Headers, e.ETag, e.LastModified)
	rng := rangeIgnore
	if !notModified && e.Status == fasthttp.StatusOK {
		rng = x.rangesFor(e.BodyLen, e.ETag, e.LastModified)
	}
	g.dates.startWithDate(&resp.Header, storedDate(e.Header), time.Unix(0, e.ResponseTime))
	if notModified {
		resp.SetStatusCode(fasthttp.StatusNotModified)
	} else {
		resp.SetStatusCode(e.Status)
	}
	var contentType []byte
	for name, value, rest, ok := entry.NextHeader(e.Header); ok; name, value, rest, ok = entry.NextHeader(rest) {
		if storedHeaderSkipped(name) || (notModified && !notModifiedHeader(name)) {
			continue
		}
		if len(name) == 12 && equalFold(name, "content-type") {
			contentType = value
		}
		resp.Header.AddBytesKV(name, value)
	}
	if age < 0 {
		age = 0
	}
	resp.Header.SetCanonical(headerAge, fasthttp.AppendUint(x.num[:0], int(age)))
	setCacheHeaders(x.ctx, xcache, cacheStatus)
	x.setPolicyHeader()
	switch {
	case notModified:
		resp.SkipBody = true
		return true
	case x.ctx.IsHead():
		resp.ResetBody()
		resp.Header.SetContentLength(int(e.BodyLen))
		return true
	case rng == rangeUnsatisfiable:
		x.setUnsatisfiable(resp, e.BodyLen)
		return true
	case rng == rangeOK && !e.Flags.Has(entry.FlagBodyChunked):
		x.writeRanges(resp, e.Body, contentType)
		return true
	}
	if x.large {
		// An immutable record of the large-object tier: no copy; the
		// response keeps it alive while it is written.
		resp.SetBodyRaw(e.Body)
		return true
	}
	resp.SetBody(e.Body)
	if !e.Flags.Has(entry.FlagBodyChunked) {
		return true
	}
	if !x.appendChunks(e) {
		resp.Reset()
		return false
	}
	if rng == rangeOK {
		x.rbuf = append(x.rbuf[:0], resp.Body()...) // writeRanges rewrites the body
		x.writeRanges(resp, x.rbuf, contentType)
	}
	return true
}

// storedDate returns the Date of a stored header block, or nil.
func storedDate(block []byte) []byte {
	for name, value, rest, ok := entry.NextHeader(block); ok; name, value, rest, ok = entry.NextHeader(rest) {
		if len(name) == 4 && equalFold(name, "date") {
			return value
		}
	}
	return nil
}

// # Why is Date parsed?
//
// fasthttp v1.77 manages Date itself: ResponseHeader.Set and Add drop a
// "Date" field, and the server writes the current time unless
// Server.NoDefaultDate is set. The data plane sets NoDefaultDate, so that
// a cached or forwarded answer keeps the origin's Date (RFC 9110, Section
// 6.6.1); the only ways left to put a Date field into a header are to
// parse one (ResponseHeader.Read, which keeps the header's NoDefaultDate)
// or to copy a header that has one (CopyTo, which copies NoDefaultDate
// too). startWithDate parses a head holding only the Date into a
// template made from the data server's own empty header (dateHeads.proto),
// and copies it: a hit on the same entry then only copies (about 30ns
// against 140ns for the parse). An answer the gateway makes itself (an
// error, PURGE) resets its header, which turns fasthttp's own Date back on.

// dateHeads caches response heads holding only a Date.
type dateHeads struct {
	pool      sync.Pool // of *dateHead
	proto     fasthttp.ResponseHeader
	protoOnce sync.Once
}

// dateHead is a parsed head "Date: date" (tmpl), with the buffers that
// parse it.
type dateHead struct {
	raw  []byte
	br   bytes.Reader
	r    *bufio.Reader
	tmpl fasthttp.ResponseHeader
	date []byte   // the Date tmpl holds
	ok   bool     // tmpl holds date
	now  [40]byte // a formatted time
}

// capture records the data server's empty response header, with its
// flags, as the prototype of every template. handle calls it with each
// request's fresh header; only the first counts.
func (d *dateHeads) capture(h *fasthttp.ResponseHeader) {
	d.protoOnce.Do(func() { h.CopyTo(&d.proto) })
}

// startWithDate replaces h with a 200 head holding only "Date: date", or
// t when date is nil or cannot be sent as it is. It must come before any
// other change to h. It does not allocate once the pool is warm.
func (d *dateHeads) startWithDate(h *fasthttp.ResponseHeader, date []byte, t time.Time) {
	dh, _ := d.pool.Get().(*dateHead)
	if dh == nil {
		dh = &dateHead{raw: make([]byte, 0, 128)}
		dh.r = bufio.NewReaderSize(&dh.br, 256)
	}
	if date == nil || len(date) > 64 {
		date = freshness.AppendHTTPDate(dh.now[:0], t)
	}
	if !dh.ok || string(dh.date) != string(date) {
		dh.date = append(dh.date[:0], date...)
		if dh.ok = dh.parse(&d.proto, dh.date); !dh.ok {
			// Not a field value fasthttp reads back: the time instead,
			// not kept.
			dh.parse(&d.proto, freshness.AppendHTTPDate(dh.now[:0], t))
		}
	}
	dh.tmpl.CopyTo(h)
	d.pool.Put(dh)
}

// parse makes dh.tmpl a copy of proto holding "Date: date"; Read keeps
// the flags CopyTo gave it.
func (dh *dateHead) parse(proto *fasthttp.ResponseHeader, date []byte) bool {
	proto.CopyTo(&dh.tmpl)
	dh.raw = append(dh.raw[:0], "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDate: "...)
	dh.raw = append(dh.raw, date...)
	dh.raw = append(dh.raw, "\r\n\r\n"...)
	dh.br.Reset(dh.raw)
	dh.r.Reset(&dh.br)
	if dh.tmpl.Read(dh.r) != nil {
		return false
	}
	// Read kept the parsed "HTTP/1.1" and "OK": without them the status
	// line is the one of whatever code the answer gets.
	dh.tmpl.SetProtocol(nil)
	dh.tmpl.SetStatusMessage(nil)
	return true
}

// conditional reports whether the client's request carries a validator.
func (x *exchange) conditional() bool {
	return x.req.Headers.Has("if-none-match") || x.req.Headers.Has("if-modified-since")
}

// headerPolicy names the policy version that keyed an answer from the
// cache path (hit, miss, stale): "name@<version[:12]>". Answers keyed by
// the native default policy (or a fallback to it) have none.
const headerPolicy = "Flowcache-Policy"

// setPolicyHeader sets Flowcache-Policy when a policy version keyed x.
func (x *exchange) setPolicyHeader() {
	if l, ok := x.pol.(PolicyLease); ok {
		x.ctx.Response.Header.SetCanonical(s2bPolicy, l.Label())
	}
}

var s2bPolicy = []byte(headerPolicy)
