package gateway

import (
	"math/rand/v2"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/freshness"
)

// # Ranges
//
// The cache stores whole representations only (a 206 is never stored) and
// answers a GET's Range from them (RFC 9110, Section 14): one range is a
// 206 with Content-Range, several a 206 multipart/byteranges, none
// satisfiable a 416 with "Content-Range: bytes */length". A Range that is
// not a valid bytes range set, that asks for more than maxRanges ranges,
// or whose ranges overlap, is ignored and the whole representation sent
// (200), as Section 14.2 allows: overlapping or many ranges are how a
// small request asks for a large answer. If-Range (Section 13.1.5) with a
// strong entity-tag equal to the stored one, or a date equal to the
// stored Last-Modified, lets the Range apply; any other If-Range gets the
// whole representation.

// maxRanges is the most ranges one request may ask for.
const maxRanges = 16

// httpRange is one satisfiable byte range, first and last inclusive.
type httpRange struct{ first, last int64 }

// rangeResult is what a Range field asks of a representation.
type rangeResult uint8

const (
	rangeIgnore        rangeResult = iota // no Range, or one ignored: the whole representation, 200
	rangeOK                               // 206 with the ranges
	rangeUnsatisfiable                    // 416
)

// parseRange reads the Range field value v (RFC 9110, Section 14.1.2) for a
// representation of size bytes and appends its satisfiable ranges to dst.
// It does not allocate when dst has room for maxRanges ranges.
func parseRange(v []byte, size int64, dst []httpRange) ([]httpRange, rangeResult) {
	v = trimOWS(v)
	if len(v) < 6 || !equalFold(v[:6], "bytes=") {
		return dst, rangeIgnore // another unit, or not a range
	}
	v = v[6:]
	start, specs := len(dst), 0
	for len(v) > 0 {
		var spec []byte
		if i := indexByte(v, ','); i >= 0 {
			spec, v = v[:i], v[i+1:]
		} else {
			spec, v = v, nil
		}
		if spec = trimOWS(spec); len(spec) == 0 {
			continue // an empty list element (RFC 9110, Section 5.6.1)
		}
		if specs++; specs > maxRanges {
			return dst[:start], rangeIgnore
		}
		dash := indexByte(spec, '-')
		if dash < 0 {
			return dst[:start], rangeIgnore
		}
		if dash == 0 { // suffix-range: the last n bytes
			n, ok := parseDigits(spec[1:])
			if !ok {
				return dst[:start], rangeIgnore
			}
			if n > 0 && size > 0 {
				dst = append(dst, httpRange{first: max(size-n, 0), last: size - 1})
			}
			continue
		}
		first, ok := parseDigits(spec[:dash])
		if !ok {
			return dst[:start], rangeIgnore
		}
		last := size - 1
		if rest := spec[dash+1:]; len(rest) > 0 {
			l, ok := parseDigits(rest)
			if !ok || l < first {
				return dst[:start], rangeIgnore // invalid: the whole field is ignored
			}
			last = min(l, size-1)
		}
		if first < size {
			dst = append(dst, httpRange{first: first, last: last})
		}
	}
	got := dst[start:]
	switch {
	case specs == 0:
		return dst[:start], rangeIgnore
	case len(got) == 0:
		return dst, rangeUnsatisfiable
	}
	for i := range got {
		for j := i + 1; j < len(got); j++ {
			if got[i].first <= got[j].last && got[j].first <= got[i].last {
				return dst[:start], rangeIgnore // overlapping: the whole representation
			}
		}
	}
	return dst, rangeOK
}

// parseDigits parses 1*DIGIT, saturating at 1<<62.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<62)/10 {
			n = 1 << 62
		} else {
			n = min(n*10+int64(c-'0'), 1<<62)
		}
	}
	return n, true
}

// ifRangeHolds reports whether the If-Range value v (RFC 9110, Section
// 13.1.5) matches a representation with validators etag and lastModified:
// a strong entity-tag equal to etag (itself strong), or an HTTP date equal
// to lastModified. A missing If-Range (nil) holds.
func ifRangeHolds(v, etag, lastModified []byte) bool {
	if v == nil {
		return true
	}
	v = trimOWS(v)
	if len(v) > 0 && (v[0] == '"' || v[0] == 'W' && len(v) > 1 && v[1] == '/') {
		etag = trimOWS(etag)
		return v[0] == '"' && len(etag) > 0 && etag[0] == '"' && string(v) == string(etag)
	}
	since, ok := freshness.ParseHTTPDate(v)
	if !ok {
		return false
	}
	lm, ok := freshness.ParseHTTPDate(lastModified)
	return ok && lm.Equal(since)
}

// rangesFor decides how a GET with x's Range and If-Range is answered from a
// 200 representation of size bytes with the given validators; x.ranges
// holds the ranges for rangeOK.
func (x *exchange) rangesFor(size int64, etag, lastModified []byte) rangeResult {
	if x.rangeHdr == nil || !x.ctx.IsGet() || !ifRangeHolds(x.ifRange, etag, lastModified) {
		return rangeIgnore
	}
	var res rangeResult
	x.ranges, res = parseRange(x.rangeHdr, size, x.ranges[:0])
	return res
}

var (
	headerContentRange = []byte("Content-Range")
	multipartType      = []byte("multipart/byteranges; boundary=")
)

// setUnsatisfiable turns resp into a 416 for a representation of size
// bytes: "Content-Range: bytes */size", no body.
func (x *exchange) setUnsatisfiable(resp *fasthttp.Response, size int64) {
	resp.SetStatusCode(fasthttp.StatusRequestedRangeNotSatisfiable)
	x.rtmp = append(x.rtmp[:0], "bytes */"...)
	x.rtmp = strconv.AppendInt(x.rtmp, size, 10)
	resp.Header.SetCanonical(headerContentRange, x.rtmp)
	resp.ResetBody()
}

// writeRanges makes resp the 206 answer of x.ranges of full, a
// representation of type contentType: one range with Content-Range, or a
// multipart/byteranges body (RFC 9110, Section 14.6). full must not alias
// resp's body.
func (x *exchange) writeRanges(resp *fasthttp.Response, full, contentType []byte) {
	size := int64(len(full))
	resp.SetStatusCode(fasthttp.StatusPartialContent)
	resp.ResetBody()
	if len(x.ranges) == 1 {
		r := x.ranges[0]
		resp.Header.SetContentRange(int(r.first), int(r.last), int(size))
		resp.AppendBody(full[r.first : r.last+1])
		return
	}
	var boundary [20]byte
	b := append(boundary[:0], "fc"...)
	b = strconv.AppendUint(b, rand.Uint64()|1<<63, 16) //nolint:gosec // a boundary must not occur in the body, it need not be secret
	x.rtmp = append(append(x.rtmp[:0], multipartType...), b...)
	resp.Header.SetContentTypeBytes(x.rtmp)
	for _, r := range x.ranges {
		resp.AppendBodyString("--")
		resp.AppendBody(b)
		resp.AppendBodyString("\r\n")
		if len(contentType) > 0 {
			resp.AppendBodyString("Content-Type: ")
			resp.AppendBody(contentType)
			resp.AppendBodyString("\r\n")
		}
		x.rtmp = append(x.rtmp[:0], "Content-Range: bytes "...)
		x.rtmp = strconv.AppendInt(x.rtmp, r.first, 10)
		x.rtmp = append(x.rtmp, '-')
		x.rtmp = strconv.AppendInt(x.rtmp, r.last, 10)
		x.rtmp = append(x.rtmp, '/')
		x.rtmp = strconv.AppendInt(x.rtmp, size, 10)
		resp.AppendBody(x.rtmp)
		resp.AppendBodyString("\r\n\r\n")
		resp.AppendBody(full[r.first : r.last+1])
		resp.AppendBodyString("\r\n")
	}
	resp.AppendBodyString("--")
	resp.AppendBody(b)
	resp.AppendBodyString("--\r\n")
}
