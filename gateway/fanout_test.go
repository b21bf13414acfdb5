package gateway_test

import (
	"testing"
	"time"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// TestL2_UnsafeFanoutLimited: the invalidation after an unsafe request is
// published to the other nodes at most once a second per URL (a repeat is
// applied to this node's L1 and to L2, and counted), and never moves the
// purge epoch.
func TestL2_UnsafeFanoutLimited(t *testing.T) {
	t.Parallel()
	r := gatewaytest.StartRedis(t)
	o := startVersionedOrigin(t)
	clock := gatewaytest.NewClock(time.Now())
	a := gatewaytest.StartGateway(t, l2Config(o.URL, "standalone", "fanout:", []string{r.Addr}), gateway.Options{Now: clock.Now})
	b := gatewaytest.StartGateway(t, l2Config(o.URL, "standalone", "fanout:", []string{r.Addr}), gateway.Options{})
	waitL2Ready(t, a)
	waitL2Ready(t, b)
	const path = "/items/7"
	epoch := func() string {
		t.Helper()
		v, err := r.Do("GET", "fanout:{meta}:epoch")
		if err != nil {
			t.Fatalf("GET epoch: %v", err)
		}
		return v
	}
	received := func() float64 { return b.Metric(t, "flowcache_l2_invalidations_received_total") }
	post := func() {
		t.Helper()
		if r := a.Do(t, "POST", path); r.Status != 200 {
			t.Fatalf("POST = %d", r.Status)
		}
	}
	prime(t, a, b, path)
	epoch0, got0 := epoch(), received()

	post()
	gatewaytest.WaitFor(t, "B to receive the invalidation", func() bool { return received() > got0 })
	writes := b.Metric(t, "flowcache_l2_writes_total")
	if r := b.Do(t, "GET", path); r.Get("X-Cache") != "MISS" {
		t.Errorf("B after the first POST: X-Cache %q, want MISS", r.Get("X-Cache"))
	}
	// B writes what it fetched to L2 in the background: let it land before
	// the next POST, which B is not told of and so could not cancel it.
	waitL2Writes(t, b, writes+1)

	// Within the same second: A and L2 drop the URL, the others are not told.
	published := a.Metric(t, "flowcache_l2_invalidations_published_total")
	post()
	if got := a.Metric(t, "flowcache_l2_invalidations_suppressed_total"); got != 1 {
		t.Errorf("suppressed = %v, want 1", got)
	}
	if got := a.Metric(t, "flowcache_l2_invalidations_published_total"); got != published {
		t.Errorf("published %v, want %v: the repeat within a second went out", got, published)
	}
	if r := a.Do(t, "GET", path); r.Get("X-Cache") != "MISS" {
		t.Errorf("A after the repeated POST: X-Cache %q, want MISS (its own L1 and L2 are invalidated)", r.Get("X-Cache"))
	}

	// A second later the next one goes out again.
	clock.Advance(time.Second)
	got1 := received()
	post()
	gatewaytest.WaitFor(t, "B to receive the next invalidation", func() bool { return received() > got1 })
	if e := epoch(); e != epoch0 {
		t.Errorf("purge epoch moved from %q to %q after unsafe requests", epoch0, e)
	}
}
