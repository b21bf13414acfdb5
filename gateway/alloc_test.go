//go:build !race

package gateway

import (
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestGateway_HitAllocs proves the L1 hit path allocates nothing: a full
// request through the data-plane handler (framing check, routing, policy
// key, L1 read, entry decode, freshness, response with Age, X-Cache and
// Cache-Status), on fasthttp's in-memory request context.
//
// Not parallel: AllocsPerRun counts the whole process's allocations.
func TestGateway_HitAllocs(t *testing.T) {
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.Response.Header.Set("Content-Type", "application/json")
		ctx.Response.Header.Set("ETag", `"v1"`)
		switch string(ctx.Path()) {
		case "/vary":
			ctx.Response.Header.Set("Vary", "Accept-Language, Accept")
		case "/big":
			ctx.SetBody(make([]byte, 40<<10)) // chunked: a 4MiB L1 takes 4KiB entries
			return
		case "/large":
			ctx.SetBody(make([]byte, 100<<10)) // the large-object tier (cache.large_min_size; at most an eighth of its 1MiB)
			return
		}
		ctx.SetBody(make([]byte, 2048))
	})
	tests := []struct {
		name   string
		uri    string
		header []string
	}{
		{"plain", "/hit?a=1&b=2", []string{"Accept", "*/*", "User-Agent", "alloc-test"}},
		{"HEAD", "/hit?a=1&b=2", nil},
		{"conditional 304", "/hit?a=1&b=2", []string{"If-None-Match", `"v1"`}},
		{"Vary variant", "/vary", []string{"Accept-Language", "en, fr", "Accept", "*/*"}},
		{"chunked body", "/big", nil},
		{"Range", "/hit?a=1&b=2", []string{"Range", "bytes=100-199"}},
		{"multipart Range", "/hit?a=1&b=2", []string{"Range", "bytes=0-9,100-199,-10"}},
		{"Range of a chunked body", "/big", []string{"Range", "bytes=-100"}},
		{"large object", "/large", nil},
		{"Range of a large object", "/large", []string{"Range", "bytes=-100"}},
	}
	g := newTestGateway(t, testConfig(up))
	for _, tc := range tests {
		method := "GET"
		if tc.name == "HEAD" {
			method = "HEAD"
		}
		var ctx fasthttp.RequestCtx
		serve(g, &ctx, newRequest("GET", tc.uri, "example.test", tc.header...), loopbackAddr) // fill the cache
		serve(g, &ctx, newRequest(method, tc.uri, "example.test", tc.header...), loopbackAddr)
		if got := string(ctx.Response.Header.Peek("X-Cache")); got != "HIT" {
			t.Fatalf("%s: X-Cache %q, want HIT", tc.name, got)
		}
		if tc.name == "conditional 304" && ctx.Response.StatusCode() != 304 {
			t.Fatalf("%s: status %d, want 304", tc.name, ctx.Response.StatusCode())
		}
		allocs := testing.AllocsPerRun(1000, func() {
			ctx.Response.Reset()
			g.handle(&ctx)
		})
		if allocs != 0 {
			t.Errorf("%s: L1 hit allocates %v times per request, want 0", tc.name, allocs)
		}
	}
}

// TestRouter_MatchAllocs: routing allocates nothing.
func TestRouter_MatchAllocs(t *testing.T) {
	r := newRouter([]*route{
		{cfg: &RouteConfig{Name: "a", Host: "a.example"}, prefix: []byte("/api")},
		{cfg: &RouteConfig{Name: "b", Host: "*"}, prefix: []byte("/")},
	})
	host, path := []byte("A.Example:80"), []byte("/api/x")
	if got := testing.AllocsPerRun(1000, func() { r.match(host, path) }); got != 0 {
		t.Errorf("match allocates %v times, want 0", got)
	}
}

// TestGateway_ClientAllocs: finding the client behind trusted proxies does
// not allocate.
func TestGateway_ClientAllocs(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1")
	cfg.Server.TrustedProxies = []string{"10.0.0.0/8"}
	g := newTestGateway(t, cfg)
	req := newRequest("GET", "/p", "example.test",
		"X-Forwarded-For", "198.51.100.9, 2001:db8::1, 10.1.2.3", "X-Forwarded-Proto", "https, https, http")
	var ctx fasthttp.RequestCtx
	ctx.Init(req, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 1}, nil)
	ip, https := g.client(&ctx)
	if ip.String() != "2001:db8::1" || !https {
		t.Fatalf("client = %v, %v; want 2001:db8::1, true", ip, https)
	}
	if n := testing.AllocsPerRun(1000, func() { g.client(&ctx) }); n != 0 {
		t.Errorf("client allocates %v times, want 0", n)
	}
}

// TestGateway_ClientAllocsForwarded: the same with real_ip_header =
// "Forwarded".
func TestGateway_ClientAllocsForwarded(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1")
	cfg.Server.TrustedProxies = []string{"10.0.0.0/8"}
	cfg.Server.RealIPHeader = "Forwarded"
	g := newTestGateway(t, cfg)
	req := newRequest("GET", "/p", "example.test",
		"Forwarded", `for=198.51.100.9;proto=http, for="[2001:db8::1]:443";proto=https, for=10.1.2.3`)
	var ctx fasthttp.RequestCtx
	ctx.Init(req, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 1}, nil)
	if ip, https := g.client(&ctx); ip.String() != "2001:db8::1" || !https {
		t.Fatalf("client = %v, %v; want 2001:db8::1, true", ip, https)
	}
	if n := testing.AllocsPerRun(1000, func() { g.client(&ctx) }); n != 0 {
		t.Errorf("client allocates %v times, want 0", n)
	}
}

// TestDroppedRequestHeader_Allocs: the header family filter allocates
// nothing.
func TestDroppedRequestHeader_Allocs(t *testing.T) {
	names := [][]byte{[]byte("X-HTTP-Method-Override"), []byte("Accept-Language"), []byte("X-Envoy-Original-Path"), []byte("CF-Connecting-IP")}
	if n := testing.AllocsPerRun(1000, func() {
		for _, name := range names {
			droppedRequestHeader(name)
		}
	}); n != 0 {
		t.Errorf("droppedRequestHeader allocates %v times, want 0", n)
	}
}

// TestGateway_HitAllocsTrustedProxy: an L1 hit from behind a trusted proxy
// (the policy view's scheme comes from X-Forwarded-Proto) allocates
// nothing either.
func TestGateway_HitAllocsTrustedProxy(t *testing.T) {
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.SetBody(make([]byte, 2048))
	})
	cfg := testConfig(up)
	cfg.Server.TrustedProxies = []string{"10.0.0.0/8"}
	g := newTestGateway(t, cfg)
	proxy := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 40000}
	hdr := []string{"X-Forwarded-For", "198.51.100.9, 10.1.2.3", "X-Forwarded-Proto", "https"}
	var ctx fasthttp.RequestCtx
	serve(g, &ctx, newRequest("GET", "/hit", "Example.test:8080", hdr...), proxy)
	serve(g, &ctx, newRequest("GET", "/hit", "Example.test:8080", hdr...), proxy)
	if got := string(ctx.Response.Header.Peek("X-Cache")); got != "HIT" {
		t.Fatalf("X-Cache %q, want HIT", got)
	}
	if allocs := testing.AllocsPerRun(1000, func() {
		ctx.Response.Reset()
		g.handle(&ctx)
	}); allocs != 0 {
		t.Errorf("L1 hit behind a trusted proxy allocates %v times per request, want 0", allocs)
	}
}
