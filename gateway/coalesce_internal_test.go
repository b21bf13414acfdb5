package gateway

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestFlightGroup_Wait: a waiter is woken when its leader finishes, gives
// up after the timeout when the leader hangs, and a key whose flight
// finished starts a new one. Time is synctest's fake clock.
func TestFlightGroup_Wait(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var g flightGroup
		key := []byte("k")
		f, leader := g.join(key)
		if !leader {
			t.Fatal("first join is not the leader")
		}
		f2, leader2 := g.join(key)
		if leader2 || f2 != f {
			t.Fatal("second join did not join the flight")
		}
		start := time.Now()
		if f2.wait(10 * time.Second) {
			t.Fatal("wait returned true while the leader hangs")
		}
		if d := time.Since(start); d != 10*time.Second {
			t.Errorf("waited %v, want the 10s timeout", d)
		}
		done := make(chan bool)
		go func() { done <- f2.wait(time.Minute) }()
		synctest.Wait() // the waiter is blocked in wait
		g.finish(key, f)
		if !<-done {
			t.Error("waiter not woken by finish")
		}
		if _, leader := g.join(key); !leader {
			t.Error("a finished key did not start a new flight")
		}
	})
}
