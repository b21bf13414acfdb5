package gateway

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/l2/redistest"
)

// l2BenchURLs is how many URLs BenchmarkGateway_L2Hit cycles through: far
// more than its 512 KiB L1 holds, so nearly every request is an L2 hit.
const l2BenchURLs = 2000

// BenchmarkGateway_L2Hit is a hit served from L2 (a real redis-server on
// loopback) through the data-plane handler: L1 is too small for the
// working set, so each request reads Redis, decodes and promotes.
func BenchmarkGateway_L2Hit(b *testing.B) {
	body := make([]byte, 4096)
	origin := testOrigin(b, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.Response.Header.Set("Content-Type", "application/json")
		ctx.Response.Header.Set("ETag", `"v1"`)
		ctx.SetBody(body)
	})
	rd := redistest.Start(b)
	cfg := testConfig(origin)
	cfg.Cache.L1Size = 512 << 10
	cfg.Cache.MaxObjectSize = 128 << 10
	cfg.Redis.Addrs = []string{rd.Addr}
	g := newTestGateway(b, cfg)

	reqs := make([]*fasthttp.Request, l2BenchURLs)
	for i := range reqs {
		reqs[i] = newRequest("GET", "/l2?i="+strconv.Itoa(i), "example.test", "Accept", "*/*")
	}
	var ctx fasthttp.RequestCtx
	for _, req := range reqs {
		serve(g, &ctx, req, loopbackAddr)
	}
	waitL2Written(b, g)
	// One pass so that every URL has been read from L2 once.
	for _, req := range reqs {
		serve(g, &ctx, req, loopbackAddr)
	}
	before := redisCommands(b, rd)
	b.ReportAllocs()
	i, l2hits, n := 0, 0, 0
	for b.Loop() {
		serve(g, &ctx, reqs[i], loopbackAddr)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("status %d", ctx.Response.StatusCode())
		}
		if string(ctx.Response.Header.Peek("X-Cache")) == xcacheHitL2 {
			l2hits++
		}
		n++
		i = (i + 1) % len(reqs)
	}
	b.StopTimer()
	after := redisCommands(b, rd)
	b.ReportMetric(float64(after-before)/float64(n), "cmds/op")
	b.ReportMetric(float64(l2hits)/float64(n), "l2hits/op")
}

// redisCommands returns how many commands rd has processed (INFO stats
// total_commands_processed), counting the INFO itself.
func redisCommands(tb testing.TB, rd *redistest.Server) int {
	tb.Helper()
	s, err := rd.Do("INFO", "stats")
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.SplitSeq(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	tb.Fatalf("no total_commands_processed in INFO stats")
	return 0
}

// BenchmarkGateway_L2Miss is a miss for a new URL every time with L2 on:
// the upstream exchange, then the head and chunks stored in L1 and queued
// for L2. cmds/op counts the Redis commands the writes cost, after they
// all reached Redis.
func BenchmarkGateway_L2Miss(b *testing.B) {
	body := make([]byte, 4096)
	origin := testOrigin(b, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.Response.Header.Set("Surrogate-Key", "page all")
		ctx.SetBody(body)
	})
	rd := redistest.Start(b)
	cfg := testConfig(origin)
	cfg.Cache.L1Size = 512 << 10
	cfg.Cache.MaxObjectSize = 128 << 10
	cfg.Redis.Addrs = []string{rd.Addr}
	g := newTestGateway(b, cfg)
	req := newRequest("GET", "/", "example.test", "Accept", "*/*")
	var ctx fasthttp.RequestCtx
	var uri []byte
	before := redisCommands(b, rd)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		uri = strconv.AppendInt(append(uri[:0], "/miss?i="...), int64(n), 10)
		n++
		req.SetRequestURIBytes(uri)
		serve(g, &ctx, req, loopbackAddr)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("status %d", ctx.Response.StatusCode())
		}
	}
	waitL2Written(b, g)
	b.StopTimer()
	b.ReportMetric(float64(redisCommands(b, rd)-before)/float64(n), "cmds/op")
}

// BenchmarkGateway_L2HitParallel is BenchmarkGateway_L2Hit with requests
// from 32 goroutines at once (16 per core), as a server sees them: what an L2 hit costs
// once the round trip overlaps with other requests' work. Compare with
// BenchmarkGateway_HitParallel (L1 hits) in the same run.
func BenchmarkGateway_L2HitParallel(b *testing.B) {
	body := make([]byte, 4096)
	origin := testOrigin(b, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.Response.Header.Set("Content-Type", "application/json")
		ctx.SetBody(body)
	})
	rd := redistest.Start(b)
	cfg := testConfig(origin)
	cfg.Cache.L1Size = 512 << 10
	cfg.Cache.MaxObjectSize = 128 << 10
	cfg.Redis.Addrs = []string{rd.Addr}
	g := newTestGateway(b, cfg)
	reqs := make([]*fasthttp.Request, l2BenchURLs)
	for i := range reqs {
		reqs[i] = newRequest("GET", "/l2?i="+strconv.Itoa(i), "example.test", "Accept", "*/*")
	}
	var ctx fasthttp.RequestCtx
	for _, req := range reqs {
		serve(g, &ctx, req, loopbackAddr)
	}
	waitL2Written(b, g)
	b.ReportAllocs()
	b.SetParallelism(16)
	var next, l2hits atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		mine := make([]*fasthttp.Request, len(reqs)) // fasthttp requests are not shared
		for i := range mine {
			mine[i] = newRequest("GET", "/l2?i="+strconv.Itoa(i), "example.test", "Accept", "*/*")
		}
		for pb.Next() {
			serve(g, &ctx, mine[int(next.Add(1))%len(mine)], loopbackAddr)
			if ctx.Response.StatusCode() != 200 {
				b.Errorf("status %d", ctx.Response.StatusCode())
				return
			}
			if string(ctx.Response.Header.Peek("X-Cache")) == xcacheHitL2 {
				l2hits.Add(1)
			}
		}
	})
	b.ReportMetric(float64(l2hits.Load())/float64(b.N), "l2hits/op")
}
