package gateway_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// TestGateway_L1IndexBounded: with many long URLs, the L1 tag and host
// index stays within cache.index_size, and purges by tag and by prefix
// still remove every URL L1 holds (the URLs the index had to forget left L1
// with it).
func TestGateway_L1IndexBounded(t *testing.T) {
	t.Parallel()
	const (
		budget = 64 << 10
		urls   = 100
	)
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.Response.Header.Set("Surrogate-Key", "all "+strings.Split(string(ctx.Path()), "/")[2])
		ctx.SetBodyString("ok")
	})
	cfg := gatewaytest.Config(o.URL)
	cfg.Cache.IndexSize = budget
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	long := strings.Repeat("p", 2<<10) // with 4MiB of L1, keys up to 4KiB fit
	path := func(i int) string { return "/long/u" + strconv.Itoa(i) + "/" + long }
	fill := func() {
		t.Helper()
		for i := range urls {
			if r := g.Do(t, "GET", path(i)); r.Status != 200 {
				t.Fatalf("GET %d = %d", i, r.Status)
			}
			if got := g.Metric(t, "flowcache_cache_index_bytes"); got <= 0 || got > budget {
				t.Fatalf("after %d URLs: index bytes %v, want in (0, %d]", i+1, got, budget)
			}
		}
		if got := g.Metric(t, "flowcache_cache_index_evictions_total"); got <= 0 {
			t.Fatalf("index evictions %v, want some: the test does not fill the index", got)
		}
	}
	allMiss := func(after string) {
		t.Helper()
		for i := range urls {
			if r := g.Do(t, "GET", path(i)); r.Get("X-Cache") != "MISS" {
				t.Errorf("after %s: GET %d: X-Cache %q, want MISS", after, i, r.Get("X-Cache"))
			}
		}
	}

	fill()
	hits := 0
	for i := urls - 1; i >= 0; i-- { // newest first: the hits come before the misses evict them
		if r := g.Do(t, "GET", path(i)); r.Get("X-Cache") == "HIT" {
			hits++
		}
	}
	if hits == 0 || hits == urls {
		t.Fatalf("%d of %d URLs are L1 hits, want some: the oldest left L1 with their index members", hits, urls)
	}
	if r := g.Do(t, "PURGE", "/", "Surrogate-Key: all"); r.Status != 200 {
		t.Fatalf("PURGE by tag = %d %s", r.Status, r.Body)
	}
	allMiss("a tag purge")

	fill()
	if status, body := adminPost(t, g, "/purge", `{"prefix": "/long/", "host": "example.test"}`); status != 200 {
		t.Fatalf("prefix purge = %d %s", status, body)
	}
	allMiss("a prefix purge")
}
