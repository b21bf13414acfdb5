package gateway

import (
	"sync"
	"time"
)

// flightGroup joins concurrent cache misses for one key, in the manner of
// groupcache's singleflight, with two differences: waiters do not share
// the leader's result (they re-read the cache, which is what lets a waiter
// with a different Vary variant, or one whose leader failed, make its own
// attempt), and a wait is bounded.
//
// The order of events for one key K:
//
//  1. A misses K, calls join(K): no call in flight, A becomes the leader.
//  2. B misses K, calls join(K): gets A's call and waits on done.
//  3. A re-checks the cache (a previous leader may have stored K between
//     A's miss and A's join), fetches, stores, then calls finish(K): the
//     call is removed from the map, then done is closed.
//  4. B wakes, reads the cache again: a hit if A stored a response B can
//     use; otherwise B fetches on its own, without joining again.
//
// Because finish removes the call before closing done, a request that
// misses after step 3 starts a new flight instead of waiting on a finished
// one.
type flightGroup struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one in-flight upstream fetch.
type flight struct {
	done chan struct{}
}

// join returns the flight for key and whether the caller leads it. The
// leader must call finish(key, f) exactly once.
func (g *flightGroup) join(key []byte) (f *flight, leader bool) {
	g.mu.Lock()
	if f, ok := g.m[string(key)]; ok {
		g.mu.Unlock()
		return f, false
	}
	if g.m == nil {
		g.m = map[string]*flight{}
	}
	f = &flight{done: make(chan struct{})}
	g.m[string(key)] = f
	g.mu.Unlock()
	return f, true
}

// finish ends the leader's flight f for key and wakes its waiters.
func (g *flightGroup) finish(key []byte, f *flight) {
	g.mu.Lock()
	if g.m[string(key)] == f {
		delete(g.m, string(key))
	}
	g.mu.Unlock()
	close(f.done)
}

// wait blocks until f is finished or timeout elapses and reports whether
// it finished.
func (f *flight) wait(timeout time.Duration) bool {
	if timeout <= 0 {
		<-f.done
		return true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-f.done:
		return true
	case <-t.C:
		return false
	}
}
