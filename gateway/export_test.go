package gateway

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/flowcache/flowcache/internal/poll"
)

// The in-package test harness. Tests of package gateway cannot import
// gateway/gatewaytest (it imports this package), so what they share lives
// here: a settable clock, a gateway built on it, and the waits. External
// tests use gatewaytest, whose Clock and WaitFor work the same way.

// testClock is a clock the test moves; give its Now as Options.Now, so that
// freshness, TTLs and L1 expiry follow it instead of the wall clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

// newTestClock returns a clock that reads t until it is advanced.
func newTestClock(t time.Time) *testClock { return &testClock{t: t} }

// Now returns the clock's time.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestGatewayWith validates cfg and starts a gateway with opts (a clock,
// a logger), shut down at the end of the test.
func newTestGatewayWith(tb testing.TB, cfg *Config, opts Options) *Gateway {
	tb.Helper()
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	g, err := New(cfg, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			tb.Error(err)
		}
	})
	return g
}

// waitL2Written waits until every write g queued for L2 reached Redis (or
// was dropped).
func waitL2Written(tb testing.TB, g *Gateway) {
	tb.Helper()
	t := g.l2.(*redisL2).t
	poll.WaitFor(tb, "the queued L2 writes", func() bool {
		st := t.Stats()
		return st.Written+st.WriteErrors+st.DroppedOpen+st.DroppedStale >= st.Queued
	})
}
