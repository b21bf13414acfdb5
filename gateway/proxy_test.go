package gateway_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
	"github.com/flowcache/flowcache/internal/units"
)

// TestGateway_Framing: what RFC 9112 forbids in a request head is refused
// at once, before anything reaches the upstream.
func TestGateway_Framing(t *testing.T) {
	t.Parallel()
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	cfg := gatewaytest.Config(o.URL)
	cfg.Server.MaxHeaderSize = 2 << 10
	cfg.Server.MaxBodySize = 1 << 10
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	big := strings.Repeat("a", 4<<10)
	tests := []struct {
		name   string
		raw    string
		status int
	}{
		{"both Content-Length and Transfer-Encoding", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"Transfer-Encoding then Content-Length", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400},
		{"duplicate Content-Length", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nab", 400},
		{"malformed Content-Length", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\na", 400},
		{"negative Content-Length", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\na", 400},
		{"unknown transfer coding", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400},
		{"identity transfer coding", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400},
		{"bad chunk size", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400},
		{"control character in a value", "GET /x HTTP/1.1\r\nHost: a\r\nX-A: a\x01b\r\n\r\n", 400},
		{"space in a field name", "GET /x HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n", 400},
		{"oversized head", "GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + big + "\r\n\r\n", 431},
		{"oversized body", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4096\r\n\r\n" + big, 413},
		{"good request", "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, resp := g.Raw(t, tc.raw)
			if status != tc.status {
				t.Errorf("status %d, want %d; response:\n%s", status, tc.status, resp)
			}
		})
	}
	if n := o.Requests(); n != 1 {
		// Subtests run in parallel after this function returns; the
		// count is checked in their Cleanup instead.
		t.Cleanup(func() {
			if n := o.Requests(); n != 1 {
				t.Errorf("origin saw %d requests, want 1 (only the good one)", n)
			}
		})
	}
}

// TestGateway_ProxyHeaders: hop-by-hop fields are stripped both ways, the
// gateway writes its own forwarding fields, override fields and GET bodies
// are dropped, the Host is the keyed one, and the upstream receives the
// key's target.
func TestGateway_ProxyHeaders(t *testing.T) {
	t.Parallel()
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Connection", "X-Private-Hop")
		ctx.Response.Header.Set("X-Private-Hop", "secret")
		ctx.Response.Header.Set("Keep-Alive", "timeout=5")
		ctx.Response.Header.Set("Proxy-Authenticate", "Basic")
		ctx.Response.Header.Set("X-End", "kept")
		ctx.SetBodyString("ok")
	})
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	status, resp := g.Raw(t, "GET /p?q=1 HTTP/1.1\r\nHost: Example.test:8080\r\n"+
		"Connection: close, X-Client-Hop\r\nX-Client-Hop: 1\r\nKeep-Alive: 300\r\nTE: trailers\r\nUpgrade: h2c\r\n"+
		"Proxy-Authorization: Basic x\r\n"+
		"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Proto: https\r\nForwarded: for=6.6.6.6\r\n"+
		"X-Original-URL: /admin\r\nX-Rewrite-URL: /admin\r\nX-HTTP-Method-Override: DELETE\r\nX-Host: evil\r\n"+
		"X-End: kept\r\nContent-Length: 4\r\n\r\nbody")
	if status != 200 {
		t.Fatalf("status %d:\n%s", status, resp)
	}
	h := o.LastHeader()
	for _, name := range []string{
		"X-Client-Hop", "Keep-Alive", "TE", "Upgrade", "Proxy-Authorization",
		"X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override", "X-Host",
	} {
		if v := h.Peek(name); len(v) != 0 {
			t.Errorf("upstream got %s: %q, want it dropped", name, v)
		}
	}
	// The Host is the keyed one: lower-case, without port.
	want := map[string]string{
		"X-Forwarded-For":   "127.0.0.1",
		"X-Forwarded-Host":  "example.test",
		"X-Forwarded-Proto": "http",
		"Forwarded":         `for=127.0.0.1;host="example.test";proto=http`,
		"Host":              "example.test",
		"X-End":             "kept",
	}
	for k, v := range want {
		if got := string(h.Peek(k)); !strings.EqualFold(got, v) { // host names are case-insensitive
			t.Errorf("upstream got %s: %q, want %q", k, got, v)
		}
	}
	if got := string(h.RequestURI()); got != "/p?q=1" {
		t.Errorf("upstream request URI %q, want /p?q=1", got)
	}
	if b := o.LastBody(); len(b) != 0 {
		t.Errorf("upstream got a GET body %q", b)
	}
	if cl := h.ContentLength(); cl > 0 {
		t.Errorf("upstream got Content-Length %d for a GET", cl)
	}
	lower := strings.ToLower(resp)
	for _, bad := range []string{"x-private-hop", "keep-alive:", "proxy-authenticate"} {
		if strings.Contains(lower, bad) {
			t.Errorf("client got %q:\n%s", bad, resp)
		}
	}
	if !strings.Contains(resp, "X-End: kept") {
		t.Errorf("client lost an end-to-end field:\n%s", resp)
	}
}

func TestGateway_UpstreamHost(t *testing.T) {
	t.Parallel()
	o := gatewaytest.StartOrigin(t, func(*fasthttp.RequestCtx) {})
	cfg := gatewaytest.Config(o.URL)
	cfg.Routes[0].UpstreamHost = "origin.internal"
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	g.Do(t, "GET", "/")
	if got := string(o.LastHeader().Host()); got != "origin.internal" {
		t.Errorf("upstream Host %q, want origin.internal", got)
	}
}

// TestGateway_UpstreamFailures: broken upstream framing is a 502, a slow
// upstream a 504, a refused connection a 502.
func TestGateway_UpstreamFailures(t *testing.T) {
	t.Parallel()
	broken := rawOrigin(t, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello")
	slow := rawOrigin(t, "")
	refused := closedPort(t)
	tests := []struct {
		name, upstream string
		status         int
	}{
		{"duplicate Content-Length", broken, 502},
		{"timeout", slow, 504},
		{"connection refused", refused, 502},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := gatewaytest.Config(tc.upstream)
			cfg.Routes[0].Timeout = units.Duration(300 * time.Millisecond)
			g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
			r := g.Do(t, "GET", "/")
			if r.Status != tc.status {
				t.Errorf("status %d, want %d", r.Status, tc.status)
			}
			if r.Get("X-Cache") == "" || r.Get("Cache-Status") == "" {
				t.Errorf("missing X-Cache/Cache-Status on an error answer")
			}
			if got := g.Metric(t, `flowcache_upstream_errors_total{route="api"}`); got != 1 {
				t.Errorf("flowcache_upstream_errors_total = %v, want 1", got)
			}
		})
	}
}

// TestGateway_PassiveHealth: a target that fails is skipped for
// fail_timeout, then tried again.
func TestGateway_PassiveHealth(t *testing.T) {
	t.Parallel()
	clock := gatewaytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	live := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("live") })
	dead, accepted := gatewaytest.DeadOrigin(t)
	cfg := gatewaytest.Config(dead, live.URL)
	cfg.Routes[0].MaxFails = 1
	cfg.Routes[0].FailTimeout = units.Duration(10 * time.Second)
	cfg.Routes[0].NoCache = true
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{Now: clock.Now})
	for i := 0; i < 10; i++ {
		if r := g.Do(t, "GET", "/"); r.Status != 200 || string(r.Body) != "live" {
			t.Errorf("request %d: %d %q, want 200 live (a GET goes to the next target)", i, r.Status, r.Body)
		}
	}
	contacted := accepted.Load()
	if contacted == 0 || contacted > 2 {
		t.Errorf("dead target contacted %d times, want 1 (2 with the idle-connection retry) then skipped", contacted)
	}
	if got := g.Metric(t, `flowcache_upstream_up{route="api",target="`+dead+`"}`); got != 0 {
		t.Errorf("dead target up = %v, want 0", got)
	}
	clock.Advance(11 * time.Second)
	for i := 0; i < 2; i++ {
		g.Do(t, "GET", "/")
	}
	if accepted.Load() == contacted {
		t.Errorf("after fail_timeout the dead target was not tried again")
	}
}

// rawOrigin answers every request with raw (nothing, if empty: a hung
// upstream) on a loopback port.
func rawOrigin(t *testing.T, raw string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				if _, err := c.Read(buf); err != nil {
					return
				}
				if raw == "" {
					// Hang until the gateway gives up and closes.
					_, _ = c.Read(buf) // returns when the gateway closes
					return
				}
				_, _ = c.Write([]byte(raw)) // a failed write shows as the gateway's error
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// TestGateway_HeaderCase: field names are matched in any case, from the
// client and from the upstream (names are kept as received, so lookups
// must fold case).
func TestGateway_HeaderCase(t *testing.T) {
	t.Parallel()
	up := rawOrigin(t, "HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\netag: \"x\"\r\n"+
		"connection: x-hop\r\nx-hop: 1\r\ncontent-length: 2\r\n\r\nok")
	g := gatewaytest.StartGateway(t, gatewaytest.Config(up), gateway.Options{})
	if r := g.Do(t, "GET", "/c"); r.Status != 200 || r.Get("X-Cache") != "MISS" || r.Get("x-hop") != "" {
		t.Fatalf("miss: %d X-Cache %q x-hop %q", r.Status, r.Get("X-Cache"), r.Get("x-hop"))
	}
	status, resp := g.Raw(t, "GET /c HTTP/1.1\r\nhost: example.test\r\nif-none-match: \"x\"\r\nconnection: close\r\n\r\n")
	if status != 304 || !strings.Contains(resp, "X-Cache: HIT") {
		t.Errorf("conditional hit with lower-case names = %d, want 304 HIT:\n%s", status, resp)
	}
	if strings.Contains(strings.ToLower(resp), "x-hop") {
		t.Errorf("a field named in the upstream's connection reached the client:\n%s", resp)
	}
}

// TestGateway_AbsoluteForm: a request in absolute form reaches the upstream
// in origin form.
func TestGateway_AbsoluteForm(t *testing.T) {
	t.Parallel()
	o := gatewaytest.StartOrigin(t, func(*fasthttp.RequestCtx) {})
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	for _, method := range []string{"GET", "POST"} {
		status, resp := g.Raw(t, method+" http://example.test/abs?q=1 HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		if status != 200 {
			t.Fatalf("%s: status %d:\n%s", method, status, resp)
		}
		if got := string(o.LastHeader().RequestURI()); got != "/abs?q=1" {
			t.Errorf("%s: upstream request URI %q, want /abs?q=1", method, got)
		}
	}
}

// TestGateway_HeaderReadDeadline: a client that never finishes its head
// is cut off by read_header_timeout (slowloris), not held open.
func TestGateway_HeaderReadDeadline(t *testing.T) {
	t.Parallel()
	o := gatewaytest.StartOrigin(t, func(*fasthttp.RequestCtx) {})
	cfg := gatewaytest.Config(o.URL)
	cfg.Server.ReadHeaderTimeout = units.Duration(100 * time.Millisecond)
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	c, err := net.Dial("tcp", g.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")); err != nil {
		t.Fatal(err)
	}
	// The test's own deadline is a safety net far above the configured
	// timeout; the assertion is that the gateway answers or closes first.
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the gateway kept an unfinished head open (read %q)", b)
	}
	if len(b) > 0 && !strings.HasPrefix(string(b), "HTTP/1.1 408") {
		t.Errorf("answer to an unfinished head: %q, want a 408 or a closed connection", b)
	}
}
