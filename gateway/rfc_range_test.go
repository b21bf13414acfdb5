package gateway_test

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

const (
	rangeBody = "0123456789"
	rangeLM   = "Mon, 02 Jan 2006 15:04:05 GMT"
)

// digitsOrigin answers rangeBody (text/plain, ETag "e1", rangeLM) with
// cacheControl, or, to a "bytes=a-b" Range, the 206 an origin would; it
// echoes the Range it received in X-Got-Range.
func digitsOrigin(cacheControl string) originFunc {
	return func(_ int64, _ time.Time, ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", cacheControl)
		ctx.Response.Header.Set("ETag", `"e1"`)
		ctx.Response.Header.Set("Last-Modified", rangeLM)
		ctx.Response.Header.Set("Content-Type", "text/plain")
		got := string(ctx.Request.Header.Peek("Range"))
		ctx.Response.Header.Set("X-Got-Range", got)
		if a, b, ok := strings.Cut(strings.TrimPrefix(got, "bytes="), "-"); ok && got != "" {
			first, _ := strconv.Atoi(a)
			last, _ := strconv.Atoi(b)
			ctx.SetStatusCode(fasthttp.StatusPartialContent)
			ctx.Response.Header.SetContentRange(first, last, len(rangeBody))
			ctx.SetBodyString(rangeBody[first : last+1])
			return
		}
		ctx.SetBodyString(rangeBody)
	}
}

func rangeHit(spec, want, contentRange string, extra ...string) step {
	return step{
		header: append([]string{"Range: " + spec}, extra...), status: 206, xcache: "HIT", body: want, origin: 1,
		check: hasHeader("Content-Range", contentRange),
	}
}

func wholeHit(header ...string) step {
	return step{header: header, status: 200, xcache: "HIT", body: rangeBody, origin: 1, check: hasHeader("Content-Range", "")}
}

// TestGateway_Ranges has one row per rule of RFC 9110, Section 14 the cache
// applies to answers from stored responses.
func TestGateway_Ranges(t *testing.T) {
	t.Parallel()
	fill := step{status: 200, xcache: "MISS", body: rangeBody, origin: 1}
	tests := []rfcCase{
		{
			name:   "RFC 9110 14.2: a cacheable Range miss fetches the whole representation once, stores it, answers the range",
			origin: digitsOrigin("max-age=60"),
			steps: []step{
				{
					header: []string{"Range: bytes=2-4"}, status: 206, xcache: "MISS", body: "234", origin: 1,
					check: all(hasHeader("Content-Range", "bytes 2-4/10"), hasHeader("X-Got-Range", ""), hasHeader("Cache-Status", "flowcache; fwd=uri-miss; fwd-status=200; stored")),
				},
				wholeHit(),
			},
		},
		{
			name:   "RFC 9110 14.1.2: single, open, suffix and clamped ranges from a hit",
			origin: digitsOrigin("max-age=60"),
			steps: []step{
				fill,
				rangeHit("bytes=0-0", "0", "bytes 0-0/10"),
				rangeHit("bytes=7-", "789", "bytes 7-9/10"),
				rangeHit("bytes=-3", "789", "bytes 7-9/10"),
				rangeHit("bytes=-30", rangeBody, "bytes 0-9/10"),
				rangeHit("bytes=8-100", "89", "bytes 8-9/10"),
				rangeHit("BYTES=1-1", "1", "bytes 1-1/10"),
			},
		},
		{
			name:   "RFC 9110 15.5.17: an unsatisfiable range is a 416 with Content-Range bytes */length",
			origin: digitsOrigin("max-age=60"),
			steps: []step{
				fill,
				{header: []string{"Range: bytes=10-20"}, status: 416, xcache: "HIT", body: "", origin: 1, check: hasHeader("Content-Range", "bytes */10")},
				{header: []string{"Range: bytes=-0"}, status: 416, xcache: "HIT", origin: 1, check: hasHeader("Content-Range", "bytes */10")},
			},
		},
		{
			name:   "RFC 9110 14.2: an invalid, foreign, overlapping or too long Range is ignored: 200",
			origin: digitsOrigin("max-age=60"),
			steps: []step{
				fill,
				wholeHit("Range: bytes=5-2"),
				wholeHit("Range: items=0-1"),
				wholeHit("Range: bytes=a-b"),
				wholeHit("Range: bytes=0-5,3-8"),
				wholeHit("Range: bytes=" + strings.Repeat("0-0,", 16) + "9-9"),
			},
		},
		{
			name:   "RFC 9110 13.1.5: If-Range with the stored strong ETag or Last-Modified lets the range apply",
			origin: digitsOrigin("max-age=60"),
			steps: []step{
				fill,
				rangeHit("bytes=0-1", "01", "bytes 0-1/10", `If-Range: "e1"`),
				rangeHit("bytes=0-1", "01", "bytes 0-1/10", "If-Range: "+rangeLM),
				wholeHit("Range: bytes=0-1", `If-Range: "other"`),
				wholeHit("Range: bytes=0-1", `If-Range: W/"e1"`),
				wholeHit("Range: bytes=0-1", "If-Range: Tue, 03 Jan 2006 15:04:05 GMT"),
			},
		},
		{
			name:   "RFC 9110 13.1.5: a miss evaluates If-Range against the fetched response",
			origin: digitsOrigin("max-age=60"),
			steps: []step{
				{header: []string{"Range: bytes=0-1", `If-Range: "old"`}, status: 200, xcache: "MISS", body: rangeBody, origin: 1},
				rangeHit("bytes=0-1", "01", "bytes 0-1/10", `If-Range: "e1"`),
			},
		},
		{
			name:   "RFC 9110 14.2: HEAD ignores Range",
			origin: digitsOrigin("max-age=60"),
			steps: []step{
				fill,
				{method: "HEAD", header: []string{"Range: bytes=0-1"}, status: 200, xcache: "HIT", body: "", origin: 1, check: all(hasHeader("Content-Length", "10"), hasHeader("Content-Range", ""))},
			},
		},
		{
			name:   "RFC 9110 13.2.2: If-None-Match is evaluated before Range",
			origin: digitsOrigin("max-age=60"),
			steps: []step{
				fill,
				{header: []string{"Range: bytes=0-1", `If-None-Match: "e1"`}, status: 304, xcache: "HIT", body: "", origin: 1},
			},
		},
		{
			name:   "RFC 9110 14.6: several ranges are a multipart/byteranges 206",
			origin: digitsOrigin("max-age=60"),
			steps: []step{
				fill,
				{header: []string{"Range: bytes=0-1, 5-6,-1"}, status: 206, xcache: "HIT", origin: 1, check: multipartRanges(
					"bytes 0-1/10", "01", "bytes 5-6/10", "56", "bytes 9-9/10", "9")},
			},
		},
		{
			name:   "RFC 9111 3.4: an upstream 206 is never stored as the full response",
			origin: func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) { partial(ctx, "max-age=60", n) },
			steps: []step{
				{status: 206, xcache: "MISS", origin: 1},
				{header: []string{"Range: bytes=0-0"}, status: 206, xcache: "MISS", origin: 2},
				{status: 206, xcache: "MISS", origin: 3},
			},
		},
		{
			name:   "RFC 9111 3.3: a range over a body above max_object_size is forwarded upstream and streamed",
			config: func(c *gateway.Config) { c.Cache.MaxObjectSize = 4 },
			origin: digitsOrigin("max-age=60"),
			steps: []step{
				{
					header: []string{"Range: bytes=2-4"}, status: 206, xcache: "MISS", body: "234", origin: 2,
					check: all(hasHeader("X-Got-Range", "bytes=2-4"), hasHeader("Content-Range", "bytes 2-4/10"), hasHeader("Cache-Status", "flowcache; fwd=uri-miss; fwd-status=206; detail=too-large")),
				},
				{status: 200, xcache: "MISS", body: rangeBody, origin: 3, check: hasHeader("Cache-Status", "flowcache; fwd=uri-miss; fwd-status=200; detail=too-large")},
			},
		},
		{
			name:   "RFC 9111 4.3.4: a range of an entry refreshed by a 304",
			origin: func(n int64, now time.Time, ctx *fasthttp.RequestCtx) { revalidatingDigits(n, now, ctx) },
			steps: []step{
				{status: 200, xcache: "MISS", body: rangeBody, origin: 1},
				{
					advance: 20 * time.Second, header: []string{"Range: bytes=3-3"}, status: 206, xcache: "REVALIDATED", body: "3", origin: 2,
					check: all(hasHeader("Content-Range", "bytes 3-3/10"), hasHeader("X-Version", "2")),
				},
			},
		},
		{
			name: "RFC 9111 3.2: a 304 replaces the stored fields it carries and keeps the others",
			origin: func(n int64, now time.Time, ctx *fasthttp.RequestCtx) {
				if n == 1 {
					ctx.Response.Header.Set("X-Keep", "a")
				}
				revalidatingDigits(n, now, ctx)
			},
			steps: []step{
				{status: 200, xcache: "MISS", body: rangeBody, origin: 1, check: hasHeader("X-Version", "1")},
				{advance: 20 * time.Second, status: 200, xcache: "REVALIDATED", body: rangeBody, origin: 2},
				{
					status: 200, xcache: "HIT", body: rangeBody, origin: 2,
					check: all(hasHeader("X-Version", "2"), hasHeader("X-Keep", "a"), hasHeader("Content-Length", "10")),
				},
			},
		},
	}
	runRFC(t, tests)
}

// revalidatingDigits answers rangeBody with ETag "e1" and max-age=10, and
// a 304 with X-Version: n to a request that carries the ETag.
func revalidatingDigits(n int64, _ time.Time, ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Cache-Control", "max-age=10")
	ctx.Response.Header.Set("ETag", `"e1"`)
	ctx.Response.Header.Set("X-Version", strconv.FormatInt(n, 10))
	if string(ctx.Request.Header.Peek("If-None-Match")) == `"e1"` {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	ctx.SetBodyString(rangeBody)
}

// multipartRanges checks a multipart/byteranges body: its parts, in order,
// each a Content-Range and a body, and every part typed text/plain.
func multipartRanges(want ...string) func(t *testing.T, r *gatewaytest.Response, _ *gatewaytest.Gateway) {
	return func(t *testing.T, r *gatewaytest.Response, _ *gatewaytest.Gateway) {
		t.Helper()
		mt, params, err := mime.ParseMediaType(r.Get("Content-Type"))
		if err != nil || mt != "multipart/byteranges" || params["boundary"] == "" {
			t.Fatalf("Content-Type %q: want multipart/byteranges with a boundary (%v)", r.Get("Content-Type"), err)
		}
		mr := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"])
		for i := 0; ; i += 2 {
			p, err := mr.NextPart()
			if err == io.EOF {
				if i != len(want) {
					t.Errorf("%d parts, want %d", i/2, len(want)/2)
				}
				return
			}
			if err != nil {
				t.Fatalf("part %d: %v\n%s", i/2, err, r.Body)
			}
			body, _ := io.ReadAll(p)
			if i+1 >= len(want) {
				t.Fatalf("more parts than %d", len(want)/2)
			}
			if cr, ct := p.Header.Get("Content-Range"), p.Header.Get("Content-Type"); cr != want[i] || string(body) != want[i+1] || ct != "text/plain" {
				t.Errorf("part %d: Content-Range %q, Content-Type %q, body %q; want %q, text/plain, %q", i/2, cr, ct, body, want[i], want[i+1])
			}
		}
	}
}

// TestGateway_RangeMissesCoalesced_RFC9110_14_2: Range misses for one key
// arriving together make one upstream request, for the whole
// representation, and each gets its own range.
func TestGateway_RangeMissesCoalesced_RFC9110_14_2(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	h := digitsOrigin("max-age=60")
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		<-release
		h(1, time.Time{}, ctx)
	})
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	specs := []string{"bytes=0-2", "bytes=-2", "bytes=4-4", "bytes=20-30"}
	want := []string{"012", "89", "4", ""}
	answers := make([]chan *gatewaytest.Response, len(specs))
	for i, spec := range specs {
		answers[i] = make(chan *gatewaytest.Response, 1)
		go func() { answers[i] <- g.Do(t, "GET", "/digits", "Range: "+spec) }()
		if i == 0 {
			gatewaytest.WaitFor(t, "the first miss at the origin", func() bool { return o.Requests() == 1 })
		}
	}
	gatewaytest.WaitFor(t, "the other misses waiting on it", func() bool {
		return g.Metric(t, `flowcache_coalesce_waits_total{route="api"}`) == float64(len(specs)-1)
	})
	close(release)
	for i := range specs {
		r := <-answers[i]
		wantStatus := 206
		if want[i] == "" {
			wantStatus = 416
		}
		if r.Status != wantStatus || string(r.Body) != want[i] {
			t.Errorf("Range %s: %d %q, want %d %q", specs[i], r.Status, r.Body, wantStatus, want[i])
		}
	}
	if got, last := o.Requests(), o.LastHeader().Peek("Range"); got != 1 || len(last) != 0 {
		t.Errorf("origin saw %d requests, the last with Range %q; want 1, without Range", got, last)
	}
}
