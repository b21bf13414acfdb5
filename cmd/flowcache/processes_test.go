package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// TestServe_TwoProcessesShareRedis runs two real `flowcache serve`
// processes on one redis-server: a miss on node A is an L2 hit on node B,
// and a PURGE on A is effective on B's L1.
func TestServe_TwoProcessesShareRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts two processes")
	}
	t.Parallel()
	bin := buildFlowcache(t)
	r := gatewaytest.StartRedis(t)
	var originHits atomic.Int32
	origin := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		originHits.Add(1)
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBodyString("hello from origin")
	})

	type node struct{ listen, admin string }
	start := func(name string) node {
		n := node{listen: freeAddr(t), admin: freeAddr(t)}
		cfg := writeConfig(t, fmt.Sprintf(`
[server]
listen = %q
[admin]
listen = %q
[cache]
l1_size = "4MiB"
max_object_size = "256KiB"
[redis]
addrs = [%q]
key_prefix = "procs:"
[log]
level = "warn"
[[routes]]
name = "api"
upstreams = [%q]
`, n.listen, n.admin, r.Addr, origin.URL))
		cmd := exec.Command(bin, "serve", "-config", cfg)
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		t.Cleanup(func() {
			// SIGTERM: the graceful path; SIGKILL if it does not end.
			_ = cmd.Process.Signal(syscall.SIGTERM) // it may have exited already
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill() // last resort, by the PID we started
				<-done
			}
		})
		waitListening(t, n.listen, nil)
		gatewaytest.WaitFor(t, name+" L2 ready", func() bool {
			resp, err := http.Get("http://" + n.admin + "/readyz")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body) // a short read only delays the wait
			return strings.Contains(string(b), `"l2":"ok"`)
		})
		return n
	}
	a, b := start("A"), start("B")

	get := func(n node, method string) (xcache string, status int) {
		req, err := http.NewRequest(method, "http://"+n.listen+"/hello", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body) // drained for keep-alive
		return resp.Header.Get("X-Cache"), resp.StatusCode
	}
	if x, _ := get(a, "GET"); x != "MISS" {
		t.Fatalf("A: X-Cache %q, want MISS", x)
	}
	// The L2 write is asynchronous: B may miss (and store in its own L1)
	// until it lands, so wait for it in Redis rather than asking B.
	gatewaytest.WaitFor(t, "the L2 write", func() bool {
		n, err := r.Do("DBSIZE")
		return err == nil && n != "0"
	})
	if x, _ := get(b, "GET"); x != "HIT-L2" {
		t.Fatalf("B: X-Cache %q, want HIT-L2", x)
	}
	if x, _ := get(b, "GET"); x != "HIT" {
		t.Fatalf("B again: X-Cache %q, want HIT", x)
	}
	if _, status := get(a, "PURGE"); status != 200 {
		t.Fatalf("PURGE on A = %d", status)
	}
	gatewaytest.WaitFor(t, "B dropping the purged entry", func() bool {
		x, _ := get(b, "GET")
		return x == "MISS"
	})
	if n := originHits.Load(); n != 2 {
		t.Errorf("origin hits = %d, want 2", n)
	}
}
