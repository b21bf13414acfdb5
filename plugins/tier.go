package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// engine is one translation of a Module's code, by wazero's interpreter or
// by its optimising compiler, with the wazero runtime that owns it. A
// Module starts with one engine; a Module loaded on the interpreter
// (Options.Tiered) moves to a compiled one once it is ready (tierUp). Each
// core belongs to the engine it was instantiated from.
type engine struct {
	wr       wazero.Runtime
	compiled wazero.CompiledModule
	interp   bool
	// live counts the open cores of this engine, and the instantiations
	// in progress (pin). A retired engine is closed when it drops to 0.
	live    atomic.Int64
	retired atomic.Bool
	closed  atomic.Bool
	once    sync.Once
}

// close releases the engine's runtime, its instances and its code, once.
func (e *engine) close(ctx context.Context) {
	e.once.Do(func() {
		e.closed.Store(true)
		_ = e.wr.Close(ctx) // instances were closed or are finishing: nothing to report
	})
}

// pin counts an instantiation about to use e; false if e is retired (the
// caller then uses the Module's current engine). A pinned engine is not
// closed until unpin.
func (e *engine) pin() bool {
	e.live.Add(1)
	if e.retired.Load() {
		e.unpin(context.Background())
		return false
	}
	return true
}

// unpin undoes a pin, or counts a core of e closed: the last one closes a
// retired engine.
func (e *engine) unpin(ctx context.Context) {
	if e.live.Add(-1) == 0 && e.retired.Load() {
		e.close(ctx)
	}
}

// EngineInterpreter and EngineCompiler name the ways a Module's code runs
// ([Module.Engine]).
const (
	EngineInterpreter = "interpreter"
	EngineCompiler    = "compiler"
)

// interpreterSlowdown scales a call's wall-clock backstop (call_timeout)
// while it runs on the interpreter, which runs a guest's code about this
// many times slower than compiled code (BenchmarkModule_Tiers): the fuel
// budget is the same, and a call that fits it compiled must not be stopped
// for running interpreted for the few seconds before compiling ends.
const interpreterSlowdown = 20

// newEngine compiles wasm (instrumented if the runtime meters) for wazero's
// interpreter, or with its compiler and the compilation cache, with the
// WASI host functions when the module imports them. Errors wrap
// ErrMalformed or ErrInit. The caller holds rt.life for reading.
func (rt *Runtime) newEngine(ctx context.Context, wasm []byte, pages uint32, wasi, interp bool) (_ *engine, err error) {
	// The interpreter polls for a cancelled call (core.ctx) at loop heads
	// and calls; compiled code is stopped through the stop global instead.
	cfg := wazero.NewRuntimeConfigCompiler().WithCompilationCache(rt.cache).WithCloseOnContextDone(false)
	if interp {
		cfg = wazero.NewRuntimeConfigInterpreter().WithCloseOnContextDone(true)
	}
	wr := wazero.NewRuntimeWithConfig(ctx, cfg.WithMemoryLimitPages(pages))
	defer func() {
		if err != nil {
			_ = wr.Close(ctx) // the compile error is what matters
		}
	}()
	compiled, err := wr.CompileModule(compileContext(ctx), wasm)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if wasi {
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, wr); err != nil {
			return nil, fmt.Errorf("%w: WASI: %w", ErrInit, err)
		}
	}
	return &engine{wr: wr, compiled: compiled, interp: interp}, nil
}

// Engine returns how m's code runs now: [EngineCompiler], or
// [EngineInterpreter] while a module loaded with Options.Tiered waits for
// its compiled code.
func (m *Module) Engine() string {
	if m.eng.Load().interp {
		return EngineInterpreter
	}
	return EngineCompiler
}

// WaitCompiled waits until m runs compiled code, or ctx is done, or m was
// closed (or its compile failed: it then stays on the interpreter). It
// reports whether m runs compiled code.
func (m *Module) WaitCompiled(ctx context.Context) bool {
	if m.tiered != nil {
		select {
		case <-m.tiered:
		case <-ctx.Done():
		}
	}
	return !m.closed.Load() && !m.eng.Load().interp
}

// tierUp compiles m's code (wasm, instrumented from source) in the
// background, one module at a time per Runtime, and then moves m's calls to
// it (promote). Until then m runs on the interpreter; if m is closed first,
// nothing is compiled. A compile that fails leaves m on the interpreter,
// with a warning: the interpreter ran the same bytes, so it means a limit
// of wazero's compiler, not a bad module.
func (m *Module) tierUp(wasm, source []byte, pages uint32, wasi bool) {
	rt := m.rt
	m.tiered = make(chan struct{})
	rt.tiering.Add(1)
	rt.tierPending.Add(1)
	go func() {
		defer rt.tiering.Done()
		defer rt.tierSettled()
		defer close(m.tiered)
		rt.compileSlot <- struct{}{}
		defer func() { <-rt.compileSlot }()
		rt.foreground()
		if m.closed.Load() {
			return
		}
		start := time.Now()
		eng, err := rt.compileBackground(source, wasm, pages, wasi)
		if err != nil {
			if !errors.Is(err, errRuntimeClosed) && !m.closed.Load() {
				m.logger.Warn("policy: compiling failed; it keeps running on the interpreter",
					slog.String("version", m.tierVersion()), slog.String("error", oneLine{err}.Error()))
			}
			return
		}
		if !m.promote(eng) {
			eng.close(context.Background())
			return
		}
		m.logger.Info("policy: compiled; calls now run compiled code",
			slog.String("version", m.tierVersion()), slog.Duration("compile", time.Since(start)))
	}()
}

// tierSettled ends a tierUp. Once none is pending and no load has come
// for freeAfter, the memory the interpreters' code held goes back to the
// OS (debug.FreeOSMemory: a GC and a scavenge). The Go runtime would keep
// it until the heap shrinks below its goal: on two cores, five example
// policies from nothing kept a resident set of 640 MB, 105 MB after the
// free (the same policies loaded compiled: 250 MB). Not at once: the next
// load would fault those pages in again, which on a virtual machine
// costs more than the translation itself (an upload's p50, 202 ms with
// the memory kept, 613 ms after a free).
func (rt *Runtime) tierSettled() {
	if rt.tierPending.Add(-1) != 0 {
		return
	}
	rt.fgMu.Lock()
	defer rt.fgMu.Unlock()
	if rt.freeTimer == nil {
		rt.freeTimer = time.AfterFunc(freeAfter, rt.freeIdle)
	} else {
		rt.freeTimer.Reset(freeAfter)
	}
}

// freeAfter is how long tierSettled waits before freeing memory.
const freeAfter = time.Minute

// freeIdle frees memory unless a load or a tierUp has come meanwhile.
func (rt *Runtime) freeIdle() {
	rt.fgMu.Lock()
	busy := rt.loading > 0 || rt.tierPending.Load() > 0 || time.Since(rt.lastLoad) < freeAfter
	rt.fgMu.Unlock()
	if !busy {
		debug.FreeOSMemory()
	}
}

// beginLoad and endLoad bracket a load: background compiles wait for the
// loads in progress (foreground), which a start, an upload or an
// activation waits for, so that they do not share the processors with
// them (on two cores, a start with four Go policies: 2.3s to ready with
// them, 1.5s without).
func (rt *Runtime) beginLoad() {
	rt.fgMu.Lock()
	if rt.loading == 0 {
		rt.idle = make(chan struct{})
	}
	rt.loading++
	rt.lastLoad = time.Now()
	rt.fgMu.Unlock()
}

func (rt *Runtime) endLoad() {
	rt.fgMu.Lock()
	if rt.loading--; rt.loading == 0 {
		close(rt.idle)
	}
	rt.fgMu.Unlock()
}

// foreground waits until no load is in progress.
func (rt *Runtime) foreground() {
	for {
		rt.fgMu.Lock()
		n, idle := rt.loading, rt.idle
		rt.fgMu.Unlock()
		if n == 0 {
			return
		}
		<-idle
	}
}

// compileBackground is newEngine for tierUp, under rt.life.
func (rt *Runtime) compileBackground(source, wasm []byte, pages uint32, wasi bool) (*engine, error) {
	rt.life.RLock()
	defer rt.life.RUnlock()
	if rt.closed {
		return nil, errRuntimeClosed
	}
	eng, err := rt.newEngine(context.Background(), wasm, pages, wasi, false)
	if err == nil {
		rt.compiled(source, wasm)
	}
	return eng, err
}

// promote makes eng m's engine: new instances come from it, and those of
// the interpreter are closed as they come back from calls (put) or are
// found idle (here, getFor, and when the pool drops them). False if m is
// closed.
func (m *Module) promote(eng *engine) bool {
	m.tierMu.Lock()
	defer m.tierMu.Unlock()
	if m.closed.Load() {
		return false
	}
	old := m.eng.Swap(eng)
	old.retired.Store(true)
	for i := range m.slots {
		if inst := m.slots[i].Load(); inst != nil && inst.eng == old && m.slots[i].CompareAndSwap(inst, nil) {
			m.retire(inst)
		}
	}
	var keep []*instance
	for v := m.pool.Get(); v != nil; v = m.pool.Get() {
		if inst := v.(*instance); inst.eng == old {
			m.retire(inst)
		} else {
			keep = append(keep, inst)
		}
	}
	for _, inst := range keep {
		m.pool.Put(inst)
	}
	// The pool's per-P private items are out of reach of this goroutine:
	// getFor and put retire them. With none left, close the engine now.
	if old.live.Load() == 0 {
		old.close(context.Background())
	}
	return true
}

// retire closes an idle instance of a retired engine.
func (m *Module) retire(inst *instance) {
	m.stats.closed.Add(1)
	inst.close()
}

// stale reports whether c belongs to a retired engine.
func (c *core) stale() bool { return c.eng.retired.Load() }

// setVersion sets m.version, before m serves: calls read it without a lock
// (the swap that publishes m orders them), tierUp under tierMu.
func (m *Module) setVersion(v string) {
	m.tierMu.Lock()
	m.version = v
	m.tierMu.Unlock()
}

// tierVersion is m.version for tierUp, which runs beside the store's
// setVersion.
func (m *Module) tierVersion() string {
	m.tierMu.Lock()
	defer m.tierMu.Unlock()
	return m.version
}
