package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// buildFlowcache builds the flowcache binary into a temporary directory.
func buildFlowcache(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "flowcache")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// envNode is a `flowcache serve` process configured from the environment
// only: it runs in an empty directory, without -config.
type envNode struct {
	name, listen, admin string
	cmd                 *exec.Cmd
	stderr              *lockedBuffer
	done                chan struct{} // closed when the process has exited
	err                 error         // its exit: read after done
}

// startEnvNode starts bin serve with the FLOWCACHE_ variables env (and no
// other FLOWCACHE_ variable of this process), and waits until it is ready.
func startEnvNode(t *testing.T, bin, name string, env ...string) *envNode {
	t.Helper()
	n := &envNode{name: name, listen: freeAddr(t), admin: freeAddr(t), stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd := exec.Command(bin, "serve")
	cmd.Dir = t.TempDir() // no ./config.toml: the environment alone
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPrefix) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "FLOWCACHE_SERVER_LISTEN="+n.listen, "FLOWCACHE_ADMIN_LISTEN="+n.admin)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = io.Discard, n.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	n.cmd = cmd
	go func() { n.err = cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // it may have exited already
		select {
		case <-n.done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill() // last resort, by the PID we started
		}
	})
	gatewaytest.WaitFor(t, name+" ready", func() bool { return readyz(n.admin) == http.StatusOK })
	return n
}

// readyz returns the status of GET /readyz on admin, or 0 if it could not
// be asked.
func readyz(admin string) int {
	c := http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + admin + "/readyz")
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body) // drained for keep-alive
	resp.Body.Close()
	return resp.StatusCode
}

// TestServe_ScaleIn: two nodes configured from the environment only share a
// Redis; a client hits both through a "load balancer" that, like one, polls
// each node's /readyz and sends requests only to nodes answering 200. Node A
// gets SIGTERM mid-run, while one of its requests is in flight. A's /readyz
// goes 503 before its listener closes, the request in flight finishes with
// its 200, A exits 0, and the client sees no error at all: no retry
// anywhere, a failed request is a failure.
func TestServe_ScaleIn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts two processes")
	}
	t.Parallel()
	bin := buildFlowcache(t)
	r := gatewaytest.StartRedis(t)
	// The drain delay leaves the balancer 40 polls to notice: generous, so
	// that a loaded machine does not fail the test.
	const drainDelay = 2 * time.Second
	slowStarted := make(chan struct{}, 1)
	origin := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/slow" {
			slowStarted <- struct{}{}
			time.Sleep(drainDelay + 500*time.Millisecond) // in flight when the listener closes
			ctx.Response.Header.Set("Cache-Control", "no-store")
			ctx.SetBodyString("slow")
			return
		}
		// An origin's own latency: part of the load the test drains.
		time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
		ctx.Response.Header.Set("Cache-Control", "max-age=1") // misses keep coming
		ctx.SetBodyString("item")
	})
	env := []string{
		"FLOWCACHE_SERVER_DRAIN_DELAY=" + drainDelay.String(),
		"FLOWCACHE_SERVER_SHUTDOWN_TIMEOUT=10s",
		"FLOWCACHE_CACHE_L1_SIZE=8MiB",
		"FLOWCACHE_CACHE_MAX_OBJECT_SIZE=256KiB",
		"FLOWCACHE_REDIS_ADDRS=" + r.Addr,
		"FLOWCACHE_REDIS_KEY_PREFIX=scalein:",
		"FLOWCACHE_REDIS_SECRET=scale-in-cluster-secret-0123456789",
		"FLOWCACHE_LOG_LEVEL=info",
		"FLOWCACHE_ROUTES_0_NAME=api",
		"FLOWCACHE_ROUTES_0_UPSTREAMS=" + origin.URL,
	}
	nodes := []*envNode{startEnvNode(t, bin, "A", env...), startEnvNode(t, bin, "B", env...)}
	a := nodes[0]

	// The load balancer: a node is in rotation while its /readyz answers
	// 200, polled every 50ms.
	var inRotation [2]atomic.Bool
	var firstOut atomic.Int64 // unix nanos when A left the rotation
	for i := range nodes {
		inRotation[i].Store(true)
	}
	lbCtx, stopLB := context.WithCancel(context.Background())
	var lbDone sync.WaitGroup
	lbDone.Add(1)
	go func() {
		defer lbDone.Done()
		for lbCtx.Err() == nil {
			for i, n := range nodes {
				ok := readyz(n.admin) == http.StatusOK
				if !ok && i == 0 && inRotation[0].Load() {
					firstOut.Store(time.Now().UnixNano())
				}
				inRotation[i].Store(ok)
			}
			select {
			case <-lbCtx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	defer func() { stopLB(); lbDone.Wait() }()

	// A prober notes when A's data listener stops accepting.
	var refusedAt atomic.Int64
	go func() {
		for refusedAt.Load() == 0 && lbCtx.Err() == nil {
			c, err := net.DialTimeout("tcp", a.listen, time.Second)
			if err != nil {
				refusedAt.Store(time.Now().UnixNano())
				return
			}
			c.Close()
			time.Sleep(10 * time.Millisecond) // the probe's period: when the close happens is what it measures
		}
	}()

	// The clients: 6 workers, each with its own keep-alive connections,
	// round-robin over the nodes in rotation, for a bounded time.
	type tally struct {
		ok, errs, afterTERM [2]atomic.Int64
		firstErr            atomic.Value
	}
	var tl tally
	var termAt atomic.Int64
	loadCtx, stopLoad := context.WithTimeout(context.Background(), 30*time.Second)
	defer stopLoad()
	var workers sync.WaitGroup
	for w := range 6 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			defer c.CloseIdleConnections() // else B's drain waits for them at cleanup
			for i := w; loadCtx.Err() == nil; i++ {
				node := i % 2
				if !inRotation[node].Load() {
					node = 1 - node
				}
				resp, err := c.Get(fmt.Sprintf("http://%s/item/%d", nodes[node].listen, rand.IntN(300)))
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					tl.errs[node].Add(1)
					tl.firstErr.CompareAndSwap(nil, fmt.Sprintf("node %s: %v", nodes[node].name, err))
					continue
				}
				tl.ok[node].Add(1)
				if termAt.Load() != 0 {
					tl.afterTERM[node].Add(1)
				}
			}
		}()
	}

	// Load for a while, then a slow request in flight on A, then SIGTERM.
	gatewaytest.WaitFor(t, "load on both nodes", func() bool { return tl.ok[0].Load() > 200 && tl.ok[1].Load() > 200 })
	slowErr := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + a.listen + "/slow")
		if err == nil {
			var b []byte
			b, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && (resp.StatusCode != http.StatusOK || string(b) != "slow") {
				err = fmt.Errorf("in-flight request: %d %q", resp.StatusCode, b)
			}
		}
		slowErr <- err
	}()
	select {
	case <-slowStarted:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request did not reach the origin")
	}
	termAt.Store(time.Now().UnixNano())
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var exitErr error
	select {
	case <-a.done:
		exitErr = a.err
	case <-time.After(20 * time.Second):
		t.Fatal("A did not exit within 20s of SIGTERM")
	}
	// Keep the load on B a little after A is gone.
	afterExit := tl.ok[1].Load()
	gatewaytest.WaitFor(t, "load on B after A's exit", func() bool { return tl.ok[1].Load() > afterExit+100 })
	stopLoad()
	workers.Wait()

	if exitErr != nil {
		t.Errorf("A exited with %v after SIGTERM, want 0\n%s", exitErr, a.stderr.String())
	}
	if err := <-slowErr; err != nil {
		t.Errorf("the request in flight on A at SIGTERM failed: %v", err)
	}
	out, refused := firstOut.Load(), refusedAt.Load()
	switch {
	case out == 0:
		t.Error("the load balancer never saw A's /readyz leave 200")
	case refused == 0:
		t.Error("A's listener never refused a connection")
	case out >= refused:
		t.Errorf("A's listener closed %v before its /readyz went 503", time.Duration(out-refused))
	}
	for i, n := range nodes {
		if e := tl.errs[i].Load(); e != 0 {
			t.Errorf("node %s: %d client errors (first: %v)", n.name, e, tl.firstErr.Load())
		}
	}
	log := a.stderr.String()
	if i, j := strings.Index(log, "flowcache draining"), strings.Index(log, "flowcache stopped"); i < 0 || j < i {
		t.Errorf("A's log does not show draining, then stopped:\n%s", log)
	}
	term := termAt.Load()
	t.Logf("requests: A %d (%d after SIGTERM), B %d (%d after SIGTERM); client errors %d; "+
		"SIGTERM to /readyz 503 seen by the balancer %v; 503 seen to listener closed %v",
		tl.ok[0].Load(), tl.afterTERM[0].Load(), tl.ok[1].Load(), tl.afterTERM[1].Load(), tl.errs[0].Load()+tl.errs[1].Load(),
		time.Duration(out-term).Round(time.Millisecond), time.Duration(refused-out).Round(time.Millisecond))
}
