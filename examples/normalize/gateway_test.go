//go:build !wasip1

package main

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// TestNormalize_Gateway runs the module in a real gateway: URLs that differ
// only by host case, tracking parameters and parameter order hit one cached
// entry, and the origin receives the normalised target.
func TestNormalize_Gateway(t *testing.T) {
	t.Parallel()
	g, origin := policytest.StartGateway(t, policytest.Build(t, "."), nil, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBody(ctx.RequestURI()) // what the upstream received
	})

	tests := []struct {
		path, host, xcache string
	}{
		{"/p?utm_source=x&b=2&a=1", "example.test", "MISS"},
		{"/p?a=1&b=2", "example.test", "HIT"},
		{"/p?b=2&fbclid=f&a=1&gclid=g", "EXAMPLE.test", "HIT"},
		{"/p?a=1&b=3", "example.test", "MISS"},
	}
	for _, tt := range tests {
		resp := g.Do(t, "GET", tt.path, "Host: "+tt.host)
		if resp.Status != 200 || resp.Get("X-Cache") != tt.xcache {
			t.Errorf("GET %s (Host %s) = %d, X-Cache %q, want 200, %q", tt.path, tt.host, resp.Status, resp.Get("X-Cache"), tt.xcache)
		}
		want := "/p?a=1&b=2"
		if tt.path == "/p?a=1&b=3" {
			want = "/p?a=1&b=3"
		}
		if string(resp.Body) != want {
			t.Errorf("GET %s: the origin received %q, want %q", tt.path, resp.Body, want)
		}
	}
	if n := origin.Requests(); n != 2 {
		t.Errorf("origin requests = %d, want 2", n)
	}
	// A request with a cookie bypasses the cache.
	if resp := g.Do(t, "GET", "/p?a=1&b=2", "Cookie: sid=1"); resp.Get("X-Cache") == "HIT" {
		t.Errorf("GET with Cookie: X-Cache %q, want a bypass", resp.Get("X-Cache"))
	}
}
