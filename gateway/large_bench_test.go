package gateway

import (
	"bufio"
	"io"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkGateway_SizedHit is an L1 hit of bodies from 16 KiB to 1 MiB
// through the data-plane handler, the response then written out as
// fasthttp writes it to a connection (to io.Discard): what a hit costs
// with the body's copies. The default configuration (l1_size 256MiB).
func BenchmarkGateway_SizedHit(b *testing.B) {
	benchSizedHit(b, func(*Config) {})
}

// BenchmarkGateway_SizedHitChunked is BenchmarkGateway_SizedHit with the
// large-object tier off: bodies above 256 KiB are chunked in freecache.
func BenchmarkGateway_SizedHitChunked(b *testing.B) {
	benchSizedHit(b, func(cfg *Config) { cfg.Cache.LargeMinSize = cfg.Cache.MaxObjectSize + 1 })
}

func benchSizedHit(b *testing.B, configure func(*Config)) {
	for _, size := range []int{16 << 10, 64 << 10, 256 << 10, 1 << 20} {
		b.Run(strconv.Itoa(size>>10)+"KiB", func(b *testing.B) {
			body := make([]byte, size)
			up := testOrigin(b, func(ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.Set("Cache-Control", "max-age=600")
				ctx.Response.Header.Set("Content-Type", "application/octet-stream")
				ctx.SetBody(body)
			})
			cfg := testConfig(up)
			cfg.Cache.L1Size = 256 << 20
			cfg.Cache.MaxObjectSize = 8 << 20
			configure(cfg)
			g := newTestGateway(b, cfg)
			var ctx fasthttp.RequestCtx
			serve(g, &ctx, newRequest("GET", "/sized", "example.test"), loopbackAddr)
			serve(g, &ctx, newRequest("GET", "/sized", "example.test"), loopbackAddr)
			if got := string(ctx.Response.Header.Peek("X-Cache")); got != "HIT" {
				b.Fatalf("X-Cache %q, want HIT", got)
			}
			w := bufio.NewWriterSize(io.Discard, 4096)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				ctx.Response.Reset()
				g.handle(&ctx)
				if err := ctx.Response.Write(w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
