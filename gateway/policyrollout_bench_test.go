package gateway

import (
	"context"
	_ "embed"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/plugins"
)

//go:embed testdata/policies/tagged.wasm
var rolloutPolicy []byte

// rolloutGateway returns a gateway whose route uses policy "tagged" from a
// store with version v0 active and, when mode is set, v1 staged with share.
func rolloutGateway(tb testing.TB, mode plugins.Mode, share plugins.Share) *Gateway {
	tb.Helper()
	up := testOrigin(tb, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.SetBody(make([]byte, 2048))
	})
	rt, err := plugins.NewRuntime(plugins.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	store, err := plugins.OpenStore(rt, plugins.StoreOptions{Rollout: plugins.RolloutConfig{ShadowQueue: 4}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		store.Close()
		if err := rt.Close(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	ctx := context.Background()
	if _, err := store.Put(ctx, "tagged", rolloutPolicy, map[string]any{"v": 0}); err != nil {
		tb.Fatal(err)
	}
	if mode != "" {
		if _, err := store.Stage(ctx, "tagged", rolloutPolicy, map[string]any{"v": 1}, mode, share); err != nil {
			tb.Fatal(err)
		}
	}
	cfg := testConfig(up)
	cfg.Routes[0].Policy = "tagged"
	pc := plugins.DefaultConfig()
	pc.Module = "tagged.wasm" // uploaded above, never read
	cfg.Policies = map[string]plugins.Config{"tagged": pc}
	g := newTestGateway(tb, cfg)
	g.policies = store
	return g
}

// BenchmarkGateway_PolicyHit: an L1 hit keyed by a WebAssembly policy:
// the active version alone, with a canary at 50% (the URL's side), and
// with a shadow sampling 0% (the request path's own cost), 10% and 100% of the requests (the shadow's worker
// runs beside, on the same cores; a full queue drops samples).
func BenchmarkGateway_PolicyHit(b *testing.B) {
	cases := []struct {
		name  string
		mode  plugins.Mode
		share plugins.Share
	}{{"active", "", 0}, {"canary50", plugins.ModeCanary, 5000}, {"shadow0", plugins.ModeShadow, 0}, {"shadow10", plugins.ModeShadow, 1000}, {"shadow100", plugins.ModeShadow, plugins.FullShare}}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			benchHit(b, rolloutGateway(b, bc.mode, bc.share))
		})
	}
}
