package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// hostEchoOrigin answers "host path" of what it received, cacheable for a
// minute.
func hostEchoOrigin(t *testing.T) *gatewaytest.Origin {
	return gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBodyString(string(ctx.Request.Header.Host()) + " " + string(ctx.Request.Header.RequestURI()))
	})
}

// TestGateway_HostPoisoning: the Host the entry is keyed with is the Host
// the upstream received. A Host fasthttp would read as userinfo, or any
// other invalid Host, is a 400 that reaches nobody; a port is normalised
// away on both sides, as are case and a trailing dot.
func TestGateway_HostPoisoning(t *testing.T) {
	t.Parallel()
	o := hostEchoOrigin(t)
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})

	t.Run("userinfo", func(t *testing.T) {
		status, resp := g.Raw(t, "GET /p HTTP/1.1\r\nHost: victim.com:@evil.com\r\nConnection: close\r\n\r\n")
		if status != 400 {
			t.Errorf("Host victim.com:@evil.com = %d, want 400:\n%s", status, resp)
		}
		r := g.Do(t, "GET", "/p", "Host: victim.com")
		if string(r.Body) != "victim.com /p" {
			t.Errorf("GET /p Host victim.com = %q (X-Cache %s), want victim.com's answer", r.Body, r.Get("X-Cache"))
		}
		if h := o.LastHeader(); len(h.Peek("Authorization")) != 0 {
			t.Errorf("origin got Authorization %q", h.Peek("Authorization"))
		}
	})

	t.Run("port", func(t *testing.T) {
		r := g.Do(t, "GET", "/r", "Host: victim.com:1337")
		if string(r.Body) != "victim.com /r" {
			t.Errorf("GET /r Host victim.com:1337: origin saw %q, want Host victim.com", r.Body)
		}
		h := o.LastHeader()
		for name, want := range map[string]string{
			"X-Forwarded-Host": "victim.com",
			"Forwarded":        `for=127.0.0.1;host="victim.com";proto=http`,
		} {
			if got := string(h.Peek(name)); got != want {
				t.Errorf("origin got %s %q, want %q", name, got, want)
			}
		}
		r = g.Do(t, "GET", "/r", "Host: Victim.COM.")
		if r.Get("X-Cache") != "HIT" || string(r.Body) != "victim.com /r" {
			t.Errorf("GET /r Host Victim.COM. = %s %q, want a HIT of the same entry", r.Get("X-Cache"), r.Body)
		}
	})

	t.Run("absolute form", func(t *testing.T) {
		// RFC 9112, Section 3.2.2: the target's authority wins.
		status, resp := g.Raw(t, "GET http://a.test/abs HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n")
		if status != 200 || !strings.HasSuffix(resp, "a.test /abs") {
			t.Errorf("absolute-form GET = %d, want the origin to see a.test:\n%s", status, resp)
		}
		if r := g.Do(t, "GET", "/abs", "Host: a.test"); r.Get("X-Cache") != "HIT" {
			t.Errorf("GET /abs Host a.test = %s, want a HIT of the entry keyed a.test", r.Get("X-Cache"))
		}
		if r := g.Do(t, "GET", "/abs", "Host: b.test"); string(r.Body) != "b.test /abs" {
			t.Errorf("GET /abs Host b.test = %q, want b.test's own answer", r.Body)
		}
		status, resp = g.Raw(t, "GET http://u:p@a.test/abs HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
		if status != 400 {
			t.Errorf("absolute-form with userinfo = %d, want 400:\n%s", status, resp)
		}
	})

	before := o.Requests()
	for _, host := range []string{
		"victim.com@evil.com", "victim.com:80x", "victim.com:99999", "a b", "a%2eb", "a/b", "a..b",
		"[::1", "[fe80::1%25eth0]", "victim.com:1:2", "\xc3\xa9vil",
	} {
		status, resp := g.Raw(t, "GET /bad HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
		if status != 400 {
			t.Errorf("Host %q = %d, want 400:\n%s", host, status, resp)
		}
	}
	if status, resp := g.Raw(t, "GET /bad HTTP/1.1\r\nHost: victim.com\r\nHost: evil.com\r\nConnection: close\r\n\r\n"); status != 400 {
		t.Errorf("two Host fields = %d, want 400:\n%s", status, resp)
	}
	if n := o.Requests() - before; n != 0 {
		t.Errorf("origin saw %d requests with an invalid Host, want 0", n)
	}
}

// TestGateway_HostlessRequest: HTTP/1.1 without Host is a 400; HTTP/1.0
// without Host goes to the "*" route with the upstream's own host, and no
// target is ever marked down for it.
func TestGateway_HostlessRequest(t *testing.T) {
	t.Parallel()
	o := hostEchoOrigin(t)
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	up := `flowcache_upstream_up{route="api",target="` + o.URL + `"}`
	for i := range 2 {
		status, resp := g.Raw(t, "GET /old HTTP/1.0\r\n\r\n")
		if status != 200 || !strings.HasSuffix(resp, o.Addr+" /old") {
			t.Errorf("HTTP/1.0 without Host (%d) = %d, want 200 from the origin as %s:\n%s", i, status, o.Addr, resp)
		}
	}
	if v := g.Metric(t, up); v != 1 {
		t.Errorf("%s = %v after Host-less requests, want 1", up, v)
	}
	if status, resp := g.Raw(t, "GET /new HTTP/1.1\r\nConnection: close\r\n\r\n"); status != 400 {
		t.Errorf("HTTP/1.1 without Host = %d, want 400:\n%s", status, resp)
	}
	if r := g.Do(t, "GET", "/after"); r.Status != 200 {
		t.Errorf("GET after Host-less requests = %d, want 200", r.Status)
	}
}

// TestGateway_RoutingNormalPath: a route is chosen by the normal path and
// host the key uses and the upstream receives: dot-segments (encoded or
// not), "//" and a trailing-dot host cannot reach a route the origin's
// reading of the path does not imply; ambiguous paths are a 400.
func TestGateway_RoutingNormalPath(t *testing.T) {
	t.Parallel()
	o := hostEchoOrigin(t)
	cfg := gatewaytest.Config(o.URL)
	private := cfg.Routes[0]
	private.Name, private.PathPrefix, private.NoCache = "private", "/private/", true
	site := cfg.Routes[0]
	site.Name, site.Host, site.PathPrefix, site.NoCache = "site", "victim.test", "/", true
	cfg.Routes = append(cfg.Routes, private, site)
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	tests := []struct {
		name, path, host string
		status           int
		xcache, body     string
	}{
		{"plain private", "/private/me", "example.test", 200, "BYPASS", "example.test /private/me"},
		{"encoded dot-segments", "/public/%2e%2e/private/me", "example.test", 200, "BYPASS", "example.test /private/me"},
		{"dot-segments", "/public/../private/me", "example.test", 200, "BYPASS", "example.test /private/me"},
		{"double slash", "//private/me", "example.test", 200, "BYPASS", "example.test /private/me"},
		{"public", "/public/me", "example.test", 200, "MISS", "example.test /public/me"},
		{"encoded slash after dots", "/public/..%2fprivate/me", "example.test", 400, "", ""},
		{"path parameter on dots", "/public/..;/private/me", "example.test", 400, "", ""},
		{"backslash", "/public\\..\\private/me", "example.test", 400, "", ""},
		{"host with trailing dot", "/x", "VICTIM.test.", 200, "BYPASS", "victim.test /x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := g.Raw(t, "GET "+tc.path+" HTTP/1.1\r\nHost: "+tc.host+"\r\nConnection: close\r\n\r\n")
			if status != tc.status {
				t.Fatalf("GET %s = %d, want %d:\n%s", tc.path, status, tc.status, resp)
			}
			if tc.status != 200 {
				return
			}
			if !strings.Contains(resp, "\r\nX-Cache: "+tc.xcache+"\r\n") || !strings.HasSuffix(resp, tc.body) {
				t.Errorf("GET %s: want X-Cache %s and body %q:\n%s", tc.path, tc.xcache, tc.body, resp)
			}
		})
	}
}

// TestGateway_DroppedHeaderFamily: one client field per pattern of the
// dropped family (see droppedRequestHeader) never reaches the origin;
// look-alikes do.
func TestGateway_DroppedHeaderFamily(t *testing.T) {
	t.Parallel()
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	tests := []struct {
		pattern, name string
		dropped       bool
	}{
		{"X-Forwarded-*", "X-Forwarded-Prefix", true},
		{"Forwarded", "Forwarded", true},
		{"*-Client-IP", "True-Client-IP", true},
		{"*-Connecting-IP", "CF-Connecting-IP", true},
		{"X-Real-IP", "X-Real-IP", true},
		{"X-*-Host*", "X-HTTP-Host-Override", true},
		{"X-Original-*", "X-Original-URL", true},
		{"X-*-Original-*", "X-Envoy-Original-Path", true},
		{"X-Rewrite-*", "X-Rewrite-URL", true},
		{"*-Method-Override", "X-HTTP-Method-Override", true},
		{"X-*-Method", "X-HTTP-Method", true},
		{"X-*-Scheme", "X-Url-Scheme", true},
		{"X-*-Proto", "X-Proto", true},
		{"Front-End-Https", "Front-End-Https", true},
		{"look-alike", "X-Ghost", false},
		{"look-alike", "X-Request-Id", false},
	}
	for _, tc := range tests {
		r := g.Do(t, "GET", "/h", tc.name+": evil")
		if r.Status != 200 {
			t.Fatalf("%s: status %d", tc.name, r.Status)
		}
		got := string(o.LastHeader().Peek(tc.name))
		if tc.dropped && got == "evil" {
			t.Errorf("%s: origin got %s: %q, want it dropped", tc.pattern, tc.name, got)
		}
		if !tc.dropped && got != "evil" {
			t.Errorf("%s: origin got %s: %q, want it kept", tc.pattern, tc.name, got)
		}
	}
}

// TestGateway_AdminCSRF: with no token, state-changing admin requests need
// the same origin and a JSON (or wasm) body.
func TestGateway_AdminCSRF(t *testing.T) {
	t.Parallel()
	o := hostEchoOrigin(t)
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	tests := []struct {
		name, method, path, ctype string
		header                    []string
		status                    int
	}{
		{"no-cors form post", "POST", "/purge", "text/plain", nil, 415},
		{"no Content-Type", "POST", "/purge", "", nil, 415},
		{"form", "POST", "/purge", "application/x-www-form-urlencoded", nil, 415},
		{"cross-site Origin", "POST", "/purge", "application/json", []string{"Origin", "http://evil.example"}, 403},
		{"null Origin", "POST", "/purge", "application/json", []string{"Origin", "null"}, 403},
		{"Sec-Fetch-Site cross-site", "POST", "/purge", "application/json", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"Sec-Fetch-Site same-site", "POST", "/purge", "application/json", []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"reload cross-site", "POST", "/reload", "application/json", []string{"Origin", "http://evil.example"}, 403},
		{"reload text/plain", "POST", "/reload", "text/plain", nil, 415},
		{"policy upload text/plain", "PUT", "/policies/p", "text/plain", nil, 415},
		{"policy rollback text/plain", "POST", "/policies/p/rollback", "text/plain", nil, 415},
		{"policy delete cross-site", "DELETE", "/policies/p", "", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"same origin", "POST", "/purge", "application/json", []string{"Origin", "http://{admin}", "Sec-Fetch-Site", "same-origin"}, 200},
		{"same origin behind a Host-rewriting proxy", "POST", "/purge", "application/json", []string{"Origin", "http://admin.example", "Sec-Fetch-Site", "same-origin"}, 200},
		{"CLI", "POST", "/purge", "application/json; charset=utf-8", nil, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := fasthttp.AcquireRequest()
			defer fasthttp.ReleaseRequest(req)
			req.SetRequestURI("http://" + g.AdminAddr + tc.path)
			req.Header.SetMethod(tc.method)
			req.Header.SetHost("localhost")
			if tc.ctype != "" {
				req.Header.SetContentType(tc.ctype)
			}
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Set(tc.header[i], strings.ReplaceAll(tc.header[i+1], "{admin}", g.AdminAddr))
			}
			req.SetBodyString(`{"all":true}`)
			var resp fasthttp.Response
			if err := fasthttp.DoTimeout(req, &resp, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != tc.status {
				t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, resp.StatusCode(), resp.Body(), tc.status)
			}
		})
	}
}

// TestGateway_AdminAuthBeforeBody: a request the admin listener will
// refuse gets its 403 without the listener reading the body it announced.
func TestGateway_AdminAuthBeforeBody(t *testing.T) {
	t.Parallel()
	o := hostEchoOrigin(t)
	cfg := gatewaytest.Config(o.URL)
	cfg.Admin.Token = "s3cret"
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	tests := []struct{ name, head string }{
		{"wrong token", "PUT /policies/p HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer nope\r\nContent-Type: application/wasm\r\n"},
		{"no token", "POST /purge HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"},
		{"cross-site with token", "POST /purge HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer s3cret\r\nOrigin: http://evil.example\r\nContent-Type: application/json\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, g.AdminAddr)
			// 22MiB announced, none sent: the answer must come anyway.
			if _, err := io.WriteString(c, tc.head+"Content-Length: 23068672\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(c)
			if !strings.HasPrefix(string(b), "HTTP/1.1 403 ") {
				t.Errorf("answer %q (%v), want 403 before the body", b, err)
			}
		})
	}
}

// TestGateway_AdminPeerBeforeBody: with no token, a client that is not on
// loopback (here behind a trusted proxy) is refused before its body is
// read, even when its head looks allowed (a loopback Host); an allowed
// client's body is bounded as it is read.
func TestGateway_AdminPeerBeforeBody(t *testing.T) {
	t.Parallel()
	o := hostEchoOrigin(t)
	cfg := gatewaytest.Config(o.URL)
	cfg.Server.TrustedProxies = []string{"127.0.0.1", "::1"}
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	tests := []struct{ name, head, want string }{
		{
			name: "remote client, loopback Host",
			head: "POST /purge HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 203.0.113.5\r\nContent-Type: application/json\r\nContent-Length: 23068672\r\n\r\n",
			want: "HTTP/1.1 403 ",
		},
		{
			name: "loopback client, chunked body over the limit",
			head: "POST /purge HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
			want: "HTTP/1.1 413 ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, g.AdminAddr)
			if _, err := io.WriteString(c, tc.head); err != nil {
				t.Fatal(err)
			}
			// Some body, then keep sending in the background (bounded):
			// the answer must not wait for the 22MiB announced, and a
			// chunked body must be cut at the limit.
			chunk := strings.Repeat("x", 64<<10)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range 512 { // 32MiB at most
					var err error
					if strings.Contains(tc.head, "chunked") {
						_, err = fmt.Fprintf(c, "%x\r\n%s\r\n", len(chunk), chunk)
					} else {
						_, err = io.WriteString(c, chunk[:1024])
					}
					if err != nil {
						return
					}
				}
			}()
			b := make([]byte, 64)
			n, err := io.ReadAtLeast(c, b, len(tc.want))
			if !strings.HasPrefix(string(b[:n]), tc.want) {
				t.Errorf("answer %q (%v), want %q", b[:n], err, tc.want)
			}
			c.Close()
			<-done
		})
	}
}

// TestGateway_OpenAdminWarning: with no token, a listener beyond loopback
// gets a warning at start that loopback clients are trusted.
func TestGateway_OpenAdminWarning(t *testing.T) {
	t.Parallel()
	o := hostEchoOrigin(t)
	tests := []struct {
		name, listen, token string
		want                int
	}{
		{"loopback, no token", "127.0.0.1:0", "", 0},
		{"all interfaces, no token", "0.0.0.0:0", "", 1},
		{"all interfaces, token", "0.0.0.0:0", "s3cret", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs logBuffer
			cfg := gatewaytest.Config(o.URL)
			cfg.Server.Listen, cfg.Admin.Token = tc.listen, tc.token
			g, err := gateway.New(cfg, gateway.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = g.Shutdown(context.Background()) }) // never served: nothing to report
			if n := logs.count("admin_token_unset"); n != tc.want {
				t.Errorf("%d admin_token_unset warnings, want %d", n, tc.want)
			}
		})
	}
}
