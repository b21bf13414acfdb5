package gateway

import (
	"net"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestGateway_TrustedProxies: only a peer in trusted_proxies may say who
// the client is; the origin then sees the real client and scheme in the
// gateway's forwarding fields, and PURGE's loopback trust (no token) looks
// at the real client.
func TestGateway_TrustedProxies(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen fasthttp.RequestHeader
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		ctx.Request.Header.CopyTo(&seen)
		mu.Unlock()
		ctx.SetBodyString("ok")
	})
	proxy := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 40000}
	sidecar := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 6), Port: 40000}
	v6proxy := &net.TCPAddr{IP: net.ParseIP("fd00::5"), Port: 40000}
	tests := []struct {
		name     string
		trusted  []string
		header   string // "" or "Forwarded"
		remote   net.Addr
		fields   []string
		xff      string
		proto    string
		fwd      string
		purge    int // PURGE status with no token
		purgeXFF string
	}{
		{
			name: "no trusted proxies: forwarding fields ignored", remote: remoteAddr,
			fields: []string{"X-Forwarded-For", "6.6.6.6", "X-Forwarded-Proto", "https", "Forwarded", "for=6.6.6.6;proto=https"},
			xff:    "203.0.113.7", proto: "http", fwd: "for=203.0.113.7;host=\"example.test\";proto=http",
		},
		{
			name: "untrusted peer", trusted: []string{"10.0.0.0/8"}, remote: remoteAddr,
			fields: []string{"X-Forwarded-For", "6.6.6.6", "X-Forwarded-Proto", "https"},
			xff:    "203.0.113.7", proto: "http",
		},
		{
			name: "rightmost untrusted address", trusted: []string{"10.0.0.0/8"}, remote: proxy,
			fields: []string{"X-Forwarded-For", "6.6.6.6, 198.51.100.9", "X-Forwarded-For", "10.1.2.3", "X-Forwarded-Proto", "https"},
			xff:    "198.51.100.9", proto: "https", fwd: "for=198.51.100.9;host=\"example.test\";proto=https",
		},
		{
			name: "proto at the client's position", trusted: []string{"10.0.0.0/8"}, remote: proxy,
			fields: []string{"X-Forwarded-For", "198.51.100.9, 10.1.2.3", "X-Forwarded-Proto", "https, http"},
			xff:    "198.51.100.9", proto: "https",
		},
		{
			name: "every hop trusted: the leftmost", trusted: []string{"10.0.0.0/8", "192.0.2.1"}, remote: proxy,
			fields: []string{"X-Forwarded-For", "10.9.9.9, 192.0.2.1"},
			xff:    "10.9.9.9", proto: "http",
		},
		{
			name: "garbage ends the walk", trusted: []string{"10.0.0.0/8"}, remote: proxy,
			fields: []string{"X-Forwarded-For", "6.6.6.6, unknown, 10.1.2.3"},
			xff:    "10.1.2.3", proto: "http",
		},
		{
			name: "IPv4 with port, IPv6 peer", trusted: []string{"fd00::/8"}, remote: v6proxy,
			fields: []string{"X-Forwarded-For", "198.51.100.9:5555"},
			xff:    "198.51.100.9", proto: "http",
		},
		{
			name: "X-Forwarded-For mode ignores Forwarded", trusted: []string{"10.0.0.0/8"}, remote: proxy,
			fields: []string{"Forwarded", "for=6.6.6.6", "X-Forwarded-For", "198.51.100.9"},
			xff:    "198.51.100.9", proto: "http",
		},
		{
			name: "Forwarded mode", trusted: []string{"10.0.0.0/8"}, header: "Forwarded", remote: proxy,
			fields: []string{"X-Forwarded-For", "6.6.6.6", "Forwarded", `for=6.6.6.6, for="[2001:db8::1]:443";proto=https, for=10.1.1.1;proto=http`},
			xff:    "2001:db8::1", proto: "https", fwd: `for="[2001:db8::1]";host="example.test";proto=https`,
		},
		{
			name: "sidecar: PURGE from the real client", trusted: []string{"127.0.0.0/8"}, remote: sidecar,
			fields: []string{"X-Forwarded-For", "203.0.113.50"},
			xff:    "203.0.113.50", proto: "http", purge: 403, purgeXFF: "203.0.113.50",
		},
		{
			name: "sidecar: PURGE from a loopback client", trusted: []string{"127.0.0.0/8"}, remote: sidecar,
			xff: "127.0.0.6", proto: "http", purge: 404,
		},
		{
			name: "proxy: PURGE forged loopback", trusted: []string{"10.0.0.0/8"}, remote: proxy,
			fields: []string{"X-Forwarded-For", "127.0.0.1, 203.0.113.50"},
			xff:    "203.0.113.50", proto: "http", purge: 403, purgeXFF: "127.0.0.1, 203.0.113.50",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(up)
			cfg.Routes[0].NoCache = true
			cfg.Server.TrustedProxies = tc.trusted
			if tc.header != "" {
				cfg.Server.RealIPHeader = tc.header
			}
			g := newTestGateway(t, cfg)
			req := newRequest("GET", "/p", "example.test")
			for i := 0; i+1 < len(tc.fields); i += 2 {
				req.Header.Add(tc.fields[i], tc.fields[i+1])
			}
			var ctx fasthttp.RequestCtx
			serve(g, &ctx, req, tc.remote)
			if ctx.Response.StatusCode() != 200 {
				t.Fatalf("GET = %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
			mu.Lock()
			xff, proto, fwd := string(seen.Peek("X-Forwarded-For")), string(seen.Peek("X-Forwarded-Proto")), string(seen.Peek("Forwarded"))
			mu.Unlock()
			if xff != tc.xff || proto != tc.proto || (tc.fwd != "" && fwd != tc.fwd) {
				t.Errorf("origin got X-Forwarded-For %q, X-Forwarded-Proto %q, Forwarded %q; want %q, %q, %q", xff, proto, fwd, tc.xff, tc.proto, tc.fwd)
			}
			if tc.purge == 0 {
				return
			}
			preq := newRequest("PURGE", "/p", "example.test")
			if tc.purgeXFF != "" {
				preq.Header.Set("X-Forwarded-For", tc.purgeXFF)
			}
			var pctx fasthttp.RequestCtx
			serve(g, &pctx, preq, tc.remote)
			if got := pctx.Response.StatusCode(); got != tc.purge {
				t.Errorf("PURGE = %d %s, want %d", got, pctx.Response.Body(), tc.purge)
			}
		})
	}
}
