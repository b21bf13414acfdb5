package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/entry"
	"github.com/flowcache/flowcache/gateway/internal/l2/redistest"
)

// TestGateway_L2WholeHit: L2 holds an entry whole, whatever its size: one
// key (no chunk keys), one Redis command per L2 hit, and the hit is
// promoted to L1 in chunks (the next hit costs no command). An L1 chunk
// gone (evicted) sends the next request to L2, not to the origin; a head
// that an older version chunked in L2 reads as a miss.
func TestGateway_L2WholeHit(t *testing.T) {
	t.Parallel()
	body := make([]byte, 5000) // about ten chunks in a 512KiB L1
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	var origin atomic.Int64
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		origin.Add(1)
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.SetBody(body)
	})
	g, rd, rc, do := chunkedL2Gateway(t, up)
	do()
	waitL2Written(t, g)
	keys, err := rc.Keys(context.Background(), "flowcache:e:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("L2 keys %q, want the entry alone", keys)
	}
	if n := g.l1.c.EntryCount(); n < 5 {
		t.Fatalf("L1 holds %d records, want a head and its chunks", n)
	}
	check := func(name, wantX string, wantCmds int) {
		t.Helper()
		before, origins := redisCommands(t, rd), origin.Load()
		ctx := do()
		after := redisCommands(t, rd)
		if got := string(ctx.Response.Header.Peek("X-Cache")); got != wantX {
			t.Errorf("%s: X-Cache %q, want %q", name, got, wantX)
		}
		if !bytes.Equal(ctx.Response.Body(), body) {
			t.Errorf("%s: body of %d bytes differs from the origin's %d", name, len(ctx.Response.Body()), len(body))
		}
		if wantX != "MISS" && origin.Load() != origins {
			t.Errorf("%s: the origin was asked", name)
		}
		// The INFO of redisCommands counts itself once.
		if got := after - before - 1; wantCmds >= 0 && got != wantCmds {
			t.Errorf("%s: %d Redis commands, want %d", name, got, wantCmds)
		}
	}
	g.flushL1()
	check("from_l2", xcacheHitL2, 1)
	check("promoted", xcacheHit, 0)

	// An L1 chunk evicted: the next request is answered from L2.
	var ckey []byte
	pkey := []byte("api\x00example.test\x00/big")
	v, ok := g.l1.get(pkey, nil)
	if !ok {
		t.Fatal("the promoted head is not in L1")
	}
	_, _, id, _, _ := parseRecordHead(v)
	g.l1.del(appendChunkKey(ckey, pkey, id, 2))
	if ctx := do(); ctx.Response.StatusCode() != 200 || !bytes.Equal(ctx.Response.Body(), body) {
		t.Errorf("chunk_missing: status %d, %d bytes", ctx.Response.StatusCode(), len(ctx.Response.Body()))
	} else if x := string(ctx.Response.Header.Peek("X-Cache")); x != xcacheHitL2 {
		t.Errorf("chunk_missing: X-Cache %q, want %q (read whole from L2)", x, xcacheHitL2)
	}

	// A head an older version chunked in L2: a miss, never a short body.
	g.flushL1()
	e, err := entryOf(t, g, pkey)
	if err != nil {
		t.Fatal(err)
	}
	e.Flags |= entry.FlagBodyChunked
	e.Body = e.Body[:100]
	old := e.AppendEncode(appendRecordHead(nil, kindEntry, recAdmitL1, 12345))
	g.l2.Set(pkey, old, time.Minute, &l2Index{})
	waitL2Written(t, g)
	check("old_layout", "MISS", -1)
}

// entryOf reads and decodes the entry record g's L2 holds at key.
func entryOf(t *testing.T, g *Gateway, key []byte) (entry.Entry, error) {
	t.Helper()
	var e entry.Entry
	v, ok, err := g.l2.Get(context.Background(), key, nil)
	if err != nil || !ok {
		return e, fmt.Errorf("L2 get: found %v, %w", ok, err)
	}
	_, _, _, payload, ok := parseRecordHead(v)
	if !ok {
		return e, errors.New("bad record head")
	}
	return e, entry.Decode(payload, &e)
}

// chunkedL2Gateway starts a gateway in front of up with a 512KiB L1 (a few
// KB of body make several chunks) and a Redis L2, and returns it with the
// Redis server, a client of it, and a function that GETs /big through it.
func chunkedL2Gateway(t *testing.T, up string) (*Gateway, *redistest.Server, *redis.Client, func() *fasthttp.RequestCtx) {
	t.Helper()
	return chunkedL2GatewayAt(t, up, nil)
}

// chunkedL2GatewayAt is chunkedL2Gateway with the gateway's clock now (nil:
// time.Now).
func chunkedL2GatewayAt(t *testing.T, up string, now func() time.Time) (*Gateway, *redistest.Server, *redis.Client, func() *fasthttp.RequestCtx) {
	t.Helper()
	rd := redistest.Start(t)
	cfg := testConfig(up)
	cfg.Cache.L1Size = 512 << 10
	cfg.Cache.MaxObjectSize = 128 << 10
	cfg.Redis.Addrs = []string{rd.Addr}
	g := newTestGatewayWith(t, cfg, Options{Now: now})
	rc := redis.NewClient(&redis.Options{Addr: rd.Addr})
	t.Cleanup(func() { _ = rc.Close() })
	do := func() *fasthttp.RequestCtx {
		var ctx fasthttp.RequestCtx
		serve(g, &ctx, newRequest("GET", "/big", "example.test"), loopbackAddr)
		return &ctx
	}
	return g, rd, rc, do
}

// TestGateway_L2WholeRefreshed: a revalidated (304) entry that L1 holds in
// chunks is written whole to L2 with its new head, and L1 keeps its chunks.
func TestGateway_L2WholeRefreshed(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("0123456789"), 500) // 5000 bytes: several chunks in a 512KiB L1
	var origin atomic.Int64
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		n := origin.Add(1)
		ctx.Response.Header.Set("Cache-Control", "max-age=10")
		ctx.Response.Header.Set("ETag", `"v1"`)
		ctx.Response.Header.Set("X-N", strconv.FormatInt(n, 10))
		if string(ctx.Request.Header.Peek("If-None-Match")) == `"v1"` {
			// Fresh for longer than the test clock moved past the
			// origin's Date.
			ctx.Response.Header.Set("Cache-Control", "max-age=3600")
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			return
		}
		ctx.SetBody(body)
	})
	clk := newTestClock(time.Now())
	g, _, rc, do := chunkedL2GatewayAt(t, up, clk.Now)
	if ctx := do(); string(ctx.Response.Header.Peek("X-Cache")) != "MISS" {
		t.Fatalf("first GET: X-Cache %q, want MISS", ctx.Response.Header.Peek("X-Cache"))
	}
	waitL2Written(t, g)
	clk.Advance(20 * time.Second) // stale: the next GET revalidates
	ctx := do()
	if !bytes.Equal(ctx.Response.Body(), body) || string(ctx.Response.Header.Peek("X-N")) != "2" {
		t.Fatalf("revalidated GET: %d bytes, X-N %q; want the body with the 304's X-N 2", len(ctx.Response.Body()), ctx.Response.Header.Peek("X-N"))
	}
	waitL2Written(t, g)
	keys, err := rc.Keys(context.Background(), "flowcache:e:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("L2 keys %q (%v), want the entry alone", keys, err)
	}
	e, err := entryOf(t, g, []byte("api\x00example.test\x00/big"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Flags.Has(entry.FlagBodyChunked) || !bytes.Equal(e.Body, body) || !bytes.Contains(e.Header, []byte("2")) {
		t.Errorf("L2 after the refresh: flags %v, %d bytes, header %q; want the whole body and the new head", e.Flags, len(e.Body), e.Header)
	}
	if ctx := do(); string(ctx.Response.Header.Peek("X-Cache")) != xcacheHit || !bytes.Equal(ctx.Response.Body(), body) {
		t.Errorf("after the refresh: X-Cache %q, %d bytes; want an L1 HIT with its chunks", ctx.Response.Header.Peek("X-Cache"), len(ctx.Response.Body()))
	}
}
