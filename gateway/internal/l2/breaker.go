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
	// StateHalfOpen: a probe succeeded; requests use Redis again, the first
	// success closes the breaker and the first failure opens it again.
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
	threshold int32
	opens     atomic.Uint64
	wake      chan struct{} // capacity 1: "the breaker opened"
}

func newBreaker(threshold int) *breaker {
	return &breaker{threshold: int32(max(threshold, 1)), wake: make(chan struct{}, 1)}
}

func (b *breaker) State() State { return State(b.state.Load()) }

// allow reports whether a call may touch Redis.
func (b *breaker) allow() bool { return State(b.state.Load()) != StateOpen }

// success records a call that worked.
func (b *breaker) success() {
	if b.fails.Load() != 0 {
		b.fails.Store(0)
	}
	if State(b.state.Load()) == StateHalfOpen {
		b.state.CompareAndSwap(int32(StateHalfOpen), int32(StateClosed))
	}
}

// failure records a call that failed or was too slow.
func (b *breaker) failure() {
	switch State(b.state.Load()) {
	case StateOpen:
		return
	case StateHalfOpen:
		b.trip()
	default:
		if b.fails.Add(1) >= b.threshold {
			b.trip()
		}
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
	b.state.CompareAndSwap(int32(StateOpen), int32(StateHalfOpen))
}
