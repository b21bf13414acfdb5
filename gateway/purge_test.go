package gateway_test

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// TestGateway_Purge: PURGE removes every variant of a URL (Vary) and
// answers 404 when nothing is stored; other URLs stay.
func TestGateway_Purge(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.Response.Header.Set("Vary", "Accept-Language")
		ctx.SetBodyString(strconv.FormatInt(n.Add(1), 10))
	})
	cfg := gatewaytest.Config(o.URL)
	cfg.Cache.MaxObjectSize = 64 << 10
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	withQuery := "/q?a=1&b=2"
	for _, lang := range []string{"en", "fr", "de"} {
		g.Do(t, "GET", "/p", "Accept-Language: "+lang)
	}
	g.Do(t, "GET", "/other")
	g.Do(t, "GET", withQuery)
	if r := g.Do(t, "GET", "/p", "Accept-Language: fr"); r.Get("X-Cache") != "HIT" {
		t.Fatalf("variant not cached before the purge: %q", r.Get("Cache-Status"))
	}
	r := g.Do(t, "PURGE", "/p")
	if r.Status != 200 || string(r.Body) != "{\"purged\":3}\n" {
		t.Errorf("PURGE /p = %d %q, want 200 {\"purged\":3}", r.Status, r.Body)
	}
	if r.Get("Content-Type") != "application/json" {
		t.Errorf("PURGE Content-Type %q", r.Get("Content-Type"))
	}
	for _, lang := range []string{"en", "fr", "de"} {
		if r := g.Do(t, "GET", "/p", "Accept-Language: "+lang); r.Get("X-Cache") != "MISS" {
			t.Errorf("variant %s after purge: X-Cache %q, want MISS", lang, r.Get("X-Cache"))
		}
	}
	if r := g.Do(t, "GET", "/other"); r.Get("X-Cache") != "HIT" {
		t.Errorf("/other after purging /p: X-Cache %q, want HIT", r.Get("X-Cache"))
	}
	if r := g.Do(t, "PURGE", "/nothing"); r.Status != 404 || string(r.Body) != "{\"purged\":0}\n" {
		t.Errorf("PURGE /nothing = %d %q, want 404 {\"purged\":0}", r.Status, r.Body)
	}
	if r := g.Do(t, "PURGE", withQuery); r.Status != 200 {
		t.Errorf("PURGE %s = %d, want 200", withQuery, r.Status)
	}
	if r := g.Do(t, "PURGE", withQuery); r.Status != 404 {
		t.Errorf("second PURGE %s = %d, want 404", withQuery, r.Status)
	}
}

// TestGateway_PurgeChunked: a body stored in chunks (larger than 1/1024 of
// l1_size) is served whole from cache and purged whole.
func TestGateway_PurgeChunked(t *testing.T) {
	t.Parallel()
	body := make([]byte, 200<<10)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.SetBody(body)
	})
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{}) // 4MiB L1: 4KiB entries
	g.Do(t, "GET", "/big")
	r := g.Do(t, "GET", "/big")
	if r.Get("X-Cache") != "HIT" || !bytes.Equal(r.Body, body) {
		t.Fatalf("chunked hit: X-Cache %q, %d bytes (want HIT, %d identical bytes)", r.Get("X-Cache"), len(r.Body), len(body))
	}
	if r := g.Do(t, "PURGE", "/big"); r.Status != 200 {
		t.Fatalf("PURGE = %d", r.Status)
	}
	if got := g.Metric(t, "flowcache_l1_entries"); got != 0 {
		t.Errorf("flowcache_l1_entries = %v after purge, want 0 (chunks left behind)", got)
	}
}
