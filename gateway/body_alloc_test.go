//go:build !race

package gateway

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// TestGateway_BodyGateAllocs: what the data-plane server adds before
// handle on every request (headerReceived's body limit, serveData's check)
// allocates nothing on an L1 hit.
//
// Not parallel: AllocsPerRun counts the whole process's allocations.
func TestGateway_BodyGateAllocs(t *testing.T) {
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.SetBody(make([]byte, 512))
	})
	g := newTestGateway(t, testConfig(up))
	var ctx fasthttp.RequestCtx
	serve(g, &ctx, newRequest("GET", "/hit", "example.test", "Content-Length", "0"), loopbackAddr)
	serve(g, &ctx, newRequest("GET", "/hit", "example.test", "Content-Length", "0"), loopbackAddr)
	if got := string(ctx.Response.Header.Peek("X-Cache")); got != "HIT" {
		t.Fatalf("X-Cache %q, want HIT", got)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		ctx.Response.Reset()
		g.headerReceived(&ctx.Request.Header)
		g.serveData(&ctx)
	})
	if allocs != 0 {
		t.Errorf("L1 hit through headerReceived and serveData allocates %v times per request, want 0", allocs)
	}
}
