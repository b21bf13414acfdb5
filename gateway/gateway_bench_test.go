package gateway

import (
	"io"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"
)

func benchOrigin(b *testing.B) string {
	return testOrigin(b, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.Response.Header.Set("Content-Type", "application/json")
		ctx.Response.Header.Set("ETag", `"v1"`)
		ctx.SetBody(benchBody)
	})
}

var benchBody = make([]byte, 2048)

// BenchmarkGateway_Hit is a full L1 hit through the data-plane handler on
// an in-memory request context (no network).
func BenchmarkGateway_Hit(b *testing.B) {
	benchHit(b, newTestGateway(b, testConfig(benchOrigin(b))))
}

// benchHit measures L1 hits of one URL through g's data-plane handler.
func benchHit(b *testing.B, g *Gateway) {
	var ctx fasthttp.RequestCtx
	serve(g, &ctx, newRequest("GET", "/hit?a=1&b=2", "example.test", "Accept", "*/*", "User-Agent", "bench"), loopbackAddr)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		ctx.Response.Reset()
		g.handle(&ctx)
	}
	if got := string(ctx.Response.Header.Peek("X-Cache")); got != "HIT" {
		b.Fatalf("X-Cache %q, want HIT", got)
	}
}

// BenchmarkGateway_RangeHit is BenchmarkGateway_Hit with a single Range
// (a 206 of 1KiB of the stored 2KiB).
func BenchmarkGateway_RangeHit(b *testing.B) {
	g := newTestGateway(b, testConfig(benchOrigin(b)))
	var ctx fasthttp.RequestCtx
	serve(g, &ctx, newRequest("GET", "/hit?a=1&b=2", "example.test", "Accept", "*/*", "User-Agent", "bench", "Range", "bytes=512-1535"), loopbackAddr)
	b.ReportAllocs()
	b.SetBytes(1024)
	for b.Loop() {
		ctx.Response.Reset()
		g.handle(&ctx)
	}
	if got := string(ctx.Response.Header.Peek("X-Cache")); got != "HIT" || ctx.Response.StatusCode() != fasthttp.StatusPartialContent {
		b.Fatalf("X-Cache %q, status %d; want HIT, 206", got, ctx.Response.StatusCode())
	}
}

// BenchmarkGateway_HitParallel is BenchmarkGateway_Hit on every core.
func BenchmarkGateway_HitParallel(b *testing.B) {
	g := newTestGateway(b, testConfig(benchOrigin(b)))
	req := newRequest("GET", "/hit?a=1&b=2", "example.test", "Accept", "*/*", "User-Agent", "bench")
	var warm fasthttp.RequestCtx
	serve(g, &warm, req, loopbackAddr)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		ctx.Init(req, loopbackAddr, nil)
		for pb.Next() {
			ctx.Response.Reset()
			g.handle(&ctx)
		}
	})
}

// BenchmarkGateway_Miss is a miss for a new URL every time: key, lookup,
// coalescing, an upstream exchange over loopback, decide, store, respond.
func BenchmarkGateway_Miss(b *testing.B) {
	cfg := testConfig(benchOrigin(b))
	cfg.Cache.L1Size = 64 << 20
	g := newTestGateway(b, cfg)
	var ctx fasthttp.RequestCtx
	req := newRequest("GET", "/", "example.test", "Accept", "*/*")
	var uri []byte
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		uri = strconv.AppendInt(append(uri[:0], "/miss?i="...), int64(i), 10)
		i++
		req.SetRequestURIBytes(uri)
		ctx.Init(req, loopbackAddr, nil)
		g.handle(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("status %d", ctx.Response.StatusCode())
		}
	}
}

// BenchmarkBaseline_FasthttpHandler is a bare fasthttp handler writing the
// same answer (status, the same header fields, the same body) on the same
// in-memory context: the floor under BenchmarkGateway_Hit.
func BenchmarkBaseline_FasthttpHandler(b *testing.B) {
	h := func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.Response.Header.Set("Content-Type", "application/json")
		ctx.Response.Header.Set("ETag", `"v1"`)
		ctx.Response.Header.Set("Age", "0")
		ctx.Response.Header.Set("X-Cache", "HIT")
		ctx.Response.Header.Set("Cache-Status", "flowcache; hit")
		ctx.SetBody(benchBody)
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(newRequest("GET", "/hit?a=1&b=2", "example.test", "Accept", "*/*", "User-Agent", "bench"), loopbackAddr, nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		ctx.Response.Reset()
		h(&ctx)
	}
}

// BenchmarkGateway_HitAccessLog is BenchmarkGateway_Hit with the JSON
// access log on, written to io.Discard by its goroutine: the cost of
// formatting and queueing a line on the hit path.
func BenchmarkGateway_HitAccessLog(b *testing.B) {
	cfg := testConfig(benchOrigin(b))
	cfg.Log.Access = accessJSON
	g, err := New(cfg, Options{AccessLog: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	defer g.access.close()
	benchHit(b, g)
}
