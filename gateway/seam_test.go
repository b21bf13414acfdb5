package gateway

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// fakeL2 is an in-memory l2Tier recording what the gateway writes.
type fakeL2 struct {
	mu   sync.Mutex
	m    map[string][]byte
	ix   []l2Index
	gets int
}

func (f *fakeL2) Enabled() bool { return true }
func (f *fakeL2) Seq() uint64   { return 7 }
func (f *fakeL2) Get(_ context.Context, key, dst []byte) ([]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	v, ok := f.m[string(key)]
	return append(dst[:0], v...), ok, nil
}

func (f *fakeL2) Set(key, value []byte, _ time.Duration, ix *l2Index) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[string(key)] = bytes.Clone(value)
	f.ix = append(f.ix, l2Index{Tags: bytes.Clone(ix.Tags), Host: bytes.Clone(ix.Host), Path: bytes.Clone(ix.Path), Seq: ix.Seq})
}

func (f *fakeL2) Delete(_ context.Context, keys ...[]byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, k := range keys {
		if _, ok := f.m[string(k)]; ok {
			delete(f.m, string(k))
			n++
		}
	}
	return n, nil
}
func (f *fakeL2) Close() error { return nil }

// TestGateway_L2Seam: with an L2 tier plugged in, stores go to both tiers
// (L2 whole, L1 in chunks) with the purge index, an L1 miss is answered from L2 (and promoted), and
// PURGE removes from both.
func TestGateway_L2Seam(t *testing.T) {
	t.Parallel()
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.Response.Header.Set("Surrogate-Key", "k1 k2")
		ctx.SetBody(make([]byte, 10<<10)) // chunked in a 4MiB L1
	})
	g := newTestGateway(t, testConfig(up))
	l2 := &fakeL2{m: map[string][]byte{}}
	g.l2 = l2
	do := func(method string) *fasthttp.RequestCtx {
		var ctx fasthttp.RequestCtx
		serve(g, &ctx, newRequest(method, "/l2?x=1", "Example.test"), loopbackAddr)
		return &ctx
	}
	do("GET")
	l2.mu.Lock()
	if len(l2.ix) != 1 {
		t.Fatalf("L2 got %d writes, want the entry whole", len(l2.ix))
	}
	ix := l2.ix[len(l2.ix)-1]
	l2.mu.Unlock()
	if string(ix.Host) != "example.test" || string(ix.Path) != "/l2?x=1" || string(ix.Tags) != "k1 k2" || ix.Seq != 7 {
		t.Errorf("L2 index = host %q path %q tags %q seq %d", ix.Host, ix.Path, ix.Tags, ix.Seq)
	}
	g.flushL1()
	ctx := do("GET")
	if got := string(ctx.Response.Header.Peek("X-Cache")); got != "HIT-L2" || len(ctx.Response.Body()) != 10<<10 {
		t.Errorf("after flushL1: X-Cache %q, %d bytes; want a HIT from L2", got, len(ctx.Response.Body()))
	}
	if got := g.l1.c.EntryCount(); got == 0 {
		t.Errorf("the L2 hit was not promoted to L1")
	}
	if ctx := do("PURGE"); ctx.Response.StatusCode() != 200 {
		t.Errorf("PURGE = %d", ctx.Response.StatusCode())
	}
	l2.mu.Lock()
	left := len(l2.m)
	l2.mu.Unlock()
	if left != 0 {
		t.Errorf("%d records left in L2 after PURGE", left)
	}
}

// stripPolicy keys without the "utm" query parameter, stores Set-Cookie
// responses (overriding the default), and fails for path /fail.
type stripPolicy struct{}

func (p *stripPolicy) Key(r *policy.Request, k *policy.Key) error {
	if string(r.Path) == "/fail" {
		return errors.New("stripPolicy: fail")
	}
	k.Host = append(k.Host, r.Host...)
	k.Target = append(k.Target, r.Path...)
	first := true
	for _, kv := range strings.Split(string(r.Query), "&") {
		if kv == "" || strings.HasPrefix(kv, "utm=") {
			continue
		}
		if first {
			k.Target = append(k.Target, '?')
		} else {
			k.Target = append(k.Target, '&')
		}
		first = false
		k.Target = append(k.Target, kv...)
	}
	return nil
}

func (p *stripPolicy) Decide(_ *policy.Request, resp *policy.Response, d *policy.Decision) error {
	if resp.Headers.Has("set-cookie") {
		d.Store, d.TTL = true, time.Minute
	}
	return nil
}

type oneSource struct{ p policy.Policy }

func (s oneSource) Policy(name string) (policy.Policy, bool) { return s.p, name == "strip" }

// TestGateway_PolicySeam: a route's own policy (the WASM seam) keys the
// request, its Target is what the upstream receives, its Decide overrides
// the default's, and its failure falls back to the default policy.
func TestGateway_PolicySeam(t *testing.T) {
	t.Parallel()
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.Response.Header.Set("Set-Cookie", "a=b")
		ctx.Response.Header.Set("X-URI", string(ctx.RequestURI()))
	})
	cfg := testConfig(up)
	cfg.Routes[0].Policy = "strip"
	pc := plugins.DefaultConfig()
	pc.Module = "strip.wasm" // never loaded: the source below serves "strip"
	cfg.Policies = map[string]plugins.Config{"strip": pc}
	g := newTestGateway(t, cfg)
	g.policies = oneSource{p: &stripPolicy{}}
	get := func(uri string) *fasthttp.RequestCtx {
		var ctx fasthttp.RequestCtx
		serve(g, &ctx, newRequest("GET", uri, "example.test"), loopbackAddr)
		return &ctx
	}
	ctx := get("/p?utm=1&a=2")
	if got := string(ctx.Response.Header.Peek("X-URI")); got != "/p?a=2" {
		t.Errorf("upstream request URI %q, want /p?a=2 (the key's target)", got)
	}
	if got := string(ctx.Response.Header.Peek("Set-Cookie")); got != "a=b" {
		t.Errorf("the first client lost Set-Cookie: %q", got)
	}
	ctx = get("/p?a=2&utm=9")
	if got := string(ctx.Response.Header.Peek("X-Cache")); got != "HIT" {
		t.Errorf("same key, other utm: X-Cache %q, want HIT (the policy stored a Set-Cookie response)", got)
	}
	if got := ctx.Response.Header.Peek("Set-Cookie"); len(got) != 0 {
		t.Errorf("a cached answer carries Set-Cookie %q", got)
	}
	get("/fail")
	if got := g.st.Load().routes[0].m.policyFallbacks.Get(); got != 1 {
		t.Errorf("policy fallbacks = %d, want 1", got)
	}
}
