package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/gatewaytest"
	"github.com/flowcache/flowcache/internal/poll"
)

// Test_run_redisSecret: two `flowcache serve` nodes share a Redis with
// the cluster secret from $FLOWCACHE_REDIS_SECRET (the file has none): a
// purge-all on A reaches B, a forged purge-all published by a client
// without the secret is refused and counted by both, and neither warns that
// Redis is trusted. (Not parallel: it sets the environment.)
func Test_run_redisSecret(t *testing.T) {
	t.Setenv("FLOWCACHE_REDIS_SECRET", "env-cluster-secret-0123456789")
	r := gatewaytest.StartRedis(t)
	var originHits atomic.Int32
	origin := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		originHits.Add(1)
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBodyString("hello")
	})

	type node struct {
		listen, admin string
		stderr        *lockedBuffer
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 2)
	var nodes []node
	for range 2 {
		n := node{listen: freeAddr(t), admin: freeAddr(t), stderr: &lockedBuffer{}}
		cfg := writeConfig(t, fmt.Sprintf(`
[server]
listen = %q
shutdown_timeout = "5s"
[admin]
listen = %q
[redis]
addrs = [%q]
key_prefix = "e2e:"
[log]
level = "warn"
[[routes]]
name = "test"
upstreams = [%q]
`, n.listen, n.admin, r.Addr, origin.URL))
		go func() { errc <- run(ctx, []string{"serve", "-config", cfg}, io.Discard, n.stderr) }()
		waitListening(t, n.listen, errc)
		nodes = append(nodes, n)
	}
	defer func() {
		cancel()
		for range nodes {
			if err := <-errc; err != nil {
				t.Errorf("run(serve) = %v after cancel", err)
			}
		}
	}()
	a, b := nodes[0], nodes[1]
	get := func(n node, path string) string {
		t.Helper()
		resp, err := http.Get("http://" + n.listen + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body) // only the header matters
		resp.Body.Close()
		return resp.Header.Get("X-Cache")
	}
	metric := func(n node, name string) float64 {
		t.Helper()
		resp, err := http.Get("http://" + n.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(body), "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				f, _ := strconv.ParseFloat(v, 64) // a malformed value reads as 0 and fails below
				return f
			}
		}
		return -1
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		poll.WaitForWithin(t, 20*time.Second, what, cond)
	}

	if x := get(a, "/p"); x != "MISS" {
		t.Fatalf("A GET /p: X-Cache %q, want MISS", x)
	}
	// A writes to L2 in the background; a GET on B before that lands is a
	// miss that B keeps in its own L1, and B would never read L2.
	waitUntil("A's L2 write", func() bool { return metric(a, "flowcache_l2_writes_total") >= 1 })
	waitUntil("B's L2 hit", func() bool { return get(b, "/p") == "HIT-L2" })

	forger := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer forger.Close()
	if err := forger.Publish(context.Background(), "e2e:{meta}:inval", `1 {"k":4,"g":18446744073709551615}`).Err(); err != nil {
		t.Fatalf("PUBLISH: %v", err)
	}
	for _, n := range nodes {
		waitUntil("forged purge-all refused", func() bool { return metric(n, "flowcache_l2_rejected_messages_total") >= 1 })
	}
	if x := get(b, "/p"); x != "HIT" {
		t.Errorf("B GET /p after a forged purge-all: X-Cache %q, want HIT", x)
	}

	req, err := http.NewRequest(http.MethodPost, "http://"+a.admin+"/purge", strings.NewReader(`{"all":true}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /purge all = %d", resp.StatusCode)
	}
	hits := originHits.Load()
	waitUntil("purge-all on A effective on B", func() bool { get(b, "/p"); return originHits.Load() > hits })
	for _, n := range nodes {
		if strings.Contains(n.stderr.String(), "redis_trusted_without_secret") {
			t.Errorf("a node warned that Redis is trusted although $FLOWCACHE_REDIS_SECRET is set:\n%s", n.stderr.String())
		}
	}
}
