package gateway

import (
	"bytes"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/l2"
	"github.com/flowcache/flowcache/internal/units"
)

// largeGateway starts a gateway whose route serves bodies of 128 KiB (the
// large-object tier takes them) from an origin that answers each request
// with the next version ("v1", "v2"...; X-V says which), with cc as its
// Cache-Control and the tags "t1 all"; fail makes it answer 500. The
// gateway runs on clk.
func largeGateway(t *testing.T, cc string, clk *testClock) (g *Gateway, origin *atomic.Int64, fail *atomic.Bool, do func(method, uri string, h ...string) *fasthttp.RequestCtx) {
	t.Helper()
	origin, fail = new(atomic.Int64), new(atomic.Bool)
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		if fail.Load() {
			ctx.SetStatusCode(500)
			return
		}
		n := origin.Add(1)
		ctx.Response.Header.Set("Cache-Control", cc)
		ctx.Response.Header.Set("Surrogate-Key", "t1 all")
		ctx.Response.Header.Set("X-V", strconv.FormatInt(n, 10))
		if string(ctx.Path()) == "/vary" {
			ctx.Response.Header.Set("Vary", "Accept-Language")
		}
		body := bytes.Repeat([]byte{byte('a' + n%26)}, 128<<10)
		copy(body, ctx.Request.Header.Peek("Accept-Language"))
		ctx.SetBody(body)
	})
	cfg := testConfig(up)
	cfg.Cache.L1Size = 32 << 20
	cfg.Cache.LargeSize = 8 << 20
	cfg.Cache.LargeMinSize = 64 << 10
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Shutdown(t.Context()) })
	do = func(method, uri string, h ...string) *fasthttp.RequestCtx {
		var ctx fasthttp.RequestCtx
		serve(g, &ctx, newRequest(method, uri, "example.test", h...), loopbackAddr)
		return &ctx
	}
	return g, origin, fail, do
}

// TestGateway_LargeObject: a body of the large-object tier is stored there
// (not in freecache), served without a copy of the stored record, with Age
// and freshness as any L1 entry, per Vary variant, stale under
// stale-while-revalidate and stale-if-error, and purged (URL, tag, prefix,
// all; hard and soft) as any L1 entry.
func TestGateway_LargeObject(t *testing.T) {
	t.Parallel()
	pkey := []byte("api\x00example.test\x00/o")
	xcache := func(ctx *fasthttp.RequestCtx) string { return string(ctx.Response.Header.Peek("X-Cache")) }

	t.Run("hit", func(t *testing.T) {
		t.Parallel()
		clk := newTestClock(time.Now())
		g, origin, _, do := largeGateway(t, "max-age=60", clk)
		first := do("GET", "/o")
		if xcache(first) != "MISS" || len(first.Response.Body()) != 128<<10 {
			t.Fatalf("first GET: X-Cache %q, %d bytes", xcache(first), len(first.Response.Body()))
		}
		if g.l1.big.Len() != 1 || g.l1.c.EntryCount() != 0 {
			t.Fatalf("large tier holds %d, freecache %d; want the entry in the large tier only", g.l1.big.Len(), g.l1.c.EntryCount())
		}
		clk.Advance(7 * time.Second)
		ctx := do("GET", "/o")
		// 7 s, plus up to 2 s of initial age: the origin's Date has whole
		// seconds, and fasthttp refreshes it once a second.
		age, _ := strconv.Atoi(string(ctx.Response.Header.Peek("Age")))
		if xcache(ctx) != "HIT" || age < 7 || age > 9 || !bytes.Equal(ctx.Response.Body(), first.Response.Body()) {
			t.Fatalf("hit: X-Cache %q, Age %q, body equal %v", xcache(ctx), ctx.Response.Header.Peek("Age"), bytes.Equal(ctx.Response.Body(), first.Response.Body()))
		}
		rec, _ := g.l1.getLarge(pkey, clk.Now())
		if body := ctx.Response.Body(); &body[0] != &rec[len(rec)-len(body)] {
			t.Error("the hit's body is a copy, not the stored record")
		}
		if head := do("HEAD", "/o"); xcache(head) != "HIT" || head.Response.Header.ContentLength() != 128<<10 {
			t.Errorf("HEAD: X-Cache %q, Content-Length %d", xcache(head), head.Response.Header.ContentLength())
		}
		if r := do("GET", "/o", "Range", "bytes=0-9"); r.Response.StatusCode() != 206 || len(r.Response.Body()) != 10 {
			t.Errorf("Range: status %d, %d bytes", r.Response.StatusCode(), len(r.Response.Body()))
		}
		clk.Advance(60 * time.Second)
		if ctx := do("GET", "/o"); xcache(ctx) != "MISS" || origin.Load() != 2 {
			t.Errorf("expired: X-Cache %q, %d origin requests; want a MISS", xcache(ctx), origin.Load())
		}
	})

	t.Run("vary", func(t *testing.T) {
		t.Parallel()
		g, origin, _, do := largeGateway(t, "max-age=60", newTestClock(time.Now()))
		for range 2 {
			for _, lang := range []string{"en", "fr"} {
				ctx := do("GET", "/vary", "Accept-Language", lang)
				if got := string(ctx.Response.Body()[:2]); got != lang {
					t.Errorf("Accept-Language %s: body for %q", lang, got)
				}
			}
		}
		if origin.Load() != 2 || g.l1.big.Len() != 2 {
			t.Errorf("%d origin requests, %d large entries; want 2 and 2 (one per variant)", origin.Load(), g.l1.big.Len())
		}
	})

	t.Run("stale", func(t *testing.T) {
		t.Parallel()
		clk := newTestClock(time.Now())
		_, _, fail, do := largeGateway(t, "max-age=10, stale-while-revalidate=30, stale-if-error=600", clk)
		do("GET", "/o")
		clk.Advance(20 * time.Second)
		if ctx := do("GET", "/o"); xcache(ctx) != xcacheStale || string(ctx.Response.Header.Peek("X-V")) != "1" {
			t.Errorf("within stale-while-revalidate: X-Cache %q, X-V %q; want STALE v1", xcache(ctx), ctx.Response.Header.Peek("X-V"))
		}
		fail.Store(true)
		clk.Advance(100 * time.Second)
		if ctx := do("GET", "/o"); ctx.Response.StatusCode() != 200 || xcache(ctx) != xcacheStale || len(ctx.Response.Body()) != 128<<10 {
			t.Errorf("origin failing, within stale-if-error: status %d, X-Cache %q, %d bytes", ctx.Response.StatusCode(), xcache(ctx), len(ctx.Response.Body()))
		}
	})

	purges := []struct {
		name  string
		purge func(g *Gateway, do func(method, uri string, h ...string) *fasthttp.RequestCtx, soft bool)
	}{
		{"url", func(_ *Gateway, do func(string, string, ...string) *fasthttp.RequestCtx, soft bool) {
			h := []string(nil)
			if soft {
				h = []string{"Fastly-Soft-Purge", "1"}
			}
			if ctx := do("PURGE", "/o", h...); ctx.Response.StatusCode() != 200 {
				t.Errorf("PURGE: status %d", ctx.Response.StatusCode())
			}
		}},
		{"tag", func(_ *Gateway, do func(string, string, ...string) *fasthttp.RequestCtx, soft bool) {
			h := []string{"Surrogate-Key", "t1"}
			if soft {
				h = append(h, "Fastly-Soft-Purge", "1")
			}
			do("PURGE", "/", h...)
		}},
		{"prefix", func(g *Gateway, _ func(string, string, ...string) *fasthttp.RequestCtx, soft bool) {
			if _, err := g.purgeEverywhere(l2.Invalidation{Kind: l2.KindPrefix, Host: "example.test", Path: "/", Soft: soft}); err != nil {
				t.Error(err)
			}
		}},
		{"all", func(g *Gateway, _ func(string, string, ...string) *fasthttp.RequestCtx, soft bool) {
			if _, err := g.purgeEverywhere(l2.Invalidation{Kind: l2.KindAll, Soft: soft}); err != nil {
				t.Error(err)
			}
		}},
	}
	for _, p := range purges {
		for _, soft := range []bool{false, true} {
			name := p.name + "_hard"
			if soft {
				name = p.name + "_soft"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				clk := newTestClock(time.Now())
				g, origin, _, do := largeGateway(t, "max-age=60", clk)
				do("GET", "/o")
				clk.Advance(time.Second) // a soft purge-all marks what is older than now
				p.purge(g, do, soft)
				clk.Advance(time.Second) // what is fetched next is newer than the purge
				if !soft && g.l1.big.Len() != 0 {
					t.Errorf("the large tier still holds %d entries", g.l1.big.Len())
				}
				if soft && (g.l1.big.Len() != 1 || g.l1.c.EntryCount() != 0) {
					t.Errorf("soft: the large tier holds %d entries, freecache %d; want the marked entry where it was", g.l1.big.Len(), g.l1.c.EntryCount())
				}
				ctx := do("GET", "/o")
				if xcache(ctx) == "HIT" || origin.Load() != 2 {
					t.Errorf("after the purge: X-Cache %q, %d origin requests; want the origin asked again", xcache(ctx), origin.Load())
				}
				if got := string(ctx.Response.Header.Peek("X-V")); got != "2" || len(ctx.Response.Body()) != 128<<10 {
					t.Errorf("after the purge: X-V %q, %d bytes; want v2 whole", got, len(ctx.Response.Body()))
				}
				if ctx := do("GET", "/o"); xcache(ctx) != "HIT" || string(ctx.Response.Header.Peek("X-V")) != "2" {
					t.Errorf("then: X-Cache %q, X-V %q; want a HIT of v2", xcache(ctx), ctx.Response.Header.Peek("X-V"))
				}
			})
		}
	}
}

// TestConfig_ValidateLarge: cache.large_size is 0 (a quarter of l1_size)
// or from 1MiB to half of l1_size, cache.large_min_size at least 1KiB;
// each error names its key. The tier's memory is carved out of l1_size.
func TestConfig_ValidateLarge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		l1, size, min int64
		wantErrKey    string
		wantLarge     int64
	}{
		{name: "defaults", l1: 256 << 20, min: 64 << 10, wantLarge: 64 << 20},
		{name: "small_l1", l1: 2 << 20, min: 64 << 10, wantLarge: 0},
		{name: "set", l1: 256 << 20, size: 16 << 20, min: 64 << 10, wantLarge: 16 << 20},
		{name: "off", l1: 256 << 20, size: 16 << 20, min: 9 << 20, wantLarge: 0},
		{name: "small", l1: 256 << 20, size: 512 << 10, min: 64 << 10, wantErrKey: "cache.large_size"},
		{name: "over_half", l1: 16 << 20, size: 9 << 20, min: 64 << 10, wantErrKey: "cache.large_size"},
		{name: "min", l1: 256 << 20, size: 1 << 20, min: 100, wantErrKey: "cache.large_min_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig("http://127.0.0.1:1")
			cfg.Cache.MaxObjectSize = 512 << 10
			if tc.name == "off" {
				cfg.Cache.MaxObjectSize = 8 << 20
			}
			cfg.Cache.L1Size, cfg.Cache.LargeSize, cfg.Cache.LargeMinSize = units.Size(tc.l1), units.Size(tc.size), units.Size(tc.min)
			err := cfg.Validate()
			switch {
			case tc.wantErrKey == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.wantErrKey != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErrKey)):
				t.Errorf("Validate() = %v, want an error naming %s", err, tc.wantErrKey)
			}
			if got := int64(cfg.Cache.largeSize()); tc.wantErrKey == "" && got != tc.wantLarge {
				t.Errorf("largeSize() = %d, want %d", got, tc.wantLarge)
			}
		})
	}
	if d := DefaultConfig(); d.Cache.LargeSize != 0 || d.Cache.LargeMinSize != 64<<10 {
		t.Errorf("defaults: large_size %s, large_min_size %s; want 0 (a quarter of l1_size), 64KiB", d.Cache.LargeSize, d.Cache.LargeMinSize)
	}
}
