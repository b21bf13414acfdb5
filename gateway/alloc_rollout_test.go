//go:build !race

package gateway

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/plugins"
)

// TestGateway_RolloutHitAllocs: an L1 hit allocates nothing with a canary
// running (on either side) or a shadow sampling every request.
//
// Not parallel: AllocsPerRun counts the whole process's allocations.
func TestGateway_RolloutHitAllocs(t *testing.T) {
	for _, tt := range []struct {
		name  string
		mode  plugins.Mode
		share plugins.Share
	}{{"canary on", plugins.ModeCanary, plugins.FullShare}, {"canary off", plugins.ModeCanary, 0}, {"shadow", plugins.ModeShadow, plugins.FullShare}} {
		g := rolloutGateway(t, tt.mode, tt.share)
		var ctx fasthttp.RequestCtx
		for range 50 { // a miss, then hits; warms the shadow's jobs
			serve(g, &ctx, newRequest("GET", "/hit?a=1", "example.test"), loopbackAddr)
		}
		if got := string(ctx.Response.Header.Peek("X-Cache")); got != "HIT" {
			t.Fatalf("%s: X-Cache %q, want HIT", tt.name, got)
		}
		allocs := testing.AllocsPerRun(1000, func() {
			ctx.Response.Reset()
			g.handle(&ctx)
		})
		if allocs != 0 {
			t.Errorf("%s: an L1 hit allocates %v times per request, want 0", tt.name, allocs)
		}
	}
}
