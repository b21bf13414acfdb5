package gateway

import (
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkKV_GetHit is the look-aside GET hit through the handler (no
// network): 512-byte values, 1000 keys.
func BenchmarkKV_GetHit(b *testing.B) {
	g := newKVTestGateway(b)
	var ctx fasthttp.RequestCtx
	for i := range 1000 {
		ctx.Init(newRequest("PUT", "/kv/ns/k"+strconv.Itoa(i), "localhost", "Authorization", "Bearer sekrit"), loopbackAddr, nil)
		ctx.Request.SetBody(make([]byte, 512))
		g.kv.handle(&ctx)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		reqs := make([]*fasthttp.Request, 1000)
		for i := range reqs {
			reqs[i] = newRequest("GET", "/kv/ns/k"+strconv.Itoa(i), "localhost", "Authorization", "Bearer sekrit")
		}
		i := 0
		for pb.Next() {
			ctx.Init(reqs[i%len(reqs)], loopbackAddr, nil)
			g.kv.handle(&ctx)
			if ctx.Response.StatusCode() != 200 {
				b.Fatalf("GET = %d", ctx.Response.StatusCode())
			}
			i++
		}
	})
}

// BenchmarkKV_MGet100 is a _mget of 100 L1 hits through the handler;
// keys/s is what the goal counts.
func BenchmarkKV_MGet100(b *testing.B) {
	g := newKVTestGateway(b)
	var ctx fasthttp.RequestCtx
	body := []byte(`{"keys":[`)
	for i := range 100 {
		ctx.Init(newRequest("PUT", "/kv/ns/k"+strconv.Itoa(i), "localhost", "Authorization", "Bearer sekrit"), loopbackAddr, nil)
		ctx.Request.SetBody(make([]byte, 100))
		g.kv.handle(&ctx)
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, `"k`+strconv.Itoa(i)+`"`...)
	}
	body = append(body, "]}"...)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		req := newRequest("POST", "/kv/ns/_mget", "localhost", "Authorization", "Bearer sekrit", "Content-Type", "application/json")
		req.SetBody(body)
		for pb.Next() {
			ctx.Init(req, loopbackAddr, nil)
			g.kv.handle(&ctx)
			if ctx.Response.StatusCode() != 200 {
				b.Fatalf("_mget = %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		}
	})
	b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "keys/s")
}

// newKVTestGateway is a gateway (no Redis) with namespace "ns", token
// "sekrit", on a 64MiB L1.
func newKVTestGateway(tb testing.TB) *Gateway {
	cfg := testConfig("http://127.0.0.1:1")
	cfg.Cache.L1Size = 64 << 20
	cfg.KV.Listen = "127.0.0.1:0"
	cfg.KV.Namespaces = map[string]KVNamespaceConfig{"ns": {Token: "sekrit"}}
	return newTestGateway(tb, cfg)
}
