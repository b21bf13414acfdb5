package gateway

import (
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/internal/units"
)

// testOrigin is an upstream on loopback for the in-package tests (the
// gatewaytest harness imports this package, so it cannot be used here).
func testOrigin(tb testing.TB, h fasthttp.RequestHandler) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &fasthttp.Server{Handler: h}
	go func() {
		// Serve ends when the listener closes in Cleanup.
		_ = s.Serve(ln)
	}()
	tb.Cleanup(func() {
		// Shutdown cannot fail on a started server.
		_ = s.Shutdown()
	})
	return "http://" + ln.Addr().String()
}

func testConfig(upstream string) *Config {
	cfg := DefaultConfig()
	cfg.Cache.L1Size = 4 << 20
	cfg.Cache.MaxObjectSize = 256 << 10
	cfg.Routes = []RouteConfig{{Name: "api", Upstreams: []string{upstream}}}
	RouteDefaults(&cfg.Routes[0])
	cfg.Routes[0].Timeout = units.Duration(10 * time.Second)
	return &cfg
}

func newTestGateway(tb testing.TB, cfg *Config) *Gateway {
	tb.Helper()
	return newTestGatewayWith(tb, cfg, Options{})
}

// serve runs the data-plane handler on an in-memory request context, as
// fasthttp would for a client at remote.
func serve(g *Gateway, ctx *fasthttp.RequestCtx, req *fasthttp.Request, remote net.Addr) {
	ctx.Init(req, remote, nil)
	g.handle(ctx)
}

var (
	loopbackAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	remoteAddr   = &net.TCPAddr{IP: net.IPv4(203, 0, 113, 7), Port: 40000}
)

func newRequest(method, uri, host string, header ...string) *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	req.Header.SetHost(host)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

// TestGateway_PurgeAuth: with a token set, PURGE needs it from every
// client, loopback included; with none, only loopback is allowed.
func TestGateway_PurgeAuth(t *testing.T) {
	t.Parallel()
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBodyString("x")
	})
	tests := []struct {
		name   string
		token  string
		remote net.Addr
		auth   string
		status int
	}{
		{"loopback, no token configured", "", loopbackAddr, "", 200},
		{"remote, no token configured", "", remoteAddr, "Bearer anything", 403},
		{"remote, right token", "s3cret", remoteAddr, "Bearer s3cret", 200},
		{"remote, wrong token", "s3cret", remoteAddr, "Bearer nope", 403},
		{"remote, no Authorization", "s3cret", remoteAddr, "", 403},
		{"remote, Basic scheme", "s3cret", remoteAddr, "Basic s3cret", 403},
		// A configured token is required from everyone: behind a TLS
		// terminator or a sidecar every client is loopback.
		{"loopback, token configured, no Authorization", "s3cret", loopbackAddr, "", 403},
		{"loopback, token configured, wrong token", "s3cret", loopbackAddr, "Bearer nope", 403},
		{"loopback, token configured, right token", "s3cret", loopbackAddr, "Bearer s3cret", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(up)
			cfg.Admin.Token = tc.token
			g := newTestGateway(t, cfg)
			var ctx fasthttp.RequestCtx
			serve(g, &ctx, newRequest("GET", "/p", "example.test"), remoteAddr)
			if ctx.Response.StatusCode() != 200 {
				t.Fatalf("GET = %d", ctx.Response.StatusCode())
			}
			var pctx fasthttp.RequestCtx
			req := newRequest("PURGE", "/p", "example.test")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			serve(g, &pctx, req, tc.remote)
			if got := pctx.Response.StatusCode(); got != tc.status {
				t.Errorf("PURGE = %d %q, want %d", got, pctx.Response.Body(), tc.status)
			}
		})
	}
}

// TestGateway_AdminAuth: with a token, the token; without, a loopback
// client with a loopback Host. /healthz and /readyz are open.
func TestGateway_AdminAuth(t *testing.T) {
	t.Parallel()
	up := testOrigin(t, func(*fasthttp.RequestCtx) {})
	tests := []struct {
		name, token, path, host, auth string
		remote                        net.Addr
		status                        int
	}{
		{"loopback client and Host", "", "/metrics", "localhost:9090", "", loopbackAddr, 200},
		{"loopback client, IP Host", "", "/metrics", "127.0.0.1:9090", "", loopbackAddr, 200},
		{"loopback client, rebinding Host", "", "/metrics", "evil.example", "", loopbackAddr, 403},
		{"remote client", "", "/metrics", "localhost", "", remoteAddr, 403},
		{"token required", "t0k", "/metrics", "localhost", "", loopbackAddr, 403},
		{"token given", "t0k", "/metrics", "admin.example", "Bearer t0k", remoteAddr, 200},
		{"healthz open", "t0k", "/healthz", "x", "", remoteAddr, 200},
		{"readyz open", "t0k", "/readyz", "x", "", remoteAddr, 200},
		{"unknown path", "", "/nope", "localhost", "", loopbackAddr, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(up)
			cfg.Admin.Token = tc.token
			g := newTestGateway(t, cfg)
			var ctx fasthttp.RequestCtx
			req := newRequest("GET", tc.path, tc.host)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			ctx.Init(req, tc.remote, nil)
			g.handleAdmin(&ctx)
			if got := ctx.Response.StatusCode(); got != tc.status {
				t.Errorf("GET %s = %d, want %d", tc.path, got, tc.status)
			}
		})
	}
}

// TestGateway_PanicRecovered: a panic in the request path is a 500, counted,
// and the server goes on.
func TestGateway_PanicRecovered(t *testing.T) {
	t.Parallel()
	up := testOrigin(t, func(*fasthttp.RequestCtx) {})
	g := newTestGateway(t, testConfig(up))
	g.policies = panicSource{}
	g.st.Load().routes[0].cfg = &RouteConfig{Name: "api", Policy: "boom", Upstreams: []string{up}}
	var ctx fasthttp.RequestCtx
	serve(g, &ctx, newRequest("GET", "/", "example.test"), loopbackAddr)
	if got := ctx.Response.StatusCode(); got != 500 {
		t.Errorf("status %d, want 500", got)
	}
	if got := g.gm.panics.Get(); got != 1 {
		t.Errorf("panics counted %d, want 1", got)
	}
}

func TestRouter_Match(t *testing.T) {
	t.Parallel()
	mk := func(name, host, prefix string) *route {
		return &route{cfg: &RouteConfig{Name: name, Host: host}, name: []byte(name), prefix: []byte(prefix)}
	}
	r := newRouter([]*route{
		mk("any-root", "*", "/"), mk("any-api", "*", "/api"), mk("a-root", "a.example", "/"),
		mk("a-api-v2", "a.example", "/api/v2"),
	})
	tests := []struct{ host, path, want string }{
		{"a.example", "/x", "a-root"},
		{"A.Example:8080", "/api/v2/users", "a-api-v2"},
		{"a.example", "/api/v1", "a-root"},
		{"b.example", "/api/v1", "any-api"},
		{"b.example", "/", "any-root"},
		{"[::1]:80", "/api", "any-api"},
	}
	for _, tc := range tests {
		got := r.match([]byte(tc.host), []byte(tc.path))
		if got == nil || got.cfg.Name != tc.want {
			name := "<nil>"
			if got != nil {
				name = got.cfg.Name
			}
			t.Errorf("match(%q, %q) = %s, want %s", tc.host, tc.path, name, tc.want)
		}
	}
}

// TestGateway_L2Hooks: the hooks the L2 subscriber calls drop this node's
// L1 copies of a URL (every variant), or all of L1.
func TestGateway_L2Hooks(t *testing.T) {
	t.Parallel()
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.Response.Header.Set("Vary", "Accept")
		ctx.SetBodyString("x")
	})
	g := newTestGateway(t, testConfig(up))
	get := func(uri, accept string) string {
		var ctx fasthttp.RequestCtx
		serve(g, &ctx, newRequest("GET", uri, "Example.test", "Accept", accept), loopbackAddr)
		return string(ctx.Response.Header.Peek("X-Cache"))
	}
	get("/u?a=1", "a")
	get("/u?a=1", "b")
	get("/v", "a")
	if n := g.dropL1URL([]byte("example.test"), []byte("/u?a=1")); n != 2 {
		t.Errorf("dropL1URL removed %d, want 2", n)
	}
	if got := get("/u?a=1", "a"); got != "MISS" {
		t.Errorf("after dropL1URL: X-Cache %q, want MISS", got)
	}
	if got := get("/v", "a"); got != "HIT" {
		t.Errorf("other URL after dropL1URL: X-Cache %q, want HIT", got)
	}
	g.flushL1()
	if got := get("/v", "a"); got != "MISS" {
		t.Errorf("after flushL1: X-Cache %q, want MISS", got)
	}
}
