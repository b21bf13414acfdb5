//go:build !wasip1

package main

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// TestTTLRules_Gateway runs the module in a real gateway behind an origin
// that says max-age=0 everywhere: the rules decide what is cached anyway.
func TestTTLRules_Gateway(t *testing.T) {
	t.Parallel()
	g, _ := policytest.StartGateway(t, policytest.Build(t, "."), config(), func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=0")
		if string(ctx.Path()) == "/api/missing" {
			ctx.SetStatusCode(404)
		}
		ctx.SetBody(ctx.Path())
	})
	tests := []struct {
		path   string
		status int
		second string // X-Cache of the second request
	}{
		{"/static/app.js", 200, "HIT"}, // the static rule keeps it 24h
		{"/api/missing", 404, "HIT"},   // the 404 rule keeps it 30s
		{"/other", 200, "MISS"},        // no rule matches: the origin's max-age=0 stands
		{"/account/me", 200, "MISS"},   // the account rule forbids storing
	}
	for _, tt := range tests {
		first := g.Do(t, "GET", tt.path)
		second := g.Do(t, "GET", tt.path)
		if first.Status != tt.status || second.Status != tt.status || second.Get("X-Cache") != tt.second {
			t.Errorf("GET %s twice = %d, %d X-Cache %q; want %d, %d %s", tt.path, first.Status, second.Status, second.Get("X-Cache"), tt.status, tt.status, tt.second)
		}
	}
}
