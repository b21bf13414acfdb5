//go:build !race

package gateway

import (
	"io"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestAccessLog_HitAllocs: with the access log on, in either format, an
// L1 hit still allocates nothing: the line is formatted into a pooled
// buffer and queued for the writer goroutine.
//
// Not parallel: AllocsPerRun counts the whole process's allocations.
func TestAccessLog_HitAllocs(t *testing.T) {
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.SetBody(make([]byte, 2048))
	})
	for _, format := range []string{accessJSON, accessCombined} {
		cfg := testConfig(up)
		cfg.Log.Access = format
		cfg.Server.TrustedProxies = []string{"127.0.0.0/8"}
		g := newTestGatewayWith(t, cfg, Options{AccessLog: io.Discard})
		var ctx fasthttp.RequestCtx
		req := newRequest("GET", "/hit?a=1", "example.test", "User-Agent", "alloc-test", "X-Forwarded-For", "198.51.100.9")
		serve(g, &ctx, req, loopbackAddr)
		serve(g, &ctx, req, loopbackAddr)
		if got := string(ctx.Response.Header.Peek("X-Cache")); got != "HIT" {
			t.Fatalf("%s: X-Cache %q, want HIT", format, got)
		}
		allocs := testing.AllocsPerRun(1000, func() {
			ctx.Response.Reset()
			g.handle(&ctx)
		})
		if allocs != 0 {
			t.Errorf("%s: L1 hit with the access log allocates %v times per request, want 0", format, allocs)
		}
		if err := g.access.close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHotKeys_ObserveAllocs: counting a request in the hot-key summaries
// allocates nothing once its URL has a slot, sampled or not.
//
// Not parallel: AllocsPerRun counts the whole process's allocations.
func TestHotKeys_ObserveAllocs(t *testing.T) {
	h := newHotKeys(time.Now)
	rt := &route{cfg: &RouteConfig{Name: "api"}, name: []byte("api")}
	var ctx fasthttp.RequestCtx
	ctx.Init(newRequest("GET", "/hit?a=1", "example.test"), loopbackAddr, nil)
	ctx.SetBody(make([]byte, 100))
	for range 40 * hotSample { // sampled for sure: the URL takes its slots
		h.observe(&ctx, rt, outcomeMiss)
	}
	var n int
	for range 1000 {
		n += int(testing.AllocsPerRun(1, func() { h.observe(&ctx, rt, outcomeMiss) }))
	}
	if n != 0 {
		t.Errorf("1000 observations allocated %d times, want 0", n)
	}
}
