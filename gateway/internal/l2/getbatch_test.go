package l2

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flowcache/flowcache/gateway/internal/l2/redistest"
)

// testPipelinedGets reads n keys at once, every other one present, from
// as many goroutines, and checks that each read gets its own answer and
// that the reads shared round trips.
func testPipelinedGets(t *testing.T, tr *Tier) {
	t.Helper()
	const n = 200
	for i := 0; i < n; i += 2 {
		if !tr.Set([]byte("p"+strconv.Itoa(i)), []byte("value of p"+strconv.Itoa(i)), time.Minute, Index{}) {
			t.Fatalf("Set(p%d) dropped", i)
		}
	}
	waitFor(t, "writes", func() bool { return tr.Stats().Written == n/2 })
	before := tr.Stats()
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			k := "p" + strconv.Itoa(i)
			v, err := tr.Get(context.Background(), []byte(k), nil)
			switch {
			case i%2 == 0 && (err != nil || string(v) != "value of "+k):
				errs[i] = errors.New(k + ": got " + strconv.Quote(string(v)) + ", " + errString(err))
			case i%2 == 1 && !errors.Is(err, ErrMiss):
				errs[i] = errors.New(k + ": want ErrMiss, got " + errString(err))
			}
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	after := tr.Stats()
	reads := after.Hits + after.Misses - before.Hits - before.Misses
	trips := after.ReadRoundTrips - before.ReadRoundTrips
	if reads != n || after.Hits-before.Hits != n/2 {
		t.Fatalf("Stats: %d reads, %d hits; want %d, %d", reads, after.Hits-before.Hits, n, n/2)
	}
	if trips == 0 || trips >= reads {
		t.Errorf("%d concurrent reads took %d round trips: want them pipelined", reads, trips)
	}
	t.Logf("%d concurrent reads in %d round trips", reads, trips)
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestTier_GetPipelined(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	tr := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) { c.KeyPrefix = "pipelined:" }, Deps{})
	testPipelinedGets(t, tr)
	// A lone read is one round trip.
	before := tr.Stats().ReadRoundTrips
	if v, err := get(t, tr, "p0"); err != nil || v != "value of p0" {
		t.Fatalf("Get(p0) = %q, %v", v, err)
	}
	if trips := tr.Stats().ReadRoundTrips - before; trips != 1 {
		t.Errorf("a lone read took %d round trips, want 1", trips)
	}
}

// TestTier_GetGivesUp checks that a read waiting on a frozen Redis returns
// when its context ends, not when the reader's round trip does, and that
// the reader serves later reads once Redis is back.
func TestTier_GetGivesUp(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	tr := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) {
		c.KeyPrefix = "givesup:"
		c.ReadTimeout = 5 * time.Second
		c.BreakerFailures = 1000 // this test is about the caller, not the breaker
	}, Deps{})
	setSync(t, tr, "k", "v", time.Minute, Index{})
	r.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := tr.Get(ctx, []byte("k"), nil)
	cancel()
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get on a frozen Redis = %v, want ErrUnavailable and the context's deadline", err)
	}
	r.Cont()
	waitFor(t, "a read after Redis is back", func() bool {
		v, err := get(t, tr, "k")
		return err == nil && v == "v"
	})
}
