//go:build !race

package gateway

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// TestKV_GetHitAllocs proves the look-aside GET hit allocates nothing:
// routing to the namespace, the token check, key decoding, the L1 read,
// record decoding and the answer with ETag, Age and Cache-Control.
//
// Not parallel: AllocsPerRun counts the whole process's allocations.
func TestKV_GetHitAllocs(t *testing.T) {
	g := newKVTestGateway(t)
	var ctx fasthttp.RequestCtx
	ctx.Init(newRequest("PUT", "/kv/ns/user%3A1?ttl=600", "localhost", "Authorization", "Bearer sekrit", "Content-Type", "application/json"), loopbackAddr, nil)
	ctx.Request.SetBody(make([]byte, 512))
	g.kv.handle(&ctx)
	if ctx.Response.StatusCode() != fasthttp.StatusNoContent {
		t.Fatalf("PUT = %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	for _, method := range []string{"GET", "HEAD"} {
		ctx.Init(newRequest(method, "/kv/ns/user%3A1", "localhost", "Authorization", "Bearer sekrit"), loopbackAddr, nil)
		ctx.Response.Reset()
		g.kv.handle(&ctx)
		if ctx.Response.StatusCode() != 200 || len(ctx.Response.Header.Peek("ETag")) == 0 {
			t.Fatalf("%s = %d %s", method, ctx.Response.StatusCode(), ctx.Response.Body())
		}
		allocs := testing.AllocsPerRun(1000, func() {
			ctx.Response.Reset()
			g.kv.handle(&ctx)
		})
		if allocs != 0 {
			t.Errorf("%s hit allocates %v times per request, want 0", method, allocs)
		}
	}
}
