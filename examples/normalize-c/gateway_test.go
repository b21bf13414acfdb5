package normalizec

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// TestNormalizeC_Gateway runs the C module in a real gateway: tracking
// parameters and parameter order do not split the cache, and the origin
// receives the normalised target.
func TestNormalizeC_Gateway(t *testing.T) {
	t.Parallel()
	g, origin := policytest.StartGateway(t, module(t), nil, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBody(ctx.RequestURI())
	})
	for i, path := range []string{"/p?utm_source=x&b=2&a=1", "/p?a=1&b=2", "/p?gclid=1&b=2&a=1"} {
		resp := g.Do(t, "GET", path, "Host: Example.TEST")
		want := map[bool]string{true: "MISS", false: "HIT"}[i == 0]
		if resp.Status != 200 || resp.Get("X-Cache") != want || string(resp.Body) != "/p?a=1&b=2" {
			t.Errorf("GET %s = %d, X-Cache %q, origin saw %q; want 200, %s, /p?a=1&b=2", path, resp.Status, resp.Get("X-Cache"), resp.Body, want)
		}
	}
	if n := origin.Requests(); n != 1 {
		t.Errorf("origin requests = %d, want 1", n)
	}
}
