package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

type hotAnswer struct {
	By    string           `json:"by"`
	Route string           `json:"route"`
	Keys  []gateway.HotKey `json:"keys"`
}

// TestHotKeys_API: GET /cache/hot ranks URLs by requests, bytes and
// misses, overall or for one route. Counting is sampled (one request in
// 8), so the test sends hundreds of requests and checks the ranking.
func TestHotKeys_API(t *testing.T) {
	t.Parallel()
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/nostore":
			ctx.Response.Header.Set("Cache-Control", "no-store")
			ctx.SetBodyString("n")
		case "/big":
			ctx.Response.Header.Set("Cache-Control", "max-age=600")
			ctx.SetBody(make([]byte, 64<<10))
		default:
			ctx.Response.Header.Set("Cache-Control", "max-age=600")
			ctx.SetBodyString("small")
		}
	})
	cfg := gatewaytest.Config(o.URL)
	cfg.Routes = append(cfg.Routes, gateway.RouteConfig{Name: "img", PathPrefix: "/img/", Upstreams: []string{o.URL}})
	gateway.RouteDefaults(&cfg.Routes[1])
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	for range 800 {
		g.Do(t, "GET", "/a")
	}
	for range 400 {
		g.Do(t, "GET", "/img/b")
		g.Do(t, "GET", "/nostore")
	}
	for range 200 {
		g.Do(t, "GET", "/big")
	}
	hot := func(query string) hotAnswer {
		t.Helper()
		status, body := g.Admin(t, "/cache/hot"+query, "")
		if status != 200 {
			t.Fatalf("GET /cache/hot%s = %d %s", query, status, body)
		}
		var a hotAnswer
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	keys := func(a hotAnswer) string {
		var s []string
		for _, k := range a.Keys {
			s = append(s, k.Route+" "+k.Key)
		}
		return strings.Join(s, ", ")
	}
	if got := keys(hot("")); !strings.HasPrefix(got, "api example.test/a, ") || !strings.Contains(got, "img example.test/img/b") {
		t.Errorf("by requests: %s, want /a first, /img/b among them", got)
	}
	if got := keys(hot("?by=bytes&n=1")); got != "api example.test/big" {
		t.Errorf("by bytes, n=1: %s, want /big", got)
	}
	if got := keys(hot("?by=misses&n=1")); got != "api example.test/nostore" {
		t.Errorf("by misses, n=1: %s, want /nostore", got)
	}
	if a := hot("?route=img"); keys(a) != "img example.test/img/b" || a.Route != "img" {
		t.Errorf("route img: %s", keys(a))
	}
	if a := hot("?n=1"); len(a.Keys) != 1 || a.Keys[0].Count < 400 || a.Keys[0].Count > 1600 {
		t.Errorf("count of /a = %+v, want about 800 (sampled)", a.Keys)
	}
	for q, want := range map[string]int{"?n=0": 400, "?n=129": 400, "?by=latency": 400, "?route=nope": 404} {
		if status, body := g.Admin(t, "/cache/hot"+q, ""); status != want || !strings.Contains(body, `"error"`) {
			t.Errorf("GET /cache/hot%s = %d %s, want %d", q, status, body, want)
		}
	}
}
