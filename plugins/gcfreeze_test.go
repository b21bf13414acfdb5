package plugins

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/flowcache/flowcache/policy"
)

// TestModule_GCDuringHostileCalls runs hostile key calls (a loop of
// divisions, each call stopped by its budget) in one goroutine while
// another forces GCs and a third serves HTTP requests on loopback: every
// GC's stop-the-world waits for the call in flight, so each is bounded by
// a call's budget, and everything completes. The times are logged, not
// asserted; the test fails only if the work does not complete within a
// generous bound (the old metering, 1 unit per loop iteration, let a call
// of this shape run 8s).
func TestModule_GCDuringHostileCalls(t *testing.T) {
	t.Parallel()
	const rounds = 20
	m := loadHostile(t, newTestRuntime(t, Options{}), 2, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)

	var wg sync.WaitGroup
	var calls, gcs, gets [rounds]time.Duration
	wg.Go(func() {
		req := hostileRequest()
		for i := range rounds {
			var k policy.Key
			start := time.Now()
			if err := m.Key(req, &k); err == nil {
				t.Error("hostile call succeeded")
			}
			calls[i] = time.Since(start)
		}
	})
	wg.Go(func() {
		for i := range rounds {
			start := time.Now()
			runtime.GC()
			gcs[i] = time.Since(start)
		}
	})
	wg.Go(func() {
		for i := range rounds {
			start := time.Now()
			resp, err := http.Get(srv.URL) //nolint:noctx // a loopback test server
			if err != nil {
				t.Error(err)
				return
			}
			_ = resp.Body.Close() // the status is all that matters
			gets[i] = time.Since(start)
		}
	})
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second): // a hang guard, not a measure
		t.Fatal("hostile calls, GCs and HTTP requests did not complete")
	}
	t.Logf("max wall time: hostile call %v, runtime.GC %v, HTTP GET %v", maxOf(calls[:]), maxOf(gcs[:]), maxOf(gets[:]))
	if s := m.Stats(); s.FuelExhausted != rounds {
		t.Errorf("Stats().FuelExhausted = %d, want %d", s.FuelExhausted, rounds)
	}
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
