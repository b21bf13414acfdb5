//go:build !race

package gateway

import (
	"context"
	_ "embed"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/plugins"
)

// taggedPolicy is built from testdata/policies/tagged.wat (see
// policies_test.go).
//
//go:embed testdata/policies/tagged.wasm
var taggedPolicy []byte

// TestGateway_PolicyHitAllocs: an L1 hit keyed by a WebAssembly policy
// version from the store (lease, key space, Flowcache-Policy header, lease
// release) allocates nothing.
//
// Not parallel: AllocsPerRun counts the whole process's allocations.
func TestGateway_PolicyHitAllocs(t *testing.T) {
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.SetBody(make([]byte, 2048))
	})
	rt, err := plugins.NewRuntime(plugins.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := plugins.OpenStore(rt, plugins.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		store.Close()
		if err := rt.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if _, err := store.Put(context.Background(), "tagged", taggedPolicy, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(up)
	cfg.Routes[0].Policy = "tagged"
	pc := plugins.DefaultConfig()
	pc.Module = "tagged.wasm" // uploaded above, never read
	cfg.Policies = map[string]plugins.Config{"tagged": pc}
	g := newTestGateway(t, cfg)
	g.policies = store

	var ctx fasthttp.RequestCtx
	serve(g, &ctx, newRequest("GET", "/hit?a=1", "example.test"), loopbackAddr)
	serve(g, &ctx, newRequest("GET", "/hit?a=1", "example.test"), loopbackAddr)
	if got := string(ctx.Response.Header.Peek("X-Cache")); got != "HIT" {
		t.Fatalf("X-Cache %q, want HIT", got)
	}
	if got := string(ctx.Response.Header.Peek("Flowcache-Policy")); len(got) != len("tagged@")+12 {
		t.Fatalf("Flowcache-Policy %q, want tagged@<version>", got)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		ctx.Response.Reset()
		g.handle(&ctx)
	})
	if allocs != 0 {
		t.Errorf("L1 hit with a WASM policy allocates %v times per request, want 0", allocs)
	}
}
