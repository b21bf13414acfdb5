package l2

import "sync/atomic"

// State is the circuit breaker's state, for metrics and /readyz.
type State int32

// Breaker states.
const (
	// StateClosed: Redis is used normally.
	StateClosed State = iota
	// StateOpen: Redis is not touched; Get returns ErrUnavailable at once
	// and writes are dropped. A background probe runs every cooldown.
	StateOpen
	// StateHalfOpen: a background probe succeeded; one request at a time
	// tries Redis (the others skip it as if open), the first success closes
	// the breaker and the first failure opens it again.
	StateHalfOpen
)

// String returns "closed", "open" or "half-open".
func (s State) String() string {
	switch s {
	case StateOpen:
		return "open"
	case StateHalfOpen:
		return "half-open"
	default:
		return "closed"
	}
}

// breaker is a consecutive-failure circuit breaker. Its hot path (allow,
// success) is two atomic loads; it writes shared memory only on state
// changes and failures.
//
// Opening wakes the prober (Tier.probeLoop), which alone moves the breaker
// from open to half-open: requests never wait on a probe.
type breaker struct {
	state     atomic.Int32
	fails     atomic.Int32
	trial     atomic.Bool // half-open: a request is trying Redis
	threshold int32
	opens     atomic.Uint64
	wake      chan struct{} // capacity 1: "the breaker opened"
}

func newBreaker(threshold int) *breaker {
	return &breaker{threshold: int32(max(threshold, 1)), wake: make(chan struct{}, 1)}
}

func (b *breaker) State() State { return State(b.state.Load()) }

// allow reports whether a call may touch Redis. In half-open state only
// one call at a time is allowed: a Redis that answered the probe but is
// still sick costs one request a timeout, not every request in flight. A
// call that was allowed must end in success, failure or release.
func (b *breaker) allow() bool {
	switch State(b.state.Load()) {
	case StateClosed:
		return true
	case StateOpen:
		return false
	default:
		return b.trial.CompareAndSwap(false, true)
	}
}

// isOpen reports whether the breaker is open, without taking the half-open
// trial (for queuing writes, and background reads).
func (b *breaker) isOpen() bool { return State(b.state.Load()) == StateOpen }

// success records a call that worked.
func (b *breaker) success() {
	if b.fails.Load() != 0 {
		b.fails.Store(0)
	}
	if State(b.state.Load()) == StateHalfOpen {
		b.state.CompareAndSwap(int32(StateHalfOpen), int32(StateClosed))
	}
	b.release()
}

// failure records a call that failed or was too slow.
func (b *breaker) failure() {
	switch State(b.state.Load()) {
	case StateOpen:
	case StateHalfOpen:
		b.trip()
	default:
		if b.fails.Add(1) >= b.threshold {
			b.trip()
		}
	}
	b.release()
}

// release ends an allowed call that says nothing about Redis' health (the
// caller gave up).
func (b *breaker) release() {
	if b.trial.Load() {
		b.trial.Store(false)
	}
}

// trip opens the breaker and wakes the prober.
func (b *breaker) trip() {
	if State(b.state.Swap(int32(StateOpen))) == StateOpen {
		return
	}
	b.opens.Add(1)
	select {
	case b.wake <- struct{}{}:
	default: // the prober already has a pending wake-up
	}
}

// probed records a successful background probe: open → half-open.
func (b *breaker) probed() {
	b.fails.Store(0)
	b.trial.Store(false)
	b.state.CompareAndSwap(int32(StateOpen), int32(StateHalfOpen))
}
