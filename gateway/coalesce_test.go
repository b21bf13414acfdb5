package gateway_test

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// TestGateway_Coalesce: 100 concurrent misses for one key make exactly one
// upstream request; every client gets the answer.
func TestGateway_Coalesce(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		<-release
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBodyString("one")
	})
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	const n = 100
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := g.Do(t, "GET", "/hot")
			if r.Status != 200 || string(r.Body) != "one" {
				bad.Add(1)
			}
		}()
	}
	// The leader is blocked in the origin; wait until every other request
	// waits on it, then let the origin answer.
	gatewaytest.WaitFor(t, "99 coalesced waits", func() bool {
		return g.Metric(t, `flowcache_coalesce_waits_total{route="api"}`) == n-1
	})
	close(release)
	wg.Wait()
	if got := o.Requests(); got != 1 {
		t.Errorf("origin saw %d requests, want 1", got)
	}
	if bad.Load() != 0 {
		t.Errorf("%d clients got a wrong answer", bad.Load())
	}
}

// TestGateway_CoalesceLeaderFails: waiters whose leader got an answer they
// cannot use (here a 503, not stored) make their own attempt instead of
// sharing the leader's failure.
func TestGateway_CoalesceLeaderFails(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var calls atomic.Int64
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		if calls.Add(1) == 1 {
			<-release
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			return
		}
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBodyString("ok")
	})
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	const n = 10
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- g.Do(t, "GET", "/x").Status
		}()
	}
	gatewaytest.WaitFor(t, "9 coalesced waits", func() bool {
		return g.Metric(t, `flowcache_coalesce_waits_total{route="api"}`) == n-1
	})
	close(release)
	wg.Wait()
	close(statuses)
	var ok, unavailable int
	for s := range statuses {
		switch s {
		case 200:
			ok++
		case 503:
			unavailable++
		}
	}
	if unavailable != 1 || ok != n-1 {
		t.Errorf("got %d×200 and %d×503, want %d×200 and 1×503 (only the leader's)", ok, unavailable, n-1)
	}
}

// TestGateway_StaleWhileRevalidateOnce: while a background refresh is
// running, every stale request is answered at once from cache and no
// second refresh starts.
func TestGateway_StaleWhileRevalidateOnce(t *testing.T) {
	t.Parallel()
	clock := gatewaytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	release := make(chan struct{})
	var calls atomic.Int64
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		n := calls.Add(1)
		if n == 2 {
			<-release
		}
		ctx.Response.Header.Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
		ctx.SetBodyString("v" + strconv.FormatInt(n, 10))
	})
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{Now: clock.Now})
	g.Do(t, "GET", "/swr")
	clock.Advance(20 * time.Second)
	for i := range 20 {
		r := g.Do(t, "GET", "/swr")
		if r.Get("X-Cache") != "STALE" || string(r.Body) != "v1" {
			t.Fatalf("request %d: X-Cache %q body %q, want STALE v1", i, r.Get("X-Cache"), r.Body)
		}
	}
	gatewaytest.WaitFor(t, "the refresh to reach the origin", func() bool { return o.Requests() == 2 })
	close(release)
	gatewaytest.WaitFor(t, "the refresh to be stored", func() bool {
		return g.Metric(t, `flowcache_cache_stores_total{route="api"}`) == 2
	})
	if r := g.Do(t, "GET", "/swr"); r.Get("X-Cache") != "HIT" || string(r.Body) != "v2" {
		t.Errorf("after the refresh: X-Cache %q body %q, want HIT v2", r.Get("X-Cache"), r.Body)
	}
	if got := o.Requests(); got != 2 {
		t.Errorf("origin saw %d requests, want 2 (one fill, one refresh)", got)
	}
	if got := g.Metric(t, "flowcache_cache_background_refreshes_total"); got != 1 {
		t.Errorf("background refreshes = %v, want 1", got)
	}
}

// TestGateway_ShutdownDrains: Shutdown waits for an in-flight request,
// which completes normally, and Serve then returns nil.
func TestGateway_ShutdownDrains(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		close(entered)
		<-release
		ctx.SetBodyString("done")
	})
	cfg := gatewaytest.Config(o.URL)
	g, err := gateway.New(cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(ln) }()
	got := make(chan string, 1)
	go func() {
		var resp fasthttp.Response
		req := fasthttp.AcquireRequest()
		req.SetRequestURI("http://" + ln.Addr().String() + "/slow")
		if err := fasthttp.Do(req, &resp); err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- strconv.Itoa(resp.StatusCode()) + " " + string(resp.Body())
	}()
	<-entered
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- g.Shutdown(ctx)
	}()
	// Shutdown closes the listener first: once a dial fails it is draining.
	gatewaytest.WaitFor(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(release)
	if r := <-got; r != "200 done" {
		t.Errorf("in-flight request got %q, want 200 done", r)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve after Shutdown: %v, want nil", err)
	}
}
