//go:build !wasip1

package main

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// TestDevice_Gateway runs the module in a real gateway: one cached copy per
// device class, shared by every User-Agent of that class.
func TestDevice_Gateway(t *testing.T) {
	t.Parallel()
	g, origin := policytest.StartGateway(t, policytest.Build(t, "."), nil, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBody(ctx.Request.Header.UserAgent()) // the page "rendered" for this client
	})
	const (
		iphone1 = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
		iphone2 = "Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) Mobile/15E148"
		pixel   = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36"
		ipad    = "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
		chrome  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"
		firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
	)
	tests := []struct{ ua, xcache, body string }{
		{iphone1, "MISS", iphone1},
		{iphone2, "HIT", iphone1}, // same class: the mobile copy
		{pixel, "HIT", iphone1},
		{ipad, "MISS", ipad},
		{chrome, "MISS", chrome},
		{firefox, "HIT", chrome},
	}
	for _, tt := range tests {
		resp := g.Do(t, "GET", "/home", "User-Agent: "+tt.ua)
		if resp.Status != 200 || resp.Get("X-Cache") != tt.xcache || string(resp.Body) != tt.body {
			t.Errorf("GET /home (UA %.40s) = %d, X-Cache %q, body %.40q; want 200, %s, %.40q", tt.ua, resp.Status, resp.Get("X-Cache"), resp.Body, tt.xcache, tt.body)
		}
	}
	if n := origin.Requests(); n != 3 {
		t.Errorf("origin requests = %d, want 3 (one per device class)", n)
	}
}
