//go:build !wasip1

package main

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// TestAdmission_Gateway runs the module in a real gateway without L2: a
// response that is not admitted to L1 is not cached at all, which makes
// admission visible in X-Cache.
func TestAdmission_Gateway(t *testing.T) {
	t.Parallel()
	g, _ := policytest.StartGateway(t, policytest.Build(t, "."), map[string]any{"max_object_size": 100}, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		if string(ctx.Path()) == "/big" {
			ctx.SetBody([]byte(strings.Repeat("x", 200)))
			return
		}
		ctx.SetBody([]byte("small"))
	})
	// The first answer is a one-hit wonder: not admitted, so the second
	// request cannot hit.
	for i := range 2 {
		if resp := g.Do(t, "GET", "/small"); resp.Get("X-Cache") != "MISS" {
			t.Fatalf("GET /small #%d: X-Cache %q, want MISS", i+1, resp.Get("X-Cache"))
		}
	}
	// Once the key has proved popular (counts are per instance, so this may
	// take a few more requests), it is admitted and served from L1.
	hit := false
	for range 20 {
		if g.Do(t, "GET", "/small").Get("X-Cache") == "HIT" {
			hit = true
			break
		}
	}
	if !hit {
		t.Error("a popular small object was never admitted")
	}
	for i := range 10 {
		if resp := g.Do(t, "GET", "/big"); resp.Get("X-Cache") == "HIT" || len(resp.Body) != 200 {
			t.Fatalf("GET /big #%d: X-Cache %q, %d bytes; an object over max_object_size was admitted", i+1, resp.Get("X-Cache"), len(resp.Body))
		}
	}
}
