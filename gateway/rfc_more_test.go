package gateway_test

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
	"github.com/flowcache/flowcache/internal/units"
	"github.com/flowcache/flowcache/policy/httpdate"
)

// originDate is the Date an origin of these tests sends: two seconds
// before its clock, so that it can be told from the gateway's own.
func originDate(now time.Time) string {
	return string(httpdate.Append(nil, now.Add(-2*time.Second)))
}

// testStart is the time playRFC's clock starts at.
var testStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// TestGateway_RFCCompleteness has one row per rule of issue 11, each
// naming its RFC section, played like TestGateway_RFC9111.
func TestGateway_RFCCompleteness(t *testing.T) {
	t.Parallel()
	tests := []rfcCase{
		{
			name: "RFC 9110 6.6.1: a cached answer keeps the origin's Date",
			origin: func(n int64, now time.Time, ctx *fasthttp.RequestCtx) {
				gatewaytest.SetDate(t, ctx, originDate(now))
				ctx.Response.Header.Set("Cache-Control", "max-age=60")
				ctx.SetBodyString("v" + strconv.FormatInt(n, 10))
			},
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1, check: hasHeader("Date", originDate(testStart))},
				{advance: 30 * time.Second, status: 200, xcache: "HIT", origin: 1, check: all(hasHeader("Date", originDate(testStart)), hasHeader("Age", "32"))},
				{method: "HEAD", status: 200, xcache: "HIT", origin: 1, check: hasHeader("Date", originDate(testStart))},
			},
		},
		{
			name: "RFC 9110 6.6.1: a 304 from the cache carries the stored Date",
			origin: func(_ int64, now time.Time, ctx *fasthttp.RequestCtx) {
				gatewaytest.SetDate(t, ctx, originDate(now))
				ctx.Response.Header.Set("Cache-Control", "max-age=60")
				ctx.Response.Header.Set("ETag", `"e1"`)
				ctx.SetBodyString("v")
			},
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{advance: 10 * time.Second, header: []string{`If-None-Match: "e1"`}, status: 304, xcache: "HIT", origin: 1, check: hasHeader("Date", originDate(testStart))},
			},
		},
		{
			name:   "RFC 9110 6.6.1: an origin answer without Date gets the time it was received",
			origin: respond("max-age=60"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1, check: hasHeader("Date", httpDate(testStart))},
				{advance: 10 * time.Second, status: 200, xcache: "HIT", origin: 1, check: hasHeader("Date", httpDate(testStart))},
			},
		},
		{
			name:   "RFC 9110 6.6.1: a forwarded answer keeps the origin's Date",
			config: func(c *gateway.Config) { c.Routes[0].NoCache = true },
			origin: func(_ int64, now time.Time, ctx *fasthttp.RequestCtx) {
				gatewaytest.SetDate(t, ctx, originDate(now))
			},
			steps: []step{
				{status: 200, xcache: "BYPASS", origin: 1, check: hasHeader("Date", originDate(testStart))},
			},
		},
		{
			name:   "RFC 9110 6.6.1: an answer the gateway makes has the gateway's Date",
			origin: func(_ int64, _ time.Time, ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(200) },
			steps: []step{
				{header: []string{"Cache-Control: only-if-cached"}, status: 504, origin: 0, check: validDate},
				{method: "PURGE", status: 404, origin: 0, check: validDate},
			},
		},
		{
			name:   "RFC 9111 4.3.4: an answer refreshed by a 304 says X-Cache REVALIDATED, then HIT",
			origin: etagOrigin("max-age=10"),
			steps: []step{
				{status: 200, xcache: "MISS", body: "v1", origin: 1},
				{advance: 20 * time.Second, status: 200, xcache: "REVALIDATED", body: "v1", origin: 2, check: hasHeader("Cache-Status", "flowcache; fwd=stale; fwd-status=304; stored")},
				{status: 200, xcache: "HIT", body: "v1", origin: 2},
			},
		},
		{
			name:   "RFC 9211 2.8: detail of an error answer is a token, not an Integer",
			config: func(c *gateway.Config) { c.Routes[0].Upstreams = []string{"http://127.0.0.1:1"} },
			origin: respond("max-age=60"),
			steps: []step{
				{status: 502, xcache: "MISS", origin: 0, check: all(hasHeader("Cache-Status", "flowcache; fwd=uri-miss; detail=upstream-error"), sfTokenDetail)},
				{header: []string{"Cache-Control: only-if-cached"}, status: 504, origin: 0, check: all(hasHeader("Cache-Status", "flowcache; fwd=uri-miss; detail=only-if-cached"), sfTokenDetail)},
				{method: "POST", status: 502, xcache: "BYPASS", origin: 0, check: all(hasHeader("Cache-Status", "flowcache; fwd=method; detail=upstream-error"), sfTokenDetail)},
			},
		},
		{
			name:   "RFC 9213 2.1: CDN-Cache-Control is forwarded downstream unchanged, bypass included",
			config: func(c *gateway.Config) { c.Routes[0].NoCache = true },
			origin: respond("no-store", "CDN-Cache-Control", `max-age=60, foo="bar";p=1`),
			steps: []step{
				{status: 200, xcache: "BYPASS", origin: 1, check: hasHeader("CDN-Cache-Control", `max-age=60, foo="bar";p=1`)},
			},
		},
		{
			name:   "RFC 9213 2.1: an invalid CDN-Cache-Control is ignored whole, Cache-Control applies",
			origin: respond("max-age=0", "CDN-Cache-Control", "max-age=60, no-store=yes"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1, check: hasHeader("CDN-Cache-Control", "max-age=60, no-store=yes")},
				{status: 200, xcache: "MISS", origin: 2},
			},
		},
		{
			name:   "RFC 9213 2.1: CDN-Cache-Control max-age as a Decimal is the wrong type: ignored",
			origin: respond("max-age=60", "CDN-Cache-Control", "max-age=0.5"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{advance: 30 * time.Second, status: 200, xcache: "HIT", origin: 1},
			},
		},
		{
			name:   "RFC 9111 4.2.4: [cache] stale_if_error serves a stale entry when the upstream answers 5xx",
			config: func(c *gateway.Config) { c.Cache.StaleIfError = units.Duration(time.Hour) },
			origin: failAfter(1, "max-age=10"),
			steps: []step{
				{status: 200, xcache: "MISS", body: "v1", origin: 1},
				{
					advance: 20 * time.Second, status: 200, xcache: "STALE", body: "v1", origin: 2,
					check: all(hasHeader("Cache-Status", "flowcache; fwd=stale; fwd-status=503; detail=stale-on-error"), hasHeader("Age", "20")),
				},
				{advance: time.Hour, status: 503, origin: 3},
			},
		},
		{
			name:   "RFC 9111 4.2.4: [cache] stale_if_error serves a stale entry when the upstream cannot be reached",
			config: func(c *gateway.Config) { c.Cache.StaleIfError = units.Duration(time.Minute) },
			origin: func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) {
				if n > 1 { // no answer at all: the connection is closed
					ctx.HijackSetNoResponse(true)
					ctx.Hijack(func(c net.Conn) { _ = c.Close() }) // closing is the point; its error says nothing
					return
				}
				ctx.Response.Header.Set("Cache-Control", "max-age=10")
				ctx.SetBodyString("v1")
			},
			steps: []step{
				{status: 200, xcache: "MISS", body: "v1", origin: 1},
				{advance: 20 * time.Second, status: 200, xcache: "STALE", body: "v1", origin: -1, check: hasHeader("Cache-Status", "flowcache; fwd=stale; detail=stale-on-error")},
			},
		},
		{
			name: "RFC 9111 4.2.4: a route's stale_if_error overrides [cache]'s",
			config: func(c *gateway.Config) {
				c.Cache.StaleIfError = units.Duration(time.Hour)
				off := units.Duration(0)
				c.Routes[0].StaleIfError = &off
			},
			origin: failAfter(1, "max-age=10"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{advance: 20 * time.Second, status: 503, origin: 2},
			},
		},
		{
			name: "RFC 9111 4.2.4: a route's stale_if_error without one in [cache]",
			config: func(c *gateway.Config) {
				on := units.Duration(time.Minute)
				c.Routes[0].StaleIfError = &on
			},
			origin: failAfter(1, "max-age=10"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{advance: 20 * time.Second, status: 200, xcache: "STALE", body: "v1", origin: 2},
				{advance: time.Minute, status: 503, origin: 3},
			},
		},
		{
			name:   "RFC 5861 4: the response's stale-if-error still applies, and is named",
			config: func(c *gateway.Config) { c.Cache.StaleIfError = units.Duration(time.Hour) },
			origin: failAfter(1, "max-age=10, stale-if-error=60"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{advance: 20 * time.Second, status: 200, xcache: "STALE", origin: 2, check: hasHeader("Cache-Status", "flowcache; fwd=stale; fwd-status=503; detail=stale-if-error")},
				{advance: 2 * time.Minute, status: 200, xcache: "STALE", origin: 3, check: hasHeader("Cache-Status", "flowcache; fwd=stale; fwd-status=503; detail=stale-on-error")},
			},
		},
		{
			name: "RFC 9110 9.3.2: a HEAD miss is fetched with GET and fills the cache",
			origin: func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.Set("Cache-Control", "max-age=60")
				ctx.Response.Header.Set("X-Got-Method", string(ctx.Method()))
				ctx.SetBodyString("body-v" + strconv.FormatInt(n, 10))
			},
			steps: []step{
				{
					method: "HEAD", status: 200, xcache: "MISS", body: "", origin: 1,
					check: all(hasHeader("X-Got-Method", "GET"), hasHeader("Content-Length", "7"), hasHeader("Cache-Status", "flowcache; fwd=uri-miss; fwd-status=200; stored")),
				},
				{status: 200, xcache: "HIT", body: "body-v1", origin: 1},
				{method: "HEAD", status: 200, xcache: "HIT", origin: 1, check: hasHeader("Content-Length", "7")},
			},
		},
		{
			name:   "RFC 9110 9.3.2: a stale entry is revalidated for a HEAD with a conditional GET",
			origin: etagOrigin("max-age=10"),
			steps: []step{
				{status: 200, xcache: "MISS", body: "v1", origin: 1},
				{advance: 20 * time.Second, method: "HEAD", status: 200, xcache: "REVALIDATED", origin: 2, check: hasHeader("Content-Length", "2")},
				{status: 200, xcache: "HIT", body: "v1", origin: 2},
			},
		},
		{
			name:   "RFC 9110 9.3.2: a HEAD miss too large to store gets the GET's length",
			config: func(c *gateway.Config) { c.Cache.MaxObjectSize = 1 },
			origin: respond("max-age=60"),
			steps: []step{
				{method: "HEAD", status: 200, xcache: "MISS", origin: 1, check: all(hasHeader("Content-Length", "2"), hasHeader("Cache-Status", "flowcache; fwd=uri-miss; fwd-status=200; detail=too-large"))},
				{status: 200, xcache: "MISS", body: "v2", origin: 2},
			},
		},
	}
	for _, cc := range []string{"must-revalidate", "proxy-revalidate", "s-maxage=10", "no-cache"} {
		tests = append(tests, rfcCase{
			name:   "RFC 9111 4.2.4: [cache] stale_if_error is refused by " + cc,
			config: func(c *gateway.Config) { c.Cache.StaleIfError = units.Duration(time.Hour) },
			origin: failAfter(1, "max-age=10, "+cc),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{advance: 20 * time.Second, status: 503, xcache: "MISS", origin: 2},
			},
		})
	}
	for _, m := range []string{"PROPFIND", "M-SEARCH", "FLOWTEST"} {
		tests = append(tests, rfcCase{
			name:   "RFC 9111 4.4: a successful unknown method " + m + " invalidates the target URI",
			origin: respond("max-age=60"),
			steps: []step{
				{status: 200, xcache: "MISS", body: "v1", origin: 1},
				{method: m, status: 200, xcache: "BYPASS", origin: 2},
				{status: 200, xcache: "MISS", body: "v3", origin: 3},
			},
		})
	}
	tests = append(tests, rfcCase{
		name:   "RFC 9110 9.2.1: OPTIONS, a safe method, invalidates nothing",
		origin: respond("max-age=60"),
		steps: []step{
			{status: 200, xcache: "MISS", body: "v1", origin: 1},
			{method: "OPTIONS", status: 200, xcache: "BYPASS", origin: 2},
			{status: 200, xcache: "HIT", body: "v1", origin: 2},
		},
	})
	runRFC(t, tests)
}

// sfTokenDetail checks that the detail parameter of Cache-Status, if any,
// is an RFC 8941 Token (Section 3.3.4) or String (Section 3.3.3).
func sfTokenDetail(t *testing.T, r *gatewaytest.Response, _ *gatewaytest.Gateway) {
	t.Helper()
	cs := r.Get("Cache-Status")
	_, d, ok := strings.Cut(cs, "; detail=")
	if !ok {
		return
	}
	d, _, _ = strings.Cut(d, ";")
	if !sfToken(d) && !(len(d) >= 2 && d[0] == '"' && d[len(d)-1] == '"') {
		t.Errorf("Cache-Status %q: detail %q is neither a Token nor a String", cs, d)
	}
}

func sfToken(s string) bool {
	if s == "" || !(s[0] == '*' || s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~:/", c) >= 0) {
			return false
		}
	}
	return true
}

func httpDate(t time.Time) string { return string(httpdate.Append(nil, t)) }

// validDate checks that the answer has a Date, an HTTP date.
func validDate(t *testing.T, r *gatewaytest.Response, _ *gatewaytest.Gateway) {
	t.Helper()
	if _, ok := httpdate.Parse(r.Header.Peek("Date")); !ok {
		t.Errorf("Date = %q, want an HTTP date", r.Get("Date"))
	}
}

// TestGateway_HEADMissCoalescedWithGET_RFC9110_9_3_2: a HEAD and a GET
// missing the same key at once make one upstream request, a GET, whose
// answer both get.
func TestGateway_HEADMissCoalescedWithGET_RFC9110_9_3_2(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		<-release
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.Response.Header.Set("X-Got-Method", string(ctx.Method()))
		ctx.SetBodyString("shared")
	})
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	answers := make(chan *gatewaytest.Response, 2)
	for _, m := range []string{"HEAD", "GET"} {
		go func() { answers <- g.Do(t, m, "/both") }()
		if m == "HEAD" {
			gatewaytest.WaitFor(t, "the HEAD at the origin", func() bool { return o.Requests() == 1 })
		}
	}
	gatewaytest.WaitFor(t, "the GET waiting on the HEAD's fetch", func() bool {
		return g.Metric(t, `flowcache_coalesce_waits_total{route="api"}`) == 1
	})
	close(release)
	for range 2 {
		r := <-answers
		if r.Status != 200 || r.Get("X-Got-Method") != "GET" || r.Get("Content-Length") != "6" {
			t.Errorf("answer %d, X-Got-Method %q, Content-Length %q; want 200, GET, 6", r.Status, r.Get("X-Got-Method"), r.Get("Content-Length"))
		}
		if len(r.Body) != 0 && string(r.Body) != "shared" {
			t.Errorf("body %q, want \"shared\" (GET) or none (HEAD)", r.Body)
		}
	}
	if got := o.Requests(); got != 1 {
		t.Errorf("origin saw %d requests, want 1", got)
	}
}

// TestGateway_InterimResponses_RFC9110_15_2: a 103 Early Hints the origin
// sends before its final response reaches the client on a miss, with its
// Link fields only, before the final response; it is never stored nor
// replayed from the cache, and none of its fields leak into the stored
// response. Other interim responses are not relayed.
func TestGateway_InterimResponses_RFC9110_15_2(t *testing.T) {
	t.Parallel()
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Add("Link", "</style.css>; rel=preload; as=style")
		ctx.Response.Header.Add("Link", "</app.js>; rel=preload; as=script")
		if err := ctx.EarlyHints(); err != nil {
			t.Errorf("origin: EarlyHints: %v", err)
		}
		ctx.Response.Header.Del("Link")
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBodyString("final")
	})
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	const req = "GET /hints HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n"
	const hints = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\nLink: </app.js>; rel=preload; as=script\r\n\r\n"

	status, raw := g.Raw(t, req)
	final, ok := strings.CutPrefix(raw, hints)
	if status != 103 || !ok {
		t.Fatalf("miss: want the 103 with both Link fields first, got:\n%s", raw)
	}
	if !strings.HasPrefix(final, "HTTP/1.1 200") || !strings.Contains(final, "X-Cache: MISS") || !strings.HasSuffix(final, "final") ||
		strings.Contains(strings.ToLower(final), "link:") {
		t.Errorf("miss: want a 200 MISS with the final body and no Link after the 103:\n%s", final)
	}

	status, raw = g.Raw(t, req)
	if status != 200 || !strings.Contains(raw, "X-Cache: HIT") || !strings.HasSuffix(raw, "final") ||
		strings.Contains(raw, "HTTP/1.1 103") || strings.Contains(strings.ToLower(raw), "link:") {
		t.Errorf("hit: want a 200 HIT without the interim response or its fields:\n%s", raw)
	}
	if got := o.Requests(); got != 1 {
		t.Errorf("origin saw %d requests, want 1 (the final response stored)", got)
	}

	// An HTTP/1.0 client cannot take a 1xx (RFC 9110, Section 15.2).
	status, raw = g.Raw(t, "GET /hints10 HTTP/1.0\r\nHost: example.test\r\n\r\n")
	if status != 200 || strings.Contains(raw, "103") {
		t.Errorf("HTTP/1.0 miss: want a 200 without the 103:\n%s", raw)
	}
}

// TestGateway_InterimThenBody_RFC9112_7_1: after a relayed 103, the final
// body is read with its framing: a chunked body (with a trailer) or one
// with a Content-Length is stored whole and its upstream connection
// reused; one cut short is a 502 and is not stored.
func TestGateway_InterimThenBody_RFC9112_7_1(t *testing.T) {
	t.Parallel()
	const hints = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/cut", "/trailer":
			ctx.HijackSetNoResponse(true)
			path := string(ctx.Path())
			ctx.Hijack(func(c net.Conn) {
				head := hints + "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
				if path == "/trailer" {
					head += "6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
				}
				_, _ = io.WriteString(c, head) // the test reads what arrived
				_ = c.Close()                  // the end of the body, or its cut
			})
			return
		}
		ctx.Response.Header.Add("Link", "</a.css>; rel=preload")
		if err := ctx.EarlyHints(); err != nil {
			t.Errorf("origin: EarlyHints: %v", err)
		}
		ctx.Response.Header.Del("Link")
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		if string(ctx.Path()) == "/b" { // with Content-Length
			ctx.SetBodyString("chunked body")
			return
		}
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			_, _ = w.WriteString("chunked ") // errors end the body; the test sees them
			_ = w.Flush()
			_, _ = w.WriteString("body")
		})
	})
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	for _, path := range []string{"/a", "/b"} {
		status, raw := g.Raw(t, "GET "+path+" HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
		if status != 103 || !strings.Contains(raw, "X-Cache: MISS") || !strings.HasSuffix(raw, "chunked body") {
			t.Errorf("GET %s: want the 103, then the whole chunked body:\n%s", path, raw)
		}
		if r := g.Do(t, "GET", path); r.Get("X-Cache") != "HIT" || string(r.Body) != "chunked body" {
			t.Errorf("GET %s again: X-Cache %q, body %q; want HIT, the whole body", path, r.Get("X-Cache"), r.Body)
		}
	}
	if got := o.Conns(); got != 1 {
		t.Errorf("origin accepted %d connections, want 1 (reused after each relayed body)", got)
	}

	_, raw := g.Raw(t, "GET /trailer HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
	if !strings.HasSuffix(raw, "hello world") {
		t.Errorf("GET /trailer: want the body without its trailer:\n%s", raw)
	}
	if r := g.Do(t, "GET", "/trailer"); r.Get("X-Cache") != "HIT" {
		t.Errorf("GET /trailer again: X-Cache %q, want HIT", r.Get("X-Cache"))
	}

	_, raw = g.Raw(t, "GET /cut HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
	if !strings.Contains(raw, "HTTP/1.1 502") {
		t.Errorf("GET /cut: want a 502 after the 103:\n%s", raw)
	}
	before := o.Requests()
	if r := g.Do(t, "GET", "/cut"); r.Status != 502 || o.Requests() != before+1 {
		t.Errorf("GET /cut again: status %d, origin requests %d→%d; want 502 from the origin (nothing stored)", r.Status, before, o.Requests())
	}
}
