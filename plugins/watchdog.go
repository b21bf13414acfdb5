package plugins

import (
	"context"
	"fmt"
	"math"
	"time"
)

// watchdogTick is the period of a Runtime's watchdog: a call is stopped
// between its call_timeout and call_timeout plus one tick after it began.
const watchdogTick = 10 * time.Millisecond

// busyStopped marks a core whose call the watchdog stopped.
const busyStopped = -1

// watch runs the watchdog until done is closed: one goroutine per Runtime,
// whatever the number of calls. See [Runtime.tick].
func (rt *Runtime) watch(done <-chan struct{}) {
	t := time.NewTicker(watchdogTick)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			rt.tick()
		}
	}
}

// tick advances the Runtime's clock (rt.epoch, in ticks) and stops every
// call that began more than its module's call_timeout ago.
//
// # Why a clock in ticks?
//
// A call notes when it began by storing the current tick in its core
// (core.busy) and clears it when it returns: an atomic load and two atomic
// stores, no time.Now, no timer and no goroutine per call. The watchdog
// reads every core of every open module at each tick. To stop a call it
// first marks the core (busy: busyStopped, by compare-and-swap, so that a
// call that has just returned and a new one that has begun are never
// mistaken for it), then raises the core's stop global: the guest traps at
// its next fuel charge (on the interpreter it cancels the core's context
// instead, which the interpreter polls at loop heads and calls). The call that finds its core marked reports
// ErrBackstop, and the core is discarded, since its stop global may be
// raised at any moment after the mark.
//
// A stop-the-world pause waits for a guest call (compiled code cannot be
// preempted), and the watchdog stops with the world: the backstop cannot
// shorten such a pause; the fuel budget bounds it.
func (rt *Runtime) tick() {
	now := rt.epoch.Add(1)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for m := range rt.modules {
		m.watch(now)
	}
}

// watch stops the calls of m that began more than m.timeoutTicks ticks
// before now.
func (m *Module) watch(now int64) {
	m.liveMu.Lock()
	defer m.liveMu.Unlock()
	for c := range m.live {
		limit := m.timeoutTicks
		if c.eng.interp {
			limit *= interpreterSlowdown
		}
		if b := c.busy.Load(); b > 0 && now-b > limit && c.busy.CompareAndSwap(b, busyStopped) {
			if c.cancel != nil {
				c.cancel()
			} else {
				c.stop.Set(math.MaxInt64)
			}
		}
	}
}

// timeoutTicks returns the number of watchdog ticks that cover d.
func timeoutTicks(d time.Duration) int64 {
	return int64((d + watchdogTick - 1) / watchdogTick)
}

// begin notes that a guest call begins on c, and returns the context to
// run it with: ctx, or on the interpreter c's own, which the watchdog
// cancels to stop it. Not for the init calls, which run under their own
// budget before c is watched.
func (c *core) begin(ctx context.Context) context.Context {
	if c.stop != nil {
		c.busy.Store(c.m.rt.epoch.Load())
	}
	if c.ctx != nil {
		return c.ctx
	}
	return ctx
}

// end notes that the call that began on c has returned, and reports
// whether the watchdog stopped it (c must then be discarded).
func (c *core) end() bool {
	return c.stop != nil && c.busy.Swap(0) == busyStopped
}

// backstopError is the error of a call the watchdog stopped on c.
func (c *core) backstopError() error {
	d := c.m.timeout
	if c.eng.interp {
		return fmt.Errorf("%w: call exceeded %v wall-clock backstop (%v x%d on the interpreter)", ErrBackstop, d*interpreterSlowdown, d, interpreterSlowdown)
	}
	return fmt.Errorf("%w: call exceeded %v wall-clock backstop", ErrBackstop, d)
}

// track adds c to the cores the watchdog reads.
func (m *Module) track(c *core) {
	m.liveMu.Lock()
	m.live[c] = struct{}{}
	m.liveMu.Unlock()
}

// shut closes c and removes it from the cores the watchdog reads.
func (c *core) shut() {
	m := c.m
	m.liveMu.Lock()
	delete(m.live, c)
	m.liveMu.Unlock()
	_ = c.mod.Close(m.ctx) // a failed or idle instance: nothing to report
	if c.cancel != nil {
		c.cancel()
	}
	c.eng.unpin(m.ctx)
}
