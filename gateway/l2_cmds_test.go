package gateway

import (
	"bytes"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/l2"
	"github.com/flowcache/flowcache/gateway/internal/l2/redistest"
	"github.com/flowcache/flowcache/internal/units"
)

// TestGateway_L2Commands counts the Redis commands (INFO commandstats,
// against a real redis-server) of a miss and of an L2 hit, for bodies of
// 1 KiB, 64 KiB and 1 MiB, with a small L1 (16 MiB: 64 KiB and 1 MiB
// bodies are chunked in L1) and the default one (256 MiB). An L2 hit is
// one GET whatever the size; a miss is one GET (the L2 lookup; the
// re-check inside the flight is in L1), one SET and the index commands of
// one record. Run with -v for the table:
//
//	go test ./gateway -run TestGateway_L2Commands -v
func TestGateway_L2Commands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and stores 1 MiB bodies")
	}
	const urls = 8
	for _, l1 := range []int{16 << 20, 256 << 20} {
		for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
			name := strconv.Itoa(l1>>20) + "MiB_L1/" + strconv.Itoa(size>>10) + "KiB"
			t.Run(name, func(t *testing.T) {
				body := make([]byte, size)
				for i := range body {
					body[i] = byte(i * 7) // poorly compressible
				}
				up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
					ctx.Response.Header.Set("Cache-Control", "max-age=600")
					ctx.Response.Header.Set("Surrogate-Key", "page all")
					ctx.SetBody(body)
				})
				rd := redistest.Start(t)
				cfg := testConfig(up)
				cfg.Cache.L1Size = units.Size(l1)
				cfg.Cache.MaxObjectSize = 2 << 20
				cfg.Redis.Addrs = []string{rd.Addr}
				g := newTestGateway(t, cfg)
				var ctx fasthttp.RequestCtx
				get := func(i int) {
					serve(g, &ctx, newRequest("GET", "/c?i="+strconv.Itoa(i), "example.test"), loopbackAddr)
					if ctx.Response.StatusCode() != 200 || len(ctx.Response.Body()) != size {
						t.Fatalf("GET %d: status %d, %d bytes", i, ctx.Response.StatusCode(), len(ctx.Response.Body()))
					}
				}
				before := commandStats(t, rd)
				for i := range urls {
					get(i)
				}
				waitL2Written(t, g)
				miss := commandStats(t, rd)
				g.flushL1()
				for i := range urls {
					get(i)
					if x := string(ctx.Response.Header.Peek("X-Cache")); x != xcacheHitL2 {
						t.Fatalf("GET %d after the L1 flush: X-Cache %q, want %q", i, x, xcacheHitL2)
					}
				}
				hit := commandStats(t, rd)
				perMiss, perHit := diffStats(before, miss, urls), diffStats(miss, hit, urls)
				t.Logf("per miss: %s", perMiss)
				t.Logf("per L2 hit: %s", perHit)
				// Background work (the state poll, policy sync) may land a
				// command in the window now and then: the hits' own are GETs.
				if perHit.by["get"] != 1 {
					t.Errorf("an L2 hit costs %.2f GET, want 1", perHit.by["get"])
				}
				if perMiss.by["get"] != 1 || perMiss.by["set"] < 1 {
					t.Errorf("a miss costs %.2f GET and %.2f SET, want 1 and at least 1", perMiss.by["get"], perMiss.by["set"])
				}
			})
		}
	}
}

// cmdStats is what commandStats reads: calls per command.
type cmdStats map[string]int

// commandStats reads INFO commandstats (the INFO itself counts once in
// the next read, which diffStats takes off).
func commandStats(tb testing.TB, rd *redistest.Server) cmdStats {
	tb.Helper()
	s, err := rd.Do("INFO", "commandstats")
	if err != nil {
		tb.Fatal(err)
	}
	st := cmdStats{}
	for line := range strings.SplitSeq(s, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		n, _ := strconv.Atoi(calls)
		st[name] = n
	}
	return st
}

// perOp is the commands of one operation, by name, and their total.
type perOp struct {
	by    map[string]float64
	total float64
}

func (p perOp) String() string {
	var b strings.Builder
	b.WriteString(strconv.FormatFloat(p.total, 'f', 2, 64))
	b.WriteString(" (")
	for i, k := range slices.Sorted(maps.Keys(p.by)) {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(k + "=" + strconv.FormatFloat(p.by[k], 'f', 2, 64))
	}
	b.WriteString(")")
	return b.String()
}

// diffStats is the commands from a to b per operation, n operations, the
// INFO that read a left out.
func diffStats(a, b cmdStats, n int) perOp {
	p := perOp{by: map[string]float64{}}
	for k, v := range b {
		d := v - a[k]
		switch k {
		case "info":
			d--
		case "hello", "client|setname", "subscribe", "ssubscribe", "mget", "ping", "setnx":
			continue // a connection's setup, the subscriber, the state poll
		}
		if d > 0 {
			p.by[k] = float64(d) / float64(n)
			p.total += float64(d) / float64(n)
		}
	}
	return p
}

// TestGateway_L2LargePurge: a 1 MiB entry, whole in L2 and in the
// large-object tier, is purged from both by URL, by tag and by prefix; the
// next request is a miss, answered by the origin.
func TestGateway_L2LargePurge(t *testing.T) {
	t.Parallel()
	body := make([]byte, 1<<20)
	var origin atomic.Int64
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		origin.Add(1)
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.Response.Header.Set("Surrogate-Key", "big")
		ctx.SetBody(body)
	})
	rd := redistest.Start(t)
	cfg := testConfig(up)
	cfg.Cache.L1Size = 64 << 20
	cfg.Cache.MaxObjectSize = 2 << 20
	cfg.Redis.Addrs = []string{rd.Addr}
	g := newTestGateway(t, cfg)
	do := func(method string, h ...string) *fasthttp.RequestCtx {
		var ctx fasthttp.RequestCtx
		serve(g, &ctx, newRequest(method, "/big", "example.test", h...), loopbackAddr)
		return &ctx
	}
	for i, purge := range [][]string{nil, {"Surrogate-Key", "big"}, {"prefix"}} {
		do("GET")
		waitL2Written(t, g)
		if keys, err := rd.Do("KEYS", "flowcache:e:*"); err != nil || keys == "" || g.l1.big.Len() != 1 {
			t.Fatalf("round %d: L2 entry keys %q (%v), large tier %d entries; want the entry in both", i, keys, err, g.l1.big.Len())
		}
		if len(purge) == 1 {
			if _, err := g.purgeEverywhere(l2.Invalidation{Kind: l2.KindPrefix, Host: "example.test", Path: "/b"}); err != nil {
				t.Fatalf("round %d: prefix purge: %v", i, err)
			}
		} else if ctx := do("PURGE", purge...); ctx.Response.StatusCode() != 200 {
			t.Fatalf("round %d: PURGE %v: status %d %s", i, purge, ctx.Response.StatusCode(), ctx.Response.Body())
		}
		keys, err := rd.Do("KEYS", "flowcache:e:*")
		if err != nil || keys != "" || g.l1.big.Len() != 0 {
			t.Errorf("round %d: after PURGE %v: L2 entry keys %q (%v), large tier %d entries", i, purge, keys, err, g.l1.big.Len())
		}
		before := origin.Load()
		if ctx := do("GET"); string(ctx.Response.Header.Peek("X-Cache")) != "MISS" || origin.Load() != before+1 || len(ctx.Response.Body()) != len(body) {
			t.Errorf("round %d: after PURGE %v: X-Cache %q, %d bytes", i, purge, ctx.Response.Header.Peek("X-Cache"), len(ctx.Response.Body()))
		}
		do("PURGE")
	}
}

// TestGateway_L2LargeRefreshed: a 1 MiB entry of the large-object tier,
// revalidated with a 304, is written anew whole to L2 and to the tier with
// the 304's fields, and served from the tier after.
func TestGateway_L2LargeRefreshed(t *testing.T) {
	t.Parallel()
	body := make([]byte, 1<<20)
	body[0] = 'x'
	var origin atomic.Int64
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		n := origin.Add(1)
		ctx.Response.Header.Set("ETag", `"v1"`)
		ctx.Response.Header.Set("X-N", strconv.FormatInt(n, 10))
		if string(ctx.Request.Header.Peek("If-None-Match")) == `"v1"` {
			ctx.Response.Header.Set("Cache-Control", "max-age=3600")
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			return
		}
		ctx.Response.Header.Set("Cache-Control", "max-age=10")
		ctx.SetBody(body)
	})
	rd := redistest.Start(t)
	cfg := testConfig(up)
	cfg.Cache.L1Size = 64 << 20
	cfg.Cache.MaxObjectSize = 2 << 20
	cfg.Redis.Addrs = []string{rd.Addr}
	clk := newTestClock(time.Now())
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Shutdown(t.Context()) })
	do := func() *fasthttp.RequestCtx {
		var ctx fasthttp.RequestCtx
		serve(g, &ctx, newRequest("GET", "/big", "example.test"), loopbackAddr)
		return &ctx
	}
	do()
	waitL2Written(t, g)
	clk.Advance(20 * time.Second)
	if ctx := do(); string(ctx.Response.Header.Peek("X-Cache")) != xcacheRevalidated || string(ctx.Response.Header.Peek("X-N")) != "2" || !bytes.Equal(ctx.Response.Body(), body) {
		t.Fatalf("stale GET: X-Cache %q, X-N %q, body equal %v; want REVALIDATED, 2, the body", ctx.Response.Header.Peek("X-Cache"), ctx.Response.Header.Peek("X-N"), bytes.Equal(ctx.Response.Body(), body))
	}
	waitL2Written(t, g)
	pkey := []byte("api\x00example.test\x00/big")
	e, err := entryOf(t, g, pkey)
	if err != nil || !bytes.Equal(e.Body, body) || !bytes.Contains(e.Header, []byte("max-age=3600")) {
		t.Errorf("L2 after the refresh: %d bytes (%v), header %q; want the whole body with the 304's fields", len(e.Body), err, e.Header)
	}
	ctx := do()
	rec, ok := g.l1.getLarge(pkey, clk.Now())
	if string(ctx.Response.Header.Peek("X-Cache")) != xcacheHit || !ok || &ctx.Response.Body()[0] != &rec[len(rec)-len(body)] {
		t.Errorf("after the refresh: X-Cache %q, in the large tier %v; want a HIT served from the tier's record", ctx.Response.Header.Peek("X-Cache"), ok)
	}
}
