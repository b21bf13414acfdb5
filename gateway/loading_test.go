package gateway

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/internal/units"
	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// keyCounter is the default policy, counting its Key calls.
type keyCounter struct {
	policy.Default
	keys atomic.Int64
}

func (p *keyCounter) Key(r *policy.Request, k *policy.Key) error {
	p.keys.Add(1)
	return p.Default.Key(r, k)
}

// loadingSource serves policy "p" once loaded is set, as a store does once
// its Prepare is committed.
type loadingSource struct {
	loaded atomic.Bool
	p      *keyCounter
}

func (s *loadingSource) Policy(name string) (policy.Policy, bool) {
	if name != "p" || !s.loaded.Load() {
		return nil, false
	}
	return s.p, true
}

func loadingGateway(t *testing.T, wait time.Duration) (*Gateway, *loadingSource) {
	t.Helper()
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("x") })
	cfg := testConfig(up)
	cfg.Server.ListenWhileLoading = true
	cfg.Server.LoadingWait = units.Duration(wait)
	cfg.Routes[0].Policy = "p"
	pc := plugins.DefaultConfig()
	pc.Module = "p.wasm" // never loaded: the source serves "p"
	cfg.Policies = map[string]plugins.Config{"p": pc}
	g := newTestGateway(t, cfg)
	src := &loadingSource{p: &keyCounter{}}
	g.policies = src
	return g, src
}

func readyz(g *Gateway) (int, string) {
	var ctx fasthttp.RequestCtx
	ctx.Init(newRequest("GET", "/readyz", "127.0.0.1"), loopbackAddr, nil)
	g.handleAdmin(&ctx)
	return ctx.Response.StatusCode(), string(ctx.Response.Body())
}

// TestGateway_PoliciesLoading: while policies load, /readyz answers 503
// "loading" and a request for a route with a policy waits; once they are
// loaded, the request goes on with the route's policy and /readyz is 200.
func TestGateway_PoliciesLoading(t *testing.T) {
	t.Parallel()
	g, src := loadingGateway(t, time.Minute) // far longer than the test: the request must wait for loaded
	loaded := g.PoliciesLoading()
	if status, body := readyz(g); status != 503 || body != `{"status":"loading","policies":"loading"}`+"\n" {
		t.Errorf("/readyz while loading = %d %q, want 503 loading", status, body)
	}
	done := make(chan int, 1)
	go func() {
		var ctx fasthttp.RequestCtx
		serve(g, &ctx, newRequest("GET", "/a", "example.test"), loopbackAddr)
		done <- ctx.Response.StatusCode()
	}()
	// The request cannot finish before loaded (it would have used the
	// default policy): give it every chance to, then check it did not.
	for range 100 {
		select {
		case status := <-done:
			t.Fatalf("request answered %d while policies were loading", status)
		default:
			time.Sleep(time.Millisecond) // bounded: 100 rounds
		}
	}
	src.loaded.Store(true)
	loaded()
	loaded() // a second call is harmless
	if status := <-done; status != 200 {
		t.Errorf("request after loading = %d, want 200", status)
	}
	if n := src.p.keys.Load(); n != 1 {
		t.Errorf("route policy called %d times, want 1 (the request used it, not the default)", n)
	}
	if status, _ := readyz(g); status != 200 {
		t.Errorf("/readyz after loading = %d, want 200", status)
	}
}

// TestGateway_PoliciesLoadingTimeout: a request that waits longer than
// server.loading_wait is served with the route's default policy, counted
// as a fallback; a route with policy "default" never waits.
func TestGateway_PoliciesLoadingTimeout(t *testing.T) {
	t.Parallel()
	g, src := loadingGateway(t, 0)
	loaded := g.PoliciesLoading()
	defer loaded()
	var ctx fasthttp.RequestCtx
	serve(g, &ctx, newRequest("GET", "/a", "example.test"), loopbackAddr)
	if status := ctx.Response.StatusCode(); status != 200 {
		t.Errorf("request while loading = %d, want 200 with the default policy", status)
	}
	if n := src.p.keys.Load(); n != 0 {
		t.Errorf("route policy called %d times while loading, want 0", n)
	}
	rt := g.st.Load().routes[0]
	if n := rt.m.policyFallbacks.Get(); n != 1 {
		t.Errorf("flowcache_policy_fallbacks_total = %d, want 1", n)
	}
}
