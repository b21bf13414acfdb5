package plugins

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowcache/flowcache/internal/units"
	"github.com/flowcache/flowcache/policy"
)

// TestTiered_InterpreterThenCompiled loads a Go guest this executable never
// compiled with Options.Tiered: it serves at once from the interpreter,
// then, while calls run on every P, moves to the compiled code with no
// failed call and the same keys; the interpreter's instances and runtime
// are closed; a second runtime on the same cache directory starts compiled.
func TestTiered_InterpreterThenCompiled(t *testing.T) {
	t.Parallel()
	wasm := goGuestWasm(t)
	dir := t.TempDir()
	rt := newTestRuntime(t, Options{CacheDir: dir, Tiered: true})
	rt.compileSlot <- struct{}{} // holds the background compile until the calls run
	m := mustLoad(t, rt, "go", wasm, nil)
	if got := m.Engine(); got != EngineInterpreter {
		t.Fatalf("Engine() = %q right after the load, want %q", got, EngineInterpreter)
	}
	first := m.eng.Load()

	check := func(i int) error {
		p := "/p/" + string(rune('a'+i%26))
		var k policy.Key
		if err := m.Key(&policy.Request{Method: []byte("GET"), Host: []byte("h"), Path: []byte(p)}, &k); err != nil {
			return err
		}
		if string(k.Host) != "h" || string(k.Target) != p || string(k.Variant) != "go:" {
			return errors.New("key " + string(k.Host) + " " + string(k.Target) + " " + string(k.Variant) + ", want h " + p + " go:")
		}
		return nil
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	calls := make([]int, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := check(i); err != nil {
					errc <- err
					return
				}
				calls[g]++
				time.Sleep(50 * time.Microsecond) // leave the processors to the compile (-race is slow)
			}
		})
	}
	time.Sleep(20 * time.Millisecond) // some calls on the interpreter
	<-rt.compileSlot
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a bound against a hang
	defer cancel()
	if !m.WaitCompiled(ctx) {
		t.Fatalf("WaitCompiled = false, Engine() = %q", m.Engine())
	}
	for i := 0; ; i++ { // the last tierUp schedules the memory's return
		rt.fgMu.Lock()
		scheduled := rt.freeTimer != nil
		rt.fgMu.Unlock()
		if scheduled {
			break
		}
		if i == 1000 {
			t.Fatal("no free scheduled 10s after the compile")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // some calls on the compiled code
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("a call failed across the swap: %v", err)
	}
	if got := m.Engine(); got != EngineCompiler {
		t.Errorf("Engine() = %q after WaitCompiled, want %q", got, EngineCompiler)
	}
	if s := m.Stats(); s.Failures() != 0 {
		t.Errorf("Stats() = %+v, want no failure", s)
	}
	if !first.retired.Load() {
		t.Error("the interpreter's engine is not retired")
	}
	// Its instances idle in other Ps' pools go at GCs (the pool drops
	// them) or when a call finds them; then its runtime is closed.
	waitFor(t, "the interpreter's engine to close", func() bool {
		runtime.GC()
		var k policy.Key
		_ = m.Key(&policy.Request{Method: []byte("GET"), Host: []byte("h"), Path: []byte("/")}, &k)
		return first.closed.Load()
	})
	if err := check(1); err != nil {
		t.Errorf("after the interpreter closed: %v", err)
	}

	rt2 := newTestRuntime(t, Options{CacheDir: dir, Tiered: true})
	m2 := mustLoad(t, rt2, "go", wasm, nil)
	if got := m2.Engine(); got != EngineCompiler {
		t.Errorf("second runtime: Engine() = %q, want %q (compiled once, remembered)", got, EngineCompiler)
	}
}

// TestTiered_Off loads with Options.Tiered off: compiled at once.
func TestTiered_Off(t *testing.T) {
	t.Parallel()
	m := mustLoad(t, newTestRuntime(t, Options{CacheDir: t.TempDir()}), "minimal", minimalWasm, nil)
	if got := m.Engine(); got != EngineCompiler || !m.WaitCompiled(context.Background()) {
		t.Errorf("Engine() = %q, want %q", got, EngineCompiler)
	}
}

// TestTiered_CloseBeforeCompile closes a module and then its runtime while
// its background compile waits for its turn: nothing is compiled, nothing
// hangs, and the module stays closed.
func TestTiered_CloseBeforeCompile(t *testing.T) {
	t.Parallel()
	rt, err := NewRuntime(Options{CacheDir: t.TempDir(), Tiered: true})
	if err != nil {
		t.Fatal(err)
	}
	rt.compileSlot <- struct{}{}
	m := mustLoad(t, rt, "minimal", minimalWasm, nil)
	m2 := mustLoad(t, rt, "minimal2", minimalWasm, nil)
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- rt.Close(context.Background()) }()
	<-rt.compileSlot
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Runtime.Close: %v", err)
		}
	case <-time.After(30 * time.Second): // a bound against a hang
		t.Fatal("Runtime.Close hangs with a background compile pending")
	}
	for _, m := range []*Module{m, m2} {
		if m.WaitCompiled(context.Background()) {
			t.Errorf("%s: WaitCompiled = true after Close", m.name)
		}
		var k policy.Key
		if err := m.Key(benchRequest(), &k); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: Key after Close = %v, want ErrClosed", m.name, err)
		}
	}
}

// TestTiered_Backstop checks that an interpreted call gets
// interpreterSlowdown times its call_timeout before the watchdog stops it,
// and that the error says so.
//
// Not parallel, with the GC off, for the reasons of TestModule_Backstop.
func TestTiered_Backstop(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two Ps: the guest holds one")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.GC()
	rt := newTestRuntime(t, Options{CacheDir: t.TempDir(), Tiered: true, noTierUp: true, noWatchdog: true})
	cfg := DefaultConfig()
	cfg.Fuel = 1 << 50
	cfg.CallTimeout = units.Duration(20 * time.Millisecond) // 2 ticks, 40 interpreted
	m := loadHostile(t, rt, 0, &cfg)
	if got := m.Engine(); got != EngineInterpreter {
		t.Fatalf("Engine() = %q, want %q", got, EngineInterpreter)
	}
	errc := make(chan error, 1)
	go func() {
		var k policy.Key
		errc <- m.Key(hostileRequest(), &k)
	}()
	waitFor(t, "the call to begin", func() bool { return busyCores(m) == 1 })
	for i := range 2 * interpreterSlowdown {
		rt.tick()
		select {
		case err := <-errc:
			t.Fatalf("Key returned after %d ticks: %v", i+1, err)
		default:
		}
	}
	rt.tick()
	err := <-errc
	const want = "call exceeded 400ms wall-clock backstop (20ms x20 on the interpreter)"
	if !errors.Is(err, ErrBackstop) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Key = %v, want ErrBackstop with %q", err, want)
	}
}

// BenchmarkModule_Tiers is the key call of the WAT and the Go guest on the
// realistic request, interpreted and compiled: the interpreter's slowdown
// (interpreterSlowdown) and what a Tiered load costs while it compiles.
//
//	go test ./plugins -run '^$' -bench 'Module_Tiers' -benchmem
func BenchmarkModule_Tiers(b *testing.B) {
	for _, g := range benchGuests {
		for _, interp := range []bool{true, false} {
			name := g.name + "/" + EngineCompiler
			opts := Options{}
			if interp {
				name = g.name + "/" + EngineInterpreter
				opts = Options{CacheDir: b.TempDir(), Tiered: true, noTierUp: true}
			}
			b.Run(name, func(b *testing.B) {
				m := mustLoad(b, newTestRuntime(b, opts), g.name, g.wasm(b), nil)
				if got := m.Engine(); (got == EngineInterpreter) != interp {
					b.Fatalf("Engine() = %q", got)
				}
				benchKey(b, m)
			})
		}
	}
}
