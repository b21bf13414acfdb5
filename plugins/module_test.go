package plugins

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowcache/flowcache/internal/poll"
	"github.com/flowcache/flowcache/internal/units"
	"github.com/flowcache/flowcache/policy"
)

func TestModule_Key(t *testing.T) {
	t.Parallel()
	m := mustLoad(t, newTestRuntime(t, Options{}), "minimal", minimalWasm, nil)
	tests := []struct {
		name    string
		r       policy.Request
		want    policy.Key
		wantErr error
	}{
		{
			"lower-cased host, path and query",
			policy.Request{Method: []byte("GET"), Host: []byte("API.Example.COM"), Path: []byte("/a/B"), Query: []byte("x=1")},
			policy.Key{Host: []byte("api.example.com"), Target: []byte("/a/B?x=1")},
			nil,
		},
		{
			"no query",
			policy.Request{Method: []byte("HEAD"), Host: []byte("h"), Path: []byte("/")},
			policy.Key{Host: []byte("h"), Target: []byte("/")},
			nil,
		},
		{
			"declared header is the variant, others are not sent",
			policy.Request{
				Method: []byte("GET"), Host: []byte("h"), Path: []byte("/p"),
				Headers: hdrs("Cookie", "a=b", "X-Device", "mobile", "x-device", "tablet"),
			},
			policy.Key{Host: []byte("h"), Target: []byte("/p"), Variant: []byte("mobile")},
			nil,
		},
		{
			"bypass",
			policy.Request{Method: []byte("POST"), Host: []byte("h"), Path: []byte("/")},
			policy.Key{Bypass: true},
			nil,
		},
		{
			"guest error result",
			policy.Request{Method: []byte("GET"), Host: []byte("h"), Path: []byte("/!x")},
			policy.Key{},
			ErrGuest,
		},
		{
			"input larger than the guest buffer",
			policy.Request{Method: []byte("GET"), Host: []byte("h"), Path: []byte("/big"), Route: make([]byte, 200<<10)},
			policy.Key{Host: []byte("h"), Target: []byte("/big")},
			nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var k policy.Key
			err := m.Key(&tt.r, &k)
			if tt.wantErr != nil {
				var ce *CallError
				if !errors.As(err, &ce) || !errors.Is(err, tt.wantErr) || ce.Op != "key" {
					t.Fatalf("Key = %v, want *CallError wrapping %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			if !k.Equal(&tt.want) {
				t.Errorf("Key(%s %s%s?%s) = {%v %q %q %q}, want {%v %q %q %q}", tt.r.Method, tt.r.Host, tt.r.Path, tt.r.Query,
					k.Bypass, k.Host, k.Target, k.Variant, tt.want.Bypass, tt.want.Host, tt.want.Target, tt.want.Variant)
			}
		})
	}
}

func TestModule_Decide(t *testing.T) {
	t.Parallel()
	m := mustLoad(t, newTestRuntime(t, Options{}), "minimal", minimalWasm, nil)
	req := benchRequest()
	def := policy.Decision{
		Store: false, Admit: false, Tier: policy.TierL2, TTL: 5 * time.Second,
		StaleWhileRevalidate: 7 * time.Second, StaleIfError: time.Hour, MustRevalidate: true,
	}
	tests := []struct {
		name   string
		status int
		want   policy.Decision
	}{
		{"200 overrides store, admit and ttl, keeps the rest", 200, policy.Decision{
			Store: true, Admit: true,
			Tier: policy.TierL2, TTL: time.Minute, StaleWhileRevalidate: 7 * time.Second, StaleIfError: time.Hour, MustRevalidate: true,
		}},
		{"404 keeps the default", 404, def},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := &policy.Response{
				Status: tt.status, BodySize: 10, Now: time.Unix(1700000000, 0),
				Headers: hdrs("Cache-Control", "max-age=5", "Content-Type", "text/plain"),
			}
			d := def
			if err := m.Decide(req, resp, &d); err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if d != tt.want {
				t.Errorf("Decide(status %d) = %+v, want %+v", tt.status, d, tt.want)
			}
		})
	}
}

// TestModule_Hostile checks that misbehaving modules are contained at call
// time: each call returns a *CallError of the expected kind (the gateway then
// answers with policy.Default), the failed instance is discarded, and the
// next call still gets an answer.
func TestModule_Hostile(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Options{})
	tests := []struct {
		name       string
		wasm       []byte
		keyErr     error
		decideErr  error
		wantDetail string
	}{
		{"infinite loop", loopWasm, ErrFuel, ErrFuel, `plugins: policy "infinite loop": key: fuel exhausted (budget 500000 units, ~250µs of CPU)`},
		{"exponential recursion", recursionWasm, ErrFuel, ErrFuel, "fuel exhausted (budget 500000 units"},
		// memory.grow costs the memory it asks for: 64 pages more are
		// over the budget.
		{"memory bomb", membombWasm, ErrFuel, ErrFuel, "fuel exhausted (budget 500000 units"},
		{"trap on every call", trapWasm, ErrTrap, ErrTrap, "trap: wasm error: unreachable"},
		{"exit", exitWasm, ErrExit, ErrExit, "exit: code 3"},
		{"bad results", badresultWasm, ErrResult, ErrResult, "bad result: abi: key result: at offset 0: unknown flags 0x38"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			cfg.Fuel = 500_000 // a quarter of the default: the same containment, faster
			// Fuel, not the wall clock, must stop these calls: on a loaded
			// CI machine (-race, parallel packages) a memory bomb's page
			// zeroing can outlast the 50ms default backstop before its fuel
			// runs out. The backstop has its own test (watchdog_test.go).
			cfg.CallTimeout = units.Duration(10 * time.Second)
			m := mustLoad(t, rt, tt.name, tt.wasm, &cfg)
			req := benchRequest()
			resp := &policy.Response{Status: 200, Headers: hdrs("Cache-Control", "max-age=60")}
			for i := range 3 { // contained: every call answers, none poisons the next
				var k policy.Key
				err := m.Key(req, &k)
				switch {
				case tt.keyErr == nil && err != nil:
					t.Fatalf("call %d: Key: %v", i, err)
				case tt.keyErr != nil && !errors.Is(err, tt.keyErr):
					t.Fatalf("call %d: Key = %v, want %v", i, err, tt.keyErr)
				case tt.keyErr != nil && i == 0 && !strings.Contains(err.Error(), tt.wantDetail):
					t.Errorf("Key error %q does not contain %q", err, tt.wantDetail)
				case errors.Is(err, ErrFuel) && strings.Contains(err.Error(), "unreachable"):
					t.Errorf("Key error %q: fuel exhaustion reads as a trap", err)
				}
				if err != nil { // the gateway's fallback
					k.Reset()
					if err := (policy.Default{}).Key(req, &k); err != nil || len(k.Target) == 0 {
						t.Fatalf("fallback Key = %v, %q", err, k.Target)
					}
				}
				var d policy.Decision
				d.Reset()
				if err := m.Decide(req, resp, &d); !errors.Is(err, tt.decideErr) {
					t.Fatalf("call %d: Decide = %v, want %v", i, err, tt.decideErr)
				}
			}
			s := m.Stats()
			if s.Failures() == 0 || s.InstancesDiscarded != s.Traps+s.FuelExhausted+s.Exits {
				t.Errorf("Stats() = %+v: want every trap, exit and fuel exhaustion (only) to discard its instance", s)
			}
		})
	}
}

// TestModule_MemoryLimit checks that memory.grow stops at max_memory.
func TestModule_MemoryLimit(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.MaxMemory = 4 << 20
	m := mustLoad(t, newTestRuntime(t, Options{}), "membomb", membombWasm, &cfg)
	var k policy.Key
	if err := m.Key(benchRequest(), &k); err != nil {
		t.Fatalf("Key: %v", err)
	}
	if len(k.Variant) != 4 {
		t.Fatalf("Key variant = %q, want 4 bytes", k.Variant)
	}
	pages := binary.LittleEndian.Uint32(k.Variant)
	if int64(pages)*pageSize > int64(cfg.MaxMemory) {
		t.Errorf("guest grew to %d pages, over max_memory %v", pages, cfg.MaxMemory)
	}
}

func TestModule_LogsOncePerMinute(t *testing.T) {
	t.Parallel()
	h := &recordHandler{}
	rt := newTestRuntime(t, Options{Logger: slog.New(h)})
	m := mustLoad(t, rt, "trap", trapWasm, nil)
	for range 5 {
		var k policy.Key
		if err := m.Key(benchRequest(), &k); !errors.Is(err, ErrTrap) {
			t.Fatalf("Key = %v, want ErrTrap", err)
		}
	}
	if n := h.messages("policy call failed"); n != 1 {
		t.Errorf("%d failure logs for 5 failures within a minute, want 1", n)
	}
	if s := m.Stats(); s.Traps != 5 {
		t.Errorf("Stats().Traps = %d, want 5", s.Traps)
	}
}

func TestModule_Close(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Options{})
	m := mustLoad(t, rt, "minimal", minimalWasm, nil)
	if err := m.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var k policy.Key
	if err := m.Key(benchRequest(), &k); !errors.Is(err, ErrClosed) {
		t.Errorf("Key after Close = %v, want ErrClosed", err)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestModule_Concurrent runs many goroutines through the pool (run it with
// -race).
func TestModule_Concurrent(t *testing.T) {
	t.Parallel()
	m := mustLoad(t, newTestRuntime(t, Options{}), "minimal", minimalWasm, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			req := benchRequest()
			var k policy.Key
			for i := range 200 {
				k.Reset()
				if err := m.Key(req, &k); err != nil {
					t.Errorf("goroutine %d call %d: %v", g, i, err)
					return
				}
				if string(k.Host) != "api.example.com" || string(k.Variant) != "mobile" {
					t.Errorf("goroutine %d: Key = %q %q %q", g, k.Host, k.Target, k.Variant)
					return
				}
			}
		})
	}
	wg.Wait()
}

// parked returns the number of instances in m's slots.
func parked(m *Module) int {
	n := 0
	for i := range m.slots {
		if m.slots[i].Load() != nil {
			n++
		}
	}
	return n
}

// waitParked runs GCs until every slot of m holds an instance: two GCs
// empty a sync.Pool (primary, then victim), and the cleanups of the dropped
// instances, which run after the GC on their own goroutine, park them.
func waitParked(t *testing.T, m *Module) {
	t.Helper()
	poll.WaitFor(t, fmt.Sprintf("all %d slots to hold an instance", len(m.slots)), func() bool {
		runtime.GC()
		return parked(m) >= len(m.slots)
	})
	if n := parked(m); n != len(m.slots) {
		t.Fatalf("%d of %d slots hold an instance; Stats() = %+v", n, len(m.slots), m.Stats())
	}
}

// fillSlots takes as many instances at once as m has slots, which creates
// those the load did not, and returns them.
func fillSlots(t testing.TB, m *Module) {
	t.Helper()
	insts := make([]*instance, len(m.slots))
	for i := range insts {
		inst, err := m.get()
		if err != nil {
			t.Fatal(err)
		}
		insts[i] = inst
	}
	for _, inst := range insts {
		m.put(inst)
	}
}

// TestModule_PoolSurvivesGC checks that the instances of a module in use
// survive the GCs that empty the sync.Pool: the load makes one instance,
// the first round as many as there are slots; every round takes that many
// at once, makes calls, returns them, and GCs until the pool has dropped
// them all; no later round creates or closes an instance.
func TestModule_PoolSurvivesGC(t *testing.T) {
	m := mustLoad(t, newTestRuntime(t, Options{}), "minimal", minimalWasm, nil)
	n := len(m.slots)
	if n == 0 || m.Stats().InstancesCreated != 1 || parked(m) != 1 {
		t.Fatalf("%d slots, %d parked, Stats() = %+v: want one instance, parked, after the load", n, parked(m), m.Stats())
	}
	var k policy.Key
	for round := range 5 {
		insts := make([]*instance, n)
		for i := range insts {
			inst, err := m.get()
			if err != nil {
				t.Fatal(err)
			}
			insts[i] = inst
		}
		for _, inst := range insts {
			m.put(inst)
		}
		for range 3 {
			k.Reset()
			if err := m.Key(benchRequest(), &k); err != nil {
				t.Fatalf("round %d: Key: %v", round, err)
			}
		}
		waitParked(t, m)
		if s := m.Stats(); s.InstancesCreated != uint64(n) || s.InstancesDropped != 0 {
			t.Fatalf("round %d: Stats() = %+v, want %d instances created and none dropped", round, s, n)
		}
	}
}

// TestModule_IdleClosed checks that the instances kept across GCs are
// closed once the module has had no call for idleTimeout, with the GC tick
// driven by hand on injected times, and that the module then starts a new
// instance for the next call.
func TestModule_IdleClosed(t *testing.T) {
	m := mustLoad(t, newTestRuntime(t, Options{}), "minimal", minimalWasm, nil)
	fillSlots(t, m)
	var k policy.Key
	if err := m.Key(benchRequest(), &k); err != nil {
		t.Fatal(err)
	}
	waitParked(t, m)
	n := uint64(len(m.slots))
	// GC ticks may also run on their own, with the real time: t0 is now,
	// so that they see a module used less than idleTimeout ago.
	t0 := time.Now().UnixNano()
	m.used.Store(true)
	tests := []struct {
		name    string
		now     int64
		dropped uint64
	}{
		{"used since the last tick", t0, 0},
		{"idle, within the timeout", t0 + int64(idleTimeout), 0},
		// A GC tick of its own, between t0 and now, may have moved
		// lastUsed a little past t0: a minute of margin.
		{"idle past the timeout", t0 + int64(idleTimeout+time.Minute), n},
		{"nothing left", t0 + int64(2*idleTimeout+time.Minute), n},
	}
	for _, tt := range tests {
		m.tick(tt.now)
		if s := m.Stats(); s.InstancesDropped != tt.dropped {
			t.Errorf("%s: InstancesDropped = %d, want %d", tt.name, s.InstancesDropped, tt.dropped)
		}
	}
	if p := parked(m); p != 0 {
		t.Errorf("%d instances still parked after the idle timeout", p)
	}
	k.Reset()
	if err := m.Key(benchRequest(), &k); err != nil || string(k.Host) != "api.example.com" {
		t.Fatalf("Key after the idle close = %q, %v", k.Host, err)
	}
	if s := m.Stats(); s.InstancesCreated != n+1 {
		t.Errorf("InstancesCreated = %d, want %d (a new instance for the call after the idle close)", s.InstancesCreated, n+1)
	}
}

// TestModule_IdleDropClosed checks that an instance the pool drops while
// the module is idle is closed, not parked.
func TestModule_IdleDropClosed(t *testing.T) {
	m := mustLoad(t, newTestRuntime(t, Options{}), "minimal", minimalWasm, nil)
	inst, err := m.get()
	if err != nil {
		t.Fatal(err)
	}
	m.used.Store(false)
	m.lastUsed.Store(time.Now().Add(-2 * idleTimeout).UnixNano())
	c := inst.core
	inst.cleanup.Stop() // run the cleanup by hand
	dropped(c)
	if !c.mod.IsClosed() || m.Stats().InstancesDropped != 1 {
		t.Errorf("idle drop: closed %v, Stats() = %+v, want the instance closed and counted", c.mod.IsClosed(), m.Stats())
	}
	if p := parked(m); p >= len(m.slots) {
		t.Errorf("%d instances parked, want at most %d", p, len(m.slots)-1)
	}
}

// TestModule_ConcurrentFailures discards and recreates instances from many
// goroutines at once (run it with -race).
func TestModule_ConcurrentFailures(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Options{})
	for _, tt := range []struct {
		name string
		wasm []byte
		want error
	}{{"trap", trapWasm, ErrTrap}, {"loop", loopWasm, ErrFuel}, {"bad results", badresultWasm, ErrResult}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			cfg.Fuel = 10_000
			m := mustLoad(t, rt, tt.name, tt.wasm, &cfg)
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					var k policy.Key
					for range 25 {
						if err := m.Key(benchRequest(), &k); !errors.Is(err, tt.want) {
							t.Errorf("Key = %v, want %v", err, tt.want)
							return
						}
					}
				})
			}
			wg.Wait()
			if s := m.Stats(); s.Failures() != 100 {
				t.Errorf("Stats().Failures() = %d, want 100", s.Failures())
			}
		})
	}
}

// TestModule_CloseReleases checks that a closed Module is garbage: nothing
// (a pending cleanup, a slot, the GC tick) keeps it alive.
func TestModule_CloseReleases(t *testing.T) {
	rt := newTestRuntime(t, Options{})
	m := mustLoad(t, rt, "minimal", minimalWasm, nil)
	var k policy.Key
	if err := m.Key(benchRequest(), &k); err != nil {
		t.Fatal(err)
	}
	collected := make(chan struct{})
	runtime.AddCleanup(m, func(ch chan struct{}) { close(ch) }, collected)
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// m is dead from here on (precise liveness): only a leak keeps it.
	poll.WaitFor(t, "the closed Module to be collected", func() bool {
		runtime.GC()
		select {
		case <-collected:
			return true
		default:
			return false
		}
	})
}

// TestModule_InstantiateError checks the path where the pool is empty and a
// new instance cannot be created.
func TestModule_InstantiateError(t *testing.T) {
	t.Parallel()
	m := mustLoad(t, newTestRuntime(t, Options{}), "minimal", minimalWasm, nil)
	// Empty the slots and the pool, then break instantiation underneath.
	for i := range m.slots {
		if inst := m.slots[i].Swap(nil); inst != nil {
			inst.close()
		}
	}
	for v := m.pool.Get(); v != nil; v = m.pool.Get() {
		v.(*instance).close()
	}
	if err := m.eng.Load().wr.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var k policy.Key
	err := m.Key(benchRequest(), &k)
	var ce *CallError
	if !errors.As(err, &ce) || ce.Op != "instantiate" || !errors.Is(err, ErrInit) {
		t.Fatalf("Key = %v, want an instantiate *CallError wrapping ErrInit", err)
	}
	if s := m.Stats(); s.InstantiateErrors != 1 || s.Failures() != 1 {
		t.Errorf("Stats() = %+v, want one instantiate error", s)
	}
}

// TestModule_CloseDuringCalls closes a Module while goroutines call it (run
// it with -race): every call answers or fails with a *CallError, nothing
// panics, and the Module is released afterwards.
func TestModule_CloseDuringCalls(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		wasm []byte
	}{{"wat", minimalWasm}, {"loop", loopWasm}, {"wasi", exitWasm}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			cfg.Fuel = 200_000
			m := mustLoad(t, newTestRuntime(t, Options{}), tt.name, tt.wasm, &cfg)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 4 {
				wg.Go(func() {
					<-start
					var k policy.Key
					for range 200 {
						k.Reset()
						var ce *CallError
						if err := m.Key(benchRequest(), &k); err != nil && !errors.As(err, &ce) {
							t.Errorf("Key = %v (%T), want nil or *CallError", err, err)
							return
						}
					}
				})
			}
			close(start)
			if err := m.Close(context.Background()); err != nil {
				t.Errorf("Close: %v", err)
			}
			wg.Wait()
			if p := parked(m); p != 0 {
				t.Errorf("%d instances parked after Close", p)
			}
			if v := m.pool.Get(); v != nil {
				t.Error("an instance was pooled after Close")
			}
		})
	}
}
