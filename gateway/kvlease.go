package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/l2"
)

// # Leases
//
// A look-aside cache invites stampedes: when a hot value goes missing,
// every caller misses at once and every one of them recomputes it from the
// database. Leases, as in memcached ("Scaling Memcache at Facebook",
// NSDI 2013), let one caller do it:
//
//	caller A: GET /kv/ns/k?lease=1        → 404, Flowcache-Lease: t1
//	caller B: GET /kv/ns/k?lease=1&wait=2s   (waits)
//	caller A: PUT /kv/ns/k, Flowcache-Lease: t1 → 204
//	caller B:                             → 200, the value A wrote
//
// A lease expires after the namespace's lease_ttl; a waiter then takes a
// new one. A DELETE (or any write) of the key voids it: a fill that
// carries a void token gets 409, so a value computed before a delete is
// never written after it:
//
//	A: GET ?lease=1 → t1;  reads the database (old row)
//	B: updates the row; DELETE /kv/ns/k  (voids t1)
//	A: PUT with t1 → 409 (the old row is not cached)
//
// With Redis (namespace tier "both" or "l2") the lease is a placeholder
// record under the value's own key, taken with a conditional SET (NX) and
// filled by a script that checks the token: one key, so leases hold across
// nodes and in Redis Cluster, and a DEL of the key removes lease and value
// at once. Without Redis they live in this process (kvLeases).
//
// Waiters are woken by a local write or delete of the key, by the bus
// message of another node's (applyKV), and otherwise look again every
// kvLeasePoll.

// Bounds of a leased GET.
const (
	kvMaxWait   = 30 * time.Second
	kvLeasePoll = 50 * time.Millisecond
)

// kvWait reads ?wait= (seconds, or a duration such as "250ms"; 0 by
// default, at most kvMaxWait).
func kvWait(q []byte) (time.Duration, error) {
	if len(q) == 0 {
		return 0, nil
	}
	d, err := parseKVDuration(string(q), 0, kvMaxWait)
	if err != nil {
		return 0, fmt.Errorf("wait: %w", err)
	}
	return d, nil
}

// leaseMiss answers a leased GET that missed: 404 with a new lease
// token if no one holds one; else it waits up to wait for the value (200),
// or for the lease to go (then 404 with a new token), and answers 404
// with Retry-After when the wait ends first.
func (s *kvService) leaseMiss(ctx *fasthttp.RequestCtx, ns *kvNamespace, c *kvCall, now time.Time, wait time.Duration) {
	deadline := now.Add(wait)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		w := s.waits.add(c.ikey)
		nowMs := s.g.now().UnixMilli()
		if s.read(ns, c, nowMs) {
			s.waits.done(c.ikey, w)
			ns.m.hits.Inc()
			writeKVValue(ctx, c, nowMs)
			return
		}
		token, err := s.takeLease(ns, c, nowMs)
		if err != nil {
			s.waits.done(c.ikey, w)
			kvError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
			return
		}
		if token != 0 {
			s.waits.done(c.ikey, w)
			ns.m.leases.Inc()
			c.hdr = appendHex64(c.hdr[:0], token)
			ctx.Response.Header.SetBytesV(kvTokenHeader, c.hdr)
			kvError(ctx, fasthttp.StatusNotFound, "not found; you hold the lease: PUT the value with the Flowcache-Lease field")
			return
		}
		left := deadline.Sub(s.g.now())
		if left <= 0 {
			s.waits.done(c.ikey, w)
			ctx.Response.Header.Set("Retry-After", "1")
			kvError(ctx, fasthttp.StatusNotFound, "not found; another caller holds the lease: retry")
			return
		}
		d := min(left, kvLeasePoll)
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-w.ch:
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
		}
		s.waits.done(c.ikey, w)
	}
}

// takeLease gives the caller the lease on c.ikey and returns its token, or
// 0 when someone holds it (or a value appeared).
func (s *kvService) takeLease(ns *kvNamespace, c *kvCall, nowMs int64) (uint64, error) {
	token := newKVVersion()
	if ns.l2 {
		c.rec = appendLeaseRecord(c.rec[:0], token)
		ctx, cancel := context.WithTimeout(context.Background(), kvL2Timeout)
		defer cancel()
		_, err := s.redis.t.WriteNow(ctx, c.ikey, c.rec, ns.leaseTTL, nil, l2.Cond{Op: l2.OpNothing, Kind: kindKV, Lease: kindLease, At: kvVersionAt})
		switch {
		case err == nil:
			return token, nil
		case errors.Is(err, l2.ErrCondition):
			return 0, nil
		default:
			return 0, errors.New("redis unavailable: no lease could be taken")
		}
	}
	mu := s.g.records.lock(c.ikey)
	mu.Lock()
	defer mu.Unlock()
	if v, ok := s.g.l1.get(c.ikey, c.buf); ok {
		c.buf = v
		var r kvRecord
		if parseKVRecord(v, &r) == nil && s.live(&r, nowMs) {
			return 0, nil // written meanwhile: the caller reads it next
		}
	}
	if !s.leases.take(c.ikey, token, nowMs+ns.leaseTTL.Milliseconds(), nowMs) {
		return 0, nil
	}
	return token, nil
}

// kvLeases are the leases of namespaces without Redis: key → token and
// expiry. Safe for concurrent use.
type kvLeases struct {
	mu sync.Mutex
	m  map[string]kvLease
}

type kvLease struct {
	token   uint64
	expires int64 // unix ms
}

// kvLeaseSweep is the size at which take first drops expired leases.
const kvLeaseSweep = 4096

// take records a lease on ikey unless an unexpired one exists.
func (l *kvLeases) take(ikey []byte, token uint64, expires, nowMs int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.m[string(ikey)]; ok && cur.expires > nowMs {
		return false
	}
	if l.m == nil {
		l.m = make(map[string]kvLease)
	}
	if len(l.m) >= kvLeaseSweep {
		for k, v := range l.m {
			if v.expires <= nowMs {
				delete(l.m, k)
			}
		}
	}
	l.m[string(ikey)] = kvLease{token: token, expires: expires}
	return true
}

// holds reports whether token is the unexpired lease on ikey.
func (l *kvLeases) holds(ikey []byte, token uint64, nowMs int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.m[string(ikey)]
	return ok && cur.token == token && cur.expires > nowMs
}

// drop voids the lease on ikey and reports whether there was one.
func (l *kvLeases) drop(ikey []byte) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) == 0 {
		return false
	}
	_, ok := l.m[string(ikey)]
	delete(l.m, string(ikey))
	return ok
}

// kvWaits are the callers waiting for keys: one channel per key, closed
// (and replaced) by signal. Safe for concurrent use.
type kvWaits struct {
	mu sync.Mutex
	m  map[string]*kvWaiter
}

type kvWaiter struct {
	ch chan struct{}
	n  int // callers holding it
}

// add registers a caller waiting for ikey.
func (ws *kvWaits) add(ikey []byte) *kvWaiter {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	w := ws.m[string(ikey)]
	if w == nil {
		if ws.m == nil {
			ws.m = make(map[string]*kvWaiter)
		}
		w = &kvWaiter{ch: make(chan struct{})}
		ws.m[string(ikey)] = w
	}
	w.n++
	return w
}

// done unregisters a caller added with add.
func (ws *kvWaits) done(ikey []byte, w *kvWaiter) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	w.n--
	if w.n == 0 && ws.m[string(ikey)] == w {
		delete(ws.m, string(ikey))
	}
}

// signal wakes every caller waiting for ikey.
func (ws *kvWaits) signal(ikey []byte) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if w := ws.m[string(ikey)]; w != nil {
		close(w.ch)
		delete(ws.m, string(ikey))
	}
}
