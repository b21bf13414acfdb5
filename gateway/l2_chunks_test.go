package gateway

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/l2/redistest"
)

// TestGateway_L2ChunkedHit: a chunked entry found in L2 is served whole,
// its chunks read with one pipelined command each (one round trip), and a
// chunk missing from L2 turns the hit into a miss that the origin answers.
func TestGateway_L2ChunkedHit(t *testing.T) {
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
	keys := func() []string { // the entry's head and chunk records
		ks, err := rc.Keys(context.Background(), "flowcache:e:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	waitL2Written(t, g)
	n := len(keys()) - 1 // chunk records
	if n < 5 {
		t.Fatalf("%d chunks in L2, want the body in at least 5", n)
	}

	for _, tc := range []struct {
		name     string
		dropOne  bool
		wantX    string
		wantCmds int
	}{
		{name: "whole", wantX: xcacheHitL2, wantCmds: 1 + n},
		{name: "chunk_missing", dropOne: true, wantX: "MISS"},
	} {
		g.flushL1()
		if tc.dropOne {
			for _, k := range keys() {
				if strings.Contains(k, "/big\x00c") {
					if err := rc.Del(context.Background(), k).Err(); err != nil {
						t.Fatal(err)
					}
					break
				}
			}
		}
		before, origins := redisCommands(t, rd), origin.Load()
		ctx := do()
		after := redisCommands(t, rd)
		if got := string(ctx.Response.Header.Peek("X-Cache")); got != tc.wantX {
			t.Errorf("%s: X-Cache %q, want %q", tc.name, got, tc.wantX)
		}
		if !bytes.Equal(ctx.Response.Body(), body) {
			t.Errorf("%s: body of %d bytes differs from the origin's %d", tc.name, len(ctx.Response.Body()), len(body))
		}
		if tc.wantX == xcacheHitL2 {
			if origin.Load() != origins {
				t.Errorf("%s: the origin was asked", tc.name)
			}
			// The INFO of redisCommands counts itself once.
			if got := after - before - 1; got != tc.wantCmds {
				t.Errorf("%s: %d Redis commands, want %d (the head and %d chunks)", tc.name, got, tc.wantCmds, n)
			}
		}
	}
}

// chunkedL2Gateway starts a gateway (with opts[0], if given) in front of up
// with a 512KiB L1 (a few KB of body make several chunks) and a Redis L2,
// and returns it with the Redis server, a client of it, and a function that
// GETs /big through it.
func chunkedL2Gateway(t *testing.T, up string, opts ...Options) (*Gateway, *redistest.Server, *redis.Client, func() *fasthttp.RequestCtx) {
	t.Helper()
	rd := redistest.Start(t)
	cfg := testConfig(up)
	cfg.Cache.L1Size = 512 << 10
	cfg.Cache.MaxObjectSize = 128 << 10
	cfg.Redis.Addrs = []string{rd.Addr}
	g := newTestGatewayWith(t, cfg, append(opts, Options{})[0])
	rc := redis.NewClient(&redis.Options{Addr: rd.Addr})
	t.Cleanup(func() { _ = rc.Close() })
	do := func() *fasthttp.RequestCtx {
		var ctx fasthttp.RequestCtx
		serve(g, &ctx, newRequest("GET", "/big", "example.test"), loopbackAddr)
		return &ctx
	}
	return g, rd, rc, do
}

// TestGateway_L2ChunksRefreshed: a revalidated (304) chunked entry gets a
// longer life in L2 for its chunks as well as its head, so the head never
// outlives them (an L2 head without its chunks reads as a miss).
func TestGateway_L2ChunksRefreshed(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("0123456789"), 500) // 5000 bytes: several chunks in a 512KiB L1
	var revalidated atomic.Int64
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=1")
		ctx.Response.Header.Set("ETag", `"v1"`)
		if string(ctx.Request.Header.Peek("If-None-Match")) == `"v1"` {
			revalidated.Add(1)
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			return
		}
		ctx.SetBody(body)
	})
	clock := newTestClock(time.Now())
	g, _, rc, do := chunkedL2Gateway(t, up, Options{Now: clock.Now})
	// ttls returns the remaining life of the entry's head and the shortest
	// of its chunks'.
	ttls := func() (head, chunk time.Duration) {
		ks, err := rc.Keys(context.Background(), "flowcache:e:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		chunk = time.Duration(1<<63 - 1)
		for _, k := range ks {
			d, err := rc.PTTL(context.Background(), k).Result()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(k, "/big\x00c") {
				chunk = min(chunk, d)
			} else {
				head = d
			}
		}
		return head, chunk
	}
	if ctx := do(); string(ctx.Response.Header.Peek("X-Cache")) != "MISS" {
		t.Fatalf("first GET: X-Cache %q, want MISS", ctx.Response.Header.Peek("X-Cache"))
	}
	waitL2Written(t, g)
	// 2.1s pass: the gateway's clock makes the entry stale, so the next GET
	// revalidates; in Redis every key of the entry loses 2.1s of its TTL.
	const elapsed = 2100 * time.Millisecond
	clock.Advance(elapsed)
	ks, err := rc.Keys(context.Background(), "flowcache:e:*").Result()
	if err != nil || len(ks) < 2 {
		t.Fatalf("entry keys in Redis: %q, %v; want a head and chunks", ks, err)
	}
	for _, k := range ks {
		d, err := rc.PTTL(context.Background(), k).Result()
		if err == nil {
			err = rc.PExpire(context.Background(), k, d-elapsed).Err()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx := do()
	if !bytes.Equal(ctx.Response.Body(), body) {
		t.Fatalf("revalidated GET: %d bytes, want the body", len(ctx.Response.Body()))
	}
	if n := revalidated.Load(); n != 1 {
		t.Fatalf("the origin answered %d conditional requests, want 1 (the entry was not stale on the gateway's clock)", n)
	}
	waitL2Written(t, g)
	head, chunk := ttls()
	if head <= 0 || chunk <= 0 || head-chunk > time.Second {
		t.Errorf("after the refresh: head lives %v in L2, its chunks %v: the chunks were not refreshed", head, chunk)
	}
}
