package gateway_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
	"github.com/flowcache/flowcache/policy/httpdate"
)

// step is one request of an RFC rule's scenario.
type step struct {
	advance time.Duration // move the clock first
	method  string        // default GET
	path    string        // default "/r"
	header  []string
	status  int    // want
	xcache  string // want
	body    string // want, when not empty
	origin  int64  // want: origin requests so far; -1 = not checked
	check   func(t *testing.T, r *gatewaytest.Response, g *gatewaytest.Gateway)
}

// originFunc answers the n-th origin request (1-based); now is the test's
// clock.
type originFunc func(n int64, now time.Time, ctx *fasthttp.RequestCtx)

func respond(cacheControl string, extra ...string) originFunc {
	return func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) {
		if cacheControl != "" {
			ctx.Response.Header.Set("Cache-Control", cacheControl)
		}
		for i := 0; i+1 < len(extra); i += 2 {
			ctx.Response.Header.Add(extra[i], extra[i+1])
		}
		ctx.SetBodyString("v" + strconv.FormatInt(n, 10))
	}
}

func hasHeader(name, want string) func(t *testing.T, r *gatewaytest.Response, g *gatewaytest.Gateway) {
	return func(t *testing.T, r *gatewaytest.Response, _ *gatewaytest.Gateway) {
		t.Helper()
		if got := r.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// TestGateway_RFC9111 has one row per caching rule of issue 2 item 4, each
// played against a real origin on loopback through a real gateway, with
// an injected clock.
func TestGateway_RFC9111(t *testing.T) {
	t.Parallel()
	lastModified := func(now time.Time) string { return string(httpdate.Append(nil, now.Add(-100*time.Hour))) }
	tests := []rfcCase{
		{
			name:   "max-age gives the freshness lifetime",
			origin: respond("max-age=60"),
			steps: []step{
				{status: 200, xcache: "MISS", body: "v1", origin: 1},
				{advance: 59 * time.Second, status: 200, xcache: "HIT", body: "v1", origin: 1},
				{advance: 2 * time.Second, status: 200, xcache: "MISS", body: "v2", origin: 2},
			},
		},
		{
			name:   "s-maxage wins over max-age",
			origin: respond("max-age=600, s-maxage=10"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{advance: 5 * time.Second, xcache: "HIT", status: 200, origin: 1},
				{advance: 10 * time.Second, xcache: "MISS", status: 200, body: "v2", origin: 2},
			},
		},
		{
			name: "Expires minus Date when no max-age",
			origin: func(n int64, now time.Time, ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.Set("Expires", string(httpdate.Append(nil, now.Add(30*time.Second))))
				ctx.SetBodyString("v" + strconv.FormatInt(n, 10))
			},
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{advance: 29 * time.Second, status: 200, xcache: "HIT", origin: 1},
				{advance: 2 * time.Second, status: 200, xcache: "MISS", origin: 2},
			},
		},
		{
			name: "heuristic freshness from Last-Modified for a status cacheable by default",
			origin: func(n int64, now time.Time, ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.Set("Last-Modified", lastModified(now)) // 10% of 100h = 10h
				ctx.SetBodyString("v" + strconv.FormatInt(n, 10))
			},
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{advance: time.Hour, status: 200, xcache: "HIT", origin: 1},
			},
		},
		{
			name: "no heuristic freshness for a status not cacheable by default",
			origin: func(_ int64, now time.Time, ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.Set("Last-Modified", lastModified(now))
				ctx.Response.Header.Set("Location", "/elsewhere")
				ctx.SetStatusCode(fasthttp.StatusFound)
			},
			steps: []step{
				{status: 302, xcache: "MISS", origin: 1},
				{status: 302, xcache: "MISS", origin: 2},
			},
		},
		{
			name: "404 with explicit freshness is stored",
			origin: func(_ int64, _ time.Time, ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.Set("Cache-Control", "max-age=60")
				ctx.SetStatusCode(404)
			},
			steps: []step{
				{status: 404, xcache: "MISS", origin: 1},
				{status: 404, xcache: "HIT", origin: 1},
			},
		},
		{
			name:   "response no-store is not stored",
			origin: respond("no-store, max-age=60"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{status: 200, xcache: "MISS", body: "v2", origin: 2},
			},
		},
		{
			name:   "response private is not stored",
			origin: respond("private, max-age=60"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{status: 200, xcache: "MISS", origin: 2},
			},
		},
		{
			name:   "response no-cache is stored and revalidated before each use",
			origin: etagOrigin("no-cache"),
			steps: []step{
				{status: 200, xcache: "MISS", body: "v1", origin: 1},
				{status: 200, xcache: "REVALIDATED", body: "v1", origin: 2, check: hasHeader("Cache-Status", "flowcache; fwd=stale; fwd-status=304; stored")},
			},
		},
		{
			name:   "request no-cache revalidates",
			origin: etagOrigin("max-age=60"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{
					header: []string{"Cache-Control: no-cache"}, status: 200, xcache: "REVALIDATED", body: "v1", origin: 2,
					check: hasHeader("Cache-Status", "flowcache; fwd=request; fwd-status=304; stored"),
				},
			},
		},
		{
			name:   "request Pragma no-cache revalidates",
			origin: etagOrigin("max-age=60"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{header: []string{"Pragma: no-cache"}, status: 200, origin: 2},
			},
		},
		{
			name:   "request no-store: the response is not stored",
			origin: respond("max-age=60"),
			steps: []step{
				{header: []string{"Cache-Control: no-store"}, status: 200, xcache: "MISS", origin: 1},
				{status: 200, xcache: "MISS", origin: 2},
				{status: 200, xcache: "HIT", origin: 2},
			},
		},
		{
			name:   "request max-age=0 forces revalidation",
			origin: etagOrigin("max-age=60"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{advance: time.Second, header: []string{"Cache-Control: max-age=0"}, status: 200, origin: 2},
			},
		},
		{
			name:   "honor_client_no_cache = false: a request no-cache is a hit",
			config: func(c *gateway.Config) { c.Cache.HonorClientNoCache = false },
			origin: etagOrigin("max-age=60"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{header: []string{"Cache-Control: no-cache"}, status: 200, xcache: "HIT", body: "v1", origin: 1},
				{header: []string{"Pragma: no-cache"}, status: 200, xcache: "HIT", body: "v1", origin: 1},
				{advance: time.Second, header: []string{"Cache-Control: max-age=0"}, status: 200, xcache: "HIT", body: "v1", origin: 1},
				{header: []string{"Cache-Control: no-store"}, status: 200, xcache: "HIT", body: "v1", origin: 1},
			},
		},
		{
			name:   "request only-if-cached with nothing stored is a 504",
			origin: respond("max-age=60"),
			steps: []step{
				{header: []string{"Cache-Control: only-if-cached"}, status: 504, origin: 0},
				{status: 200, xcache: "MISS", origin: 1},
				{header: []string{"Cache-Control: only-if-cached"}, status: 200, xcache: "HIT", origin: 1},
			},
		},
		{
			name:   "must-revalidate: never served stale on error",
			origin: failAfter(1, "max-age=1, must-revalidate"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{advance: 5 * time.Second, status: 503, origin: 2},
			},
		},
		{
			name:   "proxy-revalidate: never served stale on error",
			origin: failAfter(1, "max-age=1, proxy-revalidate"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{advance: 5 * time.Second, status: 503, origin: 2},
			},
		},
		{
			name:   "Authorization: not stored without public",
			origin: respond("max-age=60"),
			steps: []step{
				{header: []string{"Authorization: Bearer a"}, status: 200, xcache: "MISS", origin: 1},
				{header: []string{"Authorization: Bearer a"}, status: 200, xcache: "MISS", origin: 2},
			},
		},
		{
			name:   "Authorization: stored with public",
			origin: respond("public, max-age=60"),
			steps: []step{
				{header: []string{"Authorization: Bearer a"}, status: 200, xcache: "MISS", origin: 1},
				{header: []string{"Authorization: Bearer a"}, status: 200, xcache: "HIT", origin: 1},
			},
		},
		{
			name:   "Set-Cookie responses are not stored",
			origin: respond("max-age=60", "Set-Cookie", "session=1"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1, check: hasHeader("Set-Cookie", "session=1")},
				{status: 200, xcache: "MISS", origin: 2},
			},
		},
		{
			name:   "Age on every cached answer",
			origin: respond("max-age=60"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{advance: 7 * time.Second, status: 200, xcache: "HIT", origin: 1, check: hasHeader("Age", "7")},
				{advance: 3 * time.Second, method: "HEAD", status: 200, xcache: "HIT", origin: 1, check: hasHeader("Age", "10")},
			},
		},
		{
			name:   "Age from upstream counts in the age",
			origin: respond("max-age=60", "Age", "50"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{advance: 5 * time.Second, status: 200, xcache: "HIT", origin: 1, check: hasHeader("Age", "55")},
				{advance: 6 * time.Second, status: 200, xcache: "MISS", origin: 2},
			},
		},
		{
			name: "Vary: one stored variant per request header value",
			origin: func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.Set("Cache-Control", "max-age=60")
				ctx.Response.Header.Set("Vary", "Accept-Language")
				ctx.SetBodyString(string(ctx.Request.Header.Peek("Accept-Language")) + strconv.FormatInt(n, 10))
			},
			steps: []step{
				{header: []string{"Accept-Language: en"}, status: 200, xcache: "MISS", body: "en1", origin: 1},
				{
					header: []string{"Accept-Language: fr"}, status: 200, xcache: "MISS", body: "fr2", origin: 2,
					check: hasHeader("Cache-Status", "flowcache; fwd=vary-miss; fwd-status=200; stored"),
				},
				{header: []string{"Accept-Language: en"}, status: 200, xcache: "HIT", body: "en1", origin: 2},
				{header: []string{"Accept-Language: fr"}, status: 200, xcache: "HIT", body: "fr2", origin: 2},
				{status: 200, xcache: "MISS", body: "3", origin: 3},
			},
		},
		{
			name:   "Vary: * is never served from cache",
			origin: respond("max-age=60", "Vary", "*"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{status: 200, xcache: "MISS", origin: 2},
			},
		},
		{
			name:   "client If-None-Match answered from cache with 304",
			origin: etagOrigin("max-age=60"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{header: []string{`If-None-Match: "e1"`}, status: 304, xcache: "HIT", body: "", origin: 1, check: hasHeader("ETag", `"e1"`)},
				{header: []string{`If-None-Match: "other"`}, status: 200, xcache: "HIT", body: "v1", origin: 1},
			},
		},
		{
			name: "client If-Modified-Since answered from cache with 304",
			origin: func(_ int64, _ time.Time, ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.Set("Cache-Control", "max-age=60")
				ctx.Response.Header.Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
				ctx.SetBodyString("v")
			},
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{header: []string{"If-Modified-Since: Tue, 03 Jan 2006 15:04:05 GMT"}, status: 304, xcache: "HIT", origin: 1},
				{header: []string{"If-Modified-Since: Sun, 01 Jan 2006 15:04:05 GMT"}, status: 200, xcache: "HIT", origin: 1},
			},
		},
		{
			name:   "revalidation with the stored ETag: a 304 refreshes the entry",
			origin: etagOrigin("max-age=10"),
			steps: []step{
				{status: 200, xcache: "MISS", body: "v1", origin: 1},
				{
					advance: 20 * time.Second, status: 200, xcache: "REVALIDATED", body: "v1", origin: 2,
					check: hasHeader("Cache-Status", "flowcache; fwd=stale; fwd-status=304; stored"),
				},
				{advance: 5 * time.Second, status: 200, xcache: "HIT", body: "v1", origin: 2, check: hasHeader("Age", "5")},
			},
		},
		{
			name: "revalidation with the stored Last-Modified",
			origin: func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) {
				const lm = "Mon, 02 Jan 2006 15:04:05 GMT"
				ctx.Response.Header.Set("Cache-Control", "max-age=10")
				ctx.Response.Header.Set("Last-Modified", lm)
				if string(ctx.Request.Header.Peek("If-Modified-Since")) == lm {
					ctx.SetStatusCode(304)
					return
				}
				ctx.SetBodyString("v" + strconv.FormatInt(n, 10))
			},
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{advance: 20 * time.Second, status: 200, xcache: "REVALIDATED", body: "v1", origin: 2},
			},
		},
		{
			name:   "stale-while-revalidate: stale served at once, one background refresh",
			origin: respond("max-age=10, stale-while-revalidate=60"),
			steps: []step{
				{status: 200, xcache: "MISS", body: "v1", origin: 1},
				{advance: 20 * time.Second, status: 200, xcache: "STALE", body: "v1", origin: -1, check: waitStored(2)},
				{status: 200, xcache: "HIT", body: "v2", origin: 2},
			},
		},
		{
			name:   "stale-if-error on an upstream 5xx",
			origin: failAfter(1, "max-age=10, stale-if-error=60"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{
					advance: 20 * time.Second, status: 200, xcache: "STALE", body: "v1", origin: 2,
					check: hasHeader("Cache-Status", "flowcache; fwd=stale; fwd-status=503; detail=stale-if-error"),
				},
				{advance: 60 * time.Second, status: 503, origin: 3},
			},
		},
		{
			name:   "CDN-Cache-Control wins over Cache-Control and is passed on (RFC 9213 2.1)",
			origin: respond("max-age=0", "CDN-Cache-Control", "max-age=60"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1, check: hasHeader("CDN-Cache-Control", "max-age=60")},
				{advance: 30 * time.Second, status: 200, xcache: "HIT", origin: 1, check: hasHeader("CDN-Cache-Control", "max-age=60")},
			},
		},
		{
			name:   "Surrogate-Control wins over Cache-Control; it and Surrogate-Key are removed",
			origin: respond("max-age=0", "Surrogate-Control", "max-age=60", "Surrogate-Key", "t1 t2"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1, check: all(hasHeader("Surrogate-Control", ""), hasHeader("Surrogate-Key", ""))},
				{advance: 30 * time.Second, status: 200, xcache: "HIT", origin: 1, check: all(hasHeader("Surrogate-Control", ""), hasHeader("Surrogate-Key", ""))},
			},
		},
		{
			name:   "HEAD served from a cached GET",
			origin: respond("max-age=60"),
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{method: "HEAD", status: 200, xcache: "HIT", body: "", origin: 1, check: hasHeader("Content-Length", "2")},
			},
		},
		{
			name: "successful unsafe method invalidates the target URI",
			origin: func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.Set("Cache-Control", "max-age=60")
				ctx.SetBodyString("v" + strconv.FormatInt(n, 10))
			},
			steps: []step{
				{status: 200, xcache: "MISS", body: "v1", origin: 1},
				{status: 200, xcache: "HIT", origin: 1},
				{method: "POST", status: 200, xcache: "BYPASS", origin: 2},
				{status: 200, xcache: "MISS", body: "v3", origin: 3},
			},
		},
		{
			name: "unsafe method invalidates Location and Content-Location on the same host",
			origin: func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.Set("Cache-Control", "max-age=60")
				if ctx.IsPut() {
					ctx.Response.Header.Set("Location", "/a")
					ctx.Response.Header.Set("Content-Location", "http://example.test/b")
					ctx.SetStatusCode(201)
				}
				ctx.SetBodyString("v" + strconv.FormatInt(n, 10))
			},
			steps: []step{
				{path: "/a", status: 200, xcache: "MISS", origin: 1},
				{path: "/b", status: 200, xcache: "MISS", origin: 2},
				{path: "/c", method: "PUT", status: 201, origin: 3},
				{path: "/a", status: 200, xcache: "MISS", origin: 4},
				{path: "/b", status: 200, xcache: "MISS", origin: 5},
			},
		},
		{
			name: "unsafe method invalidates relative and non-normal Location and Content-Location as keyed",
			origin: func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.Set("Cache-Control", "max-age=60")
				if ctx.IsPut() {
					ctx.Response.Header.Set("Location", "a")
					ctx.Response.Header.Set("Content-Location", "HTTP://Example.Test.:80/dir/..//b")
					ctx.SetStatusCode(201)
				}
				ctx.SetBodyString("v" + strconv.FormatInt(n, 10))
			},
			steps: []step{
				{path: "/dir/a", status: 200, xcache: "MISS", origin: 1},
				{path: "/b", status: 200, xcache: "MISS", origin: 2},
				{path: "/x", status: 200, xcache: "MISS", origin: 3},
				{path: "/dir/c", method: "PUT", status: 201, origin: 4},
				{path: "/dir/a", status: 200, xcache: "MISS", origin: 5},
				{path: "/b", status: 200, xcache: "MISS", origin: 6},
				{path: "/x", status: 200, xcache: "HIT", origin: 6},
			},
		},
		{
			name: "POST answered 303 does not invalidate its Location (POST /logout, 303 /hot)",
			origin: func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) {
				if ctx.IsPost() {
					ctx.Response.Header.Set("Location", "/hot")
					ctx.Response.Header.Set("Content-Location", "/hot")
					ctx.SetStatusCode(fasthttp.StatusSeeOther)
					return
				}
				ctx.Response.Header.Set("Cache-Control", "max-age=60")
				ctx.SetBodyString("v" + strconv.FormatInt(n, 10))
			},
			steps: []step{
				{path: "/hot", status: 200, xcache: "MISS", body: "v1", origin: 1},
				{path: "/logout", method: "POST", status: 303, origin: 2},
				{path: "/hot", status: 200, xcache: "HIT", body: "v1", origin: 2},
			},
		},
		{
			name: "unsafe method answered 3xx still invalidates its target URI",
			origin: func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) {
				if ctx.IsPost() {
					ctx.Response.Header.Set("Location", "/elsewhere")
					ctx.SetStatusCode(fasthttp.StatusFound)
					return
				}
				ctx.Response.Header.Set("Cache-Control", "max-age=60")
				ctx.SetBodyString("v" + strconv.FormatInt(n, 10))
			},
			steps: []step{
				{status: 200, xcache: "MISS", body: "v1", origin: 1},
				{method: "POST", status: 302, origin: 2},
				{status: 200, xcache: "MISS", body: "v3", origin: 3},
			},
		},
		{
			name: "unsafe method does not invalidate Location or Content-Location on another host",
			origin: func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.Set("Cache-Control", "max-age=60")
				if ctx.IsPut() {
					ctx.Response.Header.Set("Location", "http://other.test/a")
					ctx.Response.Header.Set("Content-Location", "//other.test/b")
					ctx.SetStatusCode(201)
				}
				ctx.SetBodyString("v" + strconv.FormatInt(n, 10))
			},
			steps: []step{
				{path: "/a", status: 200, xcache: "MISS", origin: 1},
				{path: "/b", status: 200, xcache: "MISS", origin: 2},
				{path: "/c", method: "PUT", status: 201, origin: 3},
				{path: "/a", status: 200, xcache: "HIT", origin: 3},
				{path: "/b", status: 200, xcache: "HIT", origin: 3},
			},
		},
		{
			name: "failed unsafe method invalidates nothing",
			origin: func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.Set("Cache-Control", "max-age=60")
				if ctx.IsDelete() {
					ctx.SetStatusCode(500)
				}
				ctx.SetBodyString("v" + strconv.FormatInt(n, 10))
			},
			steps: []step{
				{status: 200, xcache: "MISS", origin: 1},
				{method: "DELETE", status: 500, origin: 2},
				{status: 200, xcache: "HIT", body: "v1", origin: 2},
			},
		},
		{
			name:   "a Range miss fetches the whole representation, stores it and answers the range (RFC 9110 14.2)",
			origin: rangeOrigin("max-age=60"),
			steps: []step{
				{
					header: []string{"Range: bytes=0-0", `If-Range: "e1"`}, status: 206, xcache: "MISS", body: "w", origin: 1,
					check: all(hasHeader("X-Got-Range", ""), hasHeader("X-Got-If-Range", ""), hasHeader("Content-Range", "bytes 0-0/8")),
				},
				{status: 200, xcache: "HIT", body: "whole-v1", origin: 1},
				{header: []string{"Range: bytes=0-0"}, status: 206, xcache: "HIT", body: "w", origin: 1},
			},
		},
		{
			name:   "a 206 is never stored, whatever its freshness",
			origin: func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) { partial(ctx, "max-age=60", n) },
			steps: []step{
				{status: 206, xcache: "MISS", origin: 1},
				{status: 206, xcache: "MISS", origin: 2},
			},
		},
		{
			name:   "a bypassed request forwards Range and If-Range together",
			config: func(c *gateway.Config) { c.Routes[0].NoCache = true },
			origin: rangeOrigin("max-age=60"),
			steps: []step{
				{
					header: []string{"Range: bytes=0-0", `If-Range: "e1"`}, status: 206, xcache: "BYPASS", body: "w", origin: 1,
					check: all(hasHeader("X-Got-Range", "bytes=0-0"), hasHeader("X-Got-If-Range", `"e1"`)),
				},
			},
		},
	}
	runRFC(t, tests)
}

// rfcCase is one RFC rule: an origin, a gateway configuration and the
// requests that show the rule.
type rfcCase struct {
	name   string
	config func(*gateway.Config) // changes to gatewaytest.Config, if any
	origin originFunc
	steps  []step
}

// runRFC plays each case in a parallel subtest.
func runRFC(t *testing.T, tests []rfcCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			playRFC(t, tc)
		})
	}
}

// playRFC plays tc's steps against a real origin on loopback through a
// real gateway, with an injected clock.
func playRFC(t *testing.T, tc rfcCase) {
	t.Helper()
	clock := gatewaytest.NewClock(testStart)
	var n atomic.Int64
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		tc.origin(n.Add(1), clock.Now(), ctx)
	})
	cfg := gatewaytest.Config(o.URL)
	if tc.config != nil {
		tc.config(cfg)
	}
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{Now: clock.Now})
	for i, s := range tc.steps {
		clock.Advance(s.advance)
		method, path := s.method, s.path
		if method == "" {
			method = "GET"
		}
		if path == "" {
			path = "/r"
		}
		r := g.Do(t, method, path, s.header...)
		if r.Status != s.status {
			t.Errorf("step %d: %s %s: status %d, want %d (Cache-Status %q)", i, method, path, r.Status, s.status, r.Get("Cache-Status"))
		}
		if s.xcache != "" && r.Get("X-Cache") != s.xcache {
			t.Errorf("step %d: X-Cache = %q, want %q (Cache-Status %q)", i, r.Get("X-Cache"), s.xcache, r.Get("Cache-Status"))
		}
		if r.Get("X-Cache") == "" || r.Get("Cache-Status") == "" {
			t.Errorf("step %d: missing X-Cache or Cache-Status", i)
		}
		if s.body != "" && string(r.Body) != s.body {
			t.Errorf("step %d: body %q, want %q", i, r.Body, s.body)
		}
		if s.check != nil {
			s.check(t, r, g)
		}
		if got := o.Requests(); s.origin >= 0 && got != s.origin {
			t.Errorf("step %d: origin saw %d requests, want %d", i, got, s.origin)
		}
	}
}

func all(checks ...func(*testing.T, *gatewaytest.Response, *gatewaytest.Gateway)) func(*testing.T, *gatewaytest.Response, *gatewaytest.Gateway) {
	return func(t *testing.T, r *gatewaytest.Response, g *gatewaytest.Gateway) {
		t.Helper()
		for _, c := range checks {
			c(t, r, g)
		}
	}
}

// etagOrigin answers with ETag "e1" and cacheControl, and 304 to a
// request that carries it.
func etagOrigin(cacheControl string) originFunc {
	return func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", cacheControl)
		ctx.Response.Header.Set("ETag", `"e1"`)
		if string(ctx.Request.Header.Peek("If-None-Match")) == `"e1"` {
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			return
		}
		ctx.SetBodyString("v" + strconv.FormatInt(n, 10))
	}
}

// failAfter answers the first ok requests with cacheControl, then 503.
func failAfter(ok int64, cacheControl string) originFunc {
	return func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) {
		if n > ok {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString("down")
			return
		}
		ctx.Response.Header.Set("Cache-Control", cacheControl)
		ctx.SetBodyString("v" + strconv.FormatInt(n, 10))
	}
}

// waitStored waits until the gateway has stored n responses (a
// background refresh), without asserting on time.
func waitStored(n float64) func(t *testing.T, r *gatewaytest.Response, g *gatewaytest.Gateway) {
	return func(t *testing.T, _ *gatewaytest.Response, g *gatewaytest.Gateway) {
		t.Helper()
		gatewaytest.WaitFor(t, "the background refresh", func() bool {
			return g.Metric(t, `flowcache_cache_stores_total{route="api"}`) >= n
		})
	}
}

// rangeOrigin answers "whole-vN" with ETag "e1" and cacheControl, or its
// first byte as a 206 to a Range request; it echoes the Range and If-Range
// it received in X-Got-Range and X-Got-If-Range.
func rangeOrigin(cacheControl string) originFunc {
	return func(n int64, _ time.Time, ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("X-Got-Range", string(ctx.Request.Header.Peek("Range")))
		ctx.Response.Header.Set("X-Got-If-Range", string(ctx.Request.Header.Peek("If-Range")))
		ctx.Response.Header.Set("ETag", `"e1"`)
		if len(ctx.Request.Header.Peek("Range")) > 0 {
			partial(ctx, cacheControl, n)
			return
		}
		ctx.Response.Header.Set("Cache-Control", cacheControl)
		ctx.SetBodyString("whole-v" + strconv.FormatInt(n, 10))
	}
}

// partial answers a 206 with the first byte of "whole-vN".
func partial(ctx *fasthttp.RequestCtx, cacheControl string, n int64) {
	whole := "whole-v" + strconv.FormatInt(n, 10)
	ctx.Response.Header.Set("Cache-Control", cacheControl)
	ctx.Response.Header.Set("Content-Range", "bytes 0-0/"+strconv.Itoa(len(whole)))
	ctx.SetStatusCode(fasthttp.StatusPartialContent)
	ctx.SetBodyString(whole[:1])
}
