package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// adminGet GETs path on g's admin listener with the given Host and bearer
// token ("" for none).
func adminGet(t *testing.T, g *gatewaytest.Gateway, path, host, token string) *fasthttp.Response {
	t.Helper()
	c := &fasthttp.HostClient{Addr: g.AdminAddr, ReadTimeout: time.Minute}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI(path)
	req.Header.SetHost(host)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp := &fasthttp.Response{}
	if err := c.Do(req, resp); err != nil {
		t.Fatalf("GET %s (Host %s): %v", path, host, err)
	}
	return resp
}

// TestGateway_AdminUI: / and /ui serve the embedded page with its security
// headers, behind the admin check.
func TestGateway_AdminUI(t *testing.T) {
	t.Parallel()
	g := gatewaytest.StartGateway(t, gatewaytest.Config("http://127.0.0.1:1"), gateway.Options{})
	tokCfg := gatewaytest.Config("http://127.0.0.1:1")
	tokCfg.Admin.Token = "s3cret"
	gt := gatewaytest.StartGateway(t, tokCfg, gateway.Options{})
	tests := []struct {
		name       string
		gw         *gatewaytest.Gateway
		path, host string
		token      string
		want       int
	}{
		{"root, loopback Host", g, "/", "localhost", "", 200},
		{"ui, loopback IP Host", g, "/ui", g.AdminAddr, "", 200},
		{"root, foreign Host", g, "/", "evil.example", "", 403},
		{"ui, foreign Host", g, "/ui", "evil.example", "", 403},
		{"token set, none given: login form", gt, "/", "localhost", "", 200},
		{"token set, wrong one: login form", gt, "/", "localhost", "nope", 200},
		{"token set, none given, routes", gt, "/routes", "localhost", "", 403},
		{"token set, given", gt, "/", "evil.example", "s3cret", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := adminGet(t, tt.gw, tt.path, tt.host, tt.token)
			if got := resp.StatusCode(); got != tt.want {
				t.Fatalf("GET %s (Host %s) = %d, want %d", tt.path, tt.host, got, tt.want)
			}
			if tt.want != 200 {
				if strings.Contains(string(resp.Body()), "<html") {
					t.Errorf("refused answer carries the page")
				}
				return
			}
			login := strings.Contains(string(resp.Body()), `action="/login"`)
			if wantLogin := strings.Contains(tt.name, "login form"); login != wantLogin || strings.Contains(string(resp.Body()), `id="purge"`) == wantLogin {
				t.Errorf("login form %v, want %v", login, wantLogin)
			}
			headers := map[string]string{
				"Content-Type":            "text/html; charset=utf-8",
				"Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'",
				"X-Content-Type-Options":  "nosniff",
				"Cache-Control":           "no-store",
			}
			for k, want := range headers {
				if got := string(resp.Header.Peek(k)); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			body := string(resp.Body())
			if !strings.HasPrefix(body, "<!DOCTYPE html>") || (!login && !strings.Contains(body, `id="m-hits"`)) {
				t.Errorf("body is not the admin page: %.80q", body)
			}
			for _, bad := range []string{"http://", "https://", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"} {
				if strings.Contains(body, bad) && !(bad == "http://" && strings.Contains(body, `placeholder="http://`)) {
					t.Errorf("page contains %q", bad)
				}
			}
		})
	}
}

// TestGateway_AdminRoutes: GET /routes lists the running routes with their
// upstreams' state, behind the admin check.
func TestGateway_AdminRoutes(t *testing.T) {
	t.Parallel()
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("x") })
	cfg := gatewaytest.Config(o.URL)
	cfg.Routes[0].PathPrefix = "/v1/"
	cfg.Routes[0].Host = "example.test"
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})

	status, body := g.Admin(t, "/routes", "")
	if status != 200 {
		t.Fatalf("/routes = %d %s", status, body)
	}
	var got struct {
		Routes []struct {
			Name       string `json:"name"`
			Host       string `json:"host"`
			PathPrefix string `json:"path_prefix"`
			Policy     string `json:"policy"`
			Upstreams  []struct {
				URL string `json:"url"`
				Up  bool   `json:"up"`
			} `json:"upstreams"`
		} `json:"routes"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("/routes: %v: %s", err, body)
	}
	if len(got.Routes) != 1 {
		t.Fatalf("/routes = %s, want 1 route", body)
	}
	r := got.Routes[0]
	if r.Name != "api" || r.Host != "example.test" || r.PathPrefix != "/v1/" || r.Policy != "default" ||
		len(r.Upstreams) != 1 || r.Upstreams[0].URL != o.URL || !r.Upstreams[0].Up {
		t.Errorf("/routes = %s", body)
	}
	if resp := adminGet(t, g, "/routes", "evil.example", ""); resp.StatusCode() != 403 {
		t.Errorf("/routes with a foreign Host = %d, want 403", resp.StatusCode())
	}
}

// TestGateway_AdminUIConsole: /ui/console.js is served behind the admin
// check, as a script, and builds the DOM without HTML strings.
func TestGateway_AdminUIConsole(t *testing.T) {
	t.Parallel()
	cfg := gatewaytest.Config("http://127.0.0.1:1")
	cfg.Admin.Token = "s3cret"
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	if resp := adminGet(t, g, "/ui/console.js", "localhost", ""); resp.StatusCode() != 403 {
		t.Errorf("console.js without the token = %d, want 403", resp.StatusCode())
	}
	resp := adminGet(t, g, "/ui/console.js", "localhost", "s3cret")
	body := string(resp.Body())
	if resp.StatusCode() != 200 || string(resp.Header.ContentType()) != "text/javascript; charset=utf-8" || !strings.Contains(body, `"/cache/lookup?url="`) {
		t.Fatalf("console.js = %d %s", resp.StatusCode(), resp.Header.ContentType())
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "https://"} {
		if strings.Contains(body, bad) {
			t.Errorf("console.js contains %q", bad)
		}
	}
}
