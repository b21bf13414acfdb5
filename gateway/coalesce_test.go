package gateway_test

import (
	"sync"
	"sync/atomic"
	"testing"

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
