package plugins

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"weak"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/flowcache/flowcache/internal/units"
	"github.com/flowcache/flowcache/wasm/abi"
)

// wasiModule is the only module a policy may import from.
const wasiModule = wasi_snapshot_preview1.ModuleName

// allowedWASI lists the WASI preview 1 functions a policy may import: what
// wasi-libc, Rust, TinyGo and Go's wasip1 runtime need to start and report a
// panic. No filesystem (there are no preopens; path_* and fd_read are
// refused), no sockets, empty args and environment, a deterministic clock,
// a cryptographic random source, stdout discarded and the end of stderr kept
// for the failure log. Keep ABI.md in step.
var allowedWASI = map[string]bool{
	"args_get": true, "args_sizes_get": true, "environ_get": true, "environ_sizes_get": true,
	"clock_time_get": true, "clock_res_get": true, "random_get": true,
	"fd_write": true, "fd_close": true, "fd_fdstat_get": true, "fd_fdstat_set_flags": true,
	"fd_prestat_get": true, "fd_prestat_dir_name": true,
	"poll_oneoff": true, "sched_yield": true, "proc_exit": true,
}

var (
	i32   = []api.ValueType{api.ValueTypeI32}
	i64   = []api.ValueType{api.ValueTypeI64}
	i32x2 = []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}
)

// abiExports lists the exports of ABI version 1 with their signatures.
var abiExports = []struct {
	name            string
	params, results []api.ValueType
	required        bool
}{
	{abi.ExportABIVersion, nil, i32, true},
	{abi.ExportAlloc, i32, i32, true},
	{abi.ExportKey, i32x2, i64, true},
	{abi.ExportDecide, i32x2, i64, true},
	{abi.ExportInit, i32x2, i32, false},
	{abi.ExportHeaders, nil, i64, false},
	{abi.ExportError, nil, i64, false},
	{abi.ExportInitialize, nil, nil, false},
}

func signature(params, results []api.ValueType) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return "func (" + names(params) + ") -> (" + names(results) + ")"
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkImports refuses any import but the allowed WASI functions, and reports
// whether WASI is imported at all.
func checkImports(info *moduleInfo) (wasi bool, err error) {
	for _, imp := range info.imports {
		if imp.module != wasiModule || imp.kind != 0 || !allowedWASI[imp.name] {
			return false, fmt.Errorf("%w: %s %s.%s (a policy may import nothing, or only these %s functions: %s)",
				ErrImport, imp.kindName(), imp.module, imp.name, wasiModule, allowedList())
		}
		wasi = true
	}
	return wasi, nil
}

func allowedList() string {
	return strings.Join(slices.Sorted(maps.Keys(allowedWASI)), " ")
}

// checkExports refuses a module without the ABI's exports.
func checkExports(c wazero.CompiledModule) error {
	fns := c.ExportedFunctions()
	for _, e := range abiExports {
		def, ok := fns[e.name]
		if !ok {
			if e.required {
				return fmt.Errorf("%w: missing export %s (%s)", ErrExport, e.name, signature(e.params, e.results))
			}
			continue
		}
		if !sameTypes(def.ParamTypes(), e.params) || !sameTypes(def.ResultTypes(), e.results) {
			return fmt.Errorf("%w: export %s is %s, want %s", ErrExport, e.name,
				signature(def.ParamTypes(), def.ResultTypes()), signature(e.params, e.results))
		}
	}
	if _, ok := c.ExportedMemories()[abi.ExportMemory]; !ok {
		return fmt.Errorf("%w: missing export %q (the module's linear memory)", ErrExport, abi.ExportMemory)
	}
	return nil
}

// checked is a module as check leaves it for a load.
type checked struct {
	source, wasm []byte // as given; instrumented (source without metering)
	pages        uint32 // the memory limit
	wasi, cached bool   // it imports WASI; wasm came from the meter cache
}

// check validates cfg's limits and the module against them, and
// instruments it: what a load and Precompile do before compiling.
func (rt *Runtime) check(wasm []byte, cfg *Config) (c checked, err error) {
	if err := cfg.validateLimits(); err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if int64(len(wasm)) > int64(cfg.MaxModuleSize) {
		return c, fmt.Errorf("%w: %d bytes, max_module_size is %d", ErrTooLarge, len(wasm), int64(cfg.MaxModuleSize))
	}
	info, err := scanModule(wasm)
	if err != nil {
		return c, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if c.wasi, err = checkImports(&info); err != nil {
		return c, err
	}
	c.pages = cfg.memoryPages()
	if len(info.memories) == 0 {
		return c, fmt.Errorf("%w: the module defines no memory (it must define and export one as %q)", ErrMemory, abi.ExportMemory)
	}
	for _, min := range info.memories {
		if min > uint64(c.pages) {
			return c, fmt.Errorf("%w: minimum memory %d pages (%v) exceeds max_memory %v",
				ErrMemory, min, units.Size(min*pageSize), units.Size(uint64(c.pages)*pageSize)) //nolint:gosec // min is at most 2^32 pages here (a u32 limit), the product fits
		}
	}
	c.source, c.wasm = wasm, wasm
	if !rt.noMeter {
		if c.wasm, c.cached, err = rt.meter.instrument(wasm); err != nil {
			return c, err
		}
	}
	return c, nil
}

// compiled follows a compile of wasm (instrumented from source) that
// succeeded: what it wrote may push the compilation cache over its bound,
// and the meter cache keeps the instrumentation, which also says that the
// module was compiled once (Options.Tiered).
func (rt *Runtime) compiled(source, wasm []byte) {
	rt.pruneCache()
	if !rt.noMeter {
		rt.meter.remember(source, wasm)
	}
}

// load does the work of Load and LoadBytes; errors are wrapped by them.
func (rt *Runtime) load(ctx context.Context, name string, wasm []byte, cfg *Config) (_ *Module, err error) {
	rt.life.RLock()
	defer rt.life.RUnlock()
	if rt.closed {
		return nil, errRuntimeClosed
	}
	rt.beginLoad()
	defer rt.endLoad()
	initJSON, err := cfg.initJSON()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	c, err := rt.check(wasm, cfg)
	if err != nil {
		return nil, err
	}
	source, wasm, pages, wasi, cached := c.source, c.wasm, c.pages, c.wasi, c.cached
	metered := !rt.noMeter
	// A module this runtime never compiled (no instrumented copy cached,
	// which is written after a compile) starts on the interpreter with
	// Options.Tiered: a tenth of the compile's CPU (tier.go).
	interp := rt.tiered && !cached
	var eng *engine
	if interp {
		eng = rt.takePrepared(source, pages) // Precompile's, if any (prepare.go)
	}
	if eng == nil {
		eng, err = rt.newEngine(ctx, wasm, pages, wasi, interp)
	}
	if err != nil && cached {
		// A cached instrumentation the runtime refuses (damaged on disk):
		// drop it and instrument again.
		rt.meter.forget(source)
		if wasm, _, err = rt.meter.instrument(source); err != nil {
			return nil, err
		}
		interp = rt.tiered
		eng, err = rt.newEngine(ctx, wasm, pages, wasi, interp)
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			eng.close(ctx) // the load error is what matters
		}
	}()
	if !interp {
		rt.compiled(source, wasm)
	}
	if err := checkExports(eng.compiled); err != nil {
		return nil, err
	}
	stderr := &tailWriter{}
	m := &Module{
		name:   name,
		stderr: stderr,
		logger: rt.logger.With(slog.String("policy", name)),
		rt:     rt,
		// No args, env, filesystem or sockets; a fake clock (freshness
		// uses the decide blob's time); real randomness, so that a guest's
		// hash seeds cannot be predicted by clients.
		modCfg: wazero.NewModuleConfig().WithName("").WithStartFunctions().
			WithStdout(io.Discard).WithStderr(stderr).WithRandSource(rand.Reader),
		fuel:     cfg.Fuel,
		metered:  metered,
		timeout:  cfg.callTimeout(),
		live:     map[*core]struct{}{},
		initJSON: initJSON,
		ctx:      context.Background(),
		memo:     newKeyMemo(cfg.MemoizeKey),
	}
	m.timeoutTicks = timeoutTicks(m.timeout)
	m.eng.Store(eng)
	// One instance now: it checks the ABI and reads the headers, and serves
	// the first calls. Each further one is made by a call that finds the
	// pool empty (getFor): a Go guest costs milliseconds to instantiate,
	// which a start with several policies should not pay per P before it
	// can serve (RATIONALE.md, "Pooled instances").
	first, err := m.newInstance(ctx, true)
	if err != nil {
		return nil, err
	}
	// The instances wait in the slots, one per P, where GCs leave them,
	// until calls move them to the pool.
	m.slots = make([]atomic.Pointer[instance], runtime.GOMAXPROCS(0))
	m.lastUsed.Store(time.Now().UnixNano())
	m.park(first) // the slots are empty: it is parked
	armTick(weak.Make(m))
	rt.track(m)
	if interp && !rt.noTierUp {
		m.tierUp(wasm, source, pages, wasi)
	}
	return m, nil
}

// compileContext returns ctx for CompileModule: wazero compiles the
// functions of one module on GOMAXPROCS goroutines (a 2MB Go guest: about
// half the time on two cores), which is what an upload waits for. Several
// loads at once (a start) share the processors all the same.
func compileContext(ctx context.Context) context.Context {
	return experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0))
}

// newInstance instantiates the module, runs _initialize and flowcache_init,
// and allocates the input buffer. For the first instance it also checks the
// ABI version and reads flowcache_headers. Errors wrap ErrInit, ErrABIVersion
// or ErrExport.
func (m *Module) newInstance(ctx context.Context, first bool) (_ *instance, err error) {
	eng := m.eng.Load()
	for !eng.pin() { // retired meanwhile by promote: the new one is not
		eng = m.eng.Load()
	}
	defer func() {
		if err != nil {
			eng.unpin(ctx)
		}
	}()
	mod, err := eng.wr.InstantiateModule(ctx, eng.compiled, m.modCfg)
	if err != nil {
		hint := ""
		if m.metered && strings.Contains(err.Error(), "unreachable") {
			hint = fmt.Sprintf(" (or its init budget of %d fuel ran out)", initFuel)
		}
		return nil, fmt.Errorf("%w: instantiate: %w%s", ErrInit, oneLine{err}, hint)
	}
	inst := &core{
		m:      m,
		eng:    eng,
		mod:    mod,
		mem:    mod.ExportedMemory(abi.ExportMemory),
		key:    mod.ExportedFunction(abi.ExportKey),
		decide: mod.ExportedFunction(abi.ExportDecide),
		alloc:  mod.ExportedFunction(abi.ExportAlloc),
	}
	defer func() {
		if err != nil {
			_ = mod.Close(ctx) // the init error is what matters
		}
	}()
	if m.metered {
		g, ok := mod.ExportedGlobal(fuelGlobal).(api.MutableGlobal)
		stop, sok := mod.ExportedGlobal(stopGlobal).(api.MutableGlobal)
		if !ok || !sok || g.Type() != api.ValueTypeI64 || stop.Type() != api.ValueTypeI64 {
			return nil, fmt.Errorf("%w: instrumented module has no mutable i64 %s and %s", ErrInit, fuelGlobal, stopGlobal)
		}
		inst.fuel, inst.stop = g, stop
		if eng.interp {
			inst.ctx, inst.cancel = context.WithCancel(m.ctx)
		}
	}
	initCall := func(what string, fn api.Function, params ...uint64) (uint64, error) {
		inst.setFuel(initFuel)
		res, err := fn.Call(ctx, params...)
		if err != nil {
			return 0, fmt.Errorf("%w: %s: %w", ErrInit, what, describe(inst, err, initFuel))
		}
		if len(res) == 0 {
			return 0, nil
		}
		return res[0], nil
	}
	if fn := mod.ExportedFunction(abi.ExportInitialize); fn != nil {
		if _, err := initCall(abi.ExportInitialize, fn); err != nil {
			return nil, err
		}
	}
	if first {
		v, err := initCall(abi.ExportABIVersion, mod.ExportedFunction(abi.ExportABIVersion))
		if err != nil {
			return nil, err
		}
		if int32(v) != abi.Version { //nolint:gosec // the i32 result of a wasm call
			return nil, fmt.Errorf("%w: %s returned %d, this host supports %d", ErrABIVersion, abi.ExportABIVersion, int32(v), abi.Version) //nolint:gosec // the i32 result of a wasm call
		}
	}
	if fn := mod.ExportedFunction(abi.ExportInit); fn != nil {
		ptr, err := inst.allocate(m.ctx, uint32(len(m.initJSON)), initFuel, false) //nolint:gosec // the config JSON is far below 4GiB
		if err != nil {
			return nil, fmt.Errorf("%w: config buffer: %w", ErrInit, err)
		}
		if !inst.mem.Write(ptr, m.initJSON) {
			return nil, fmt.Errorf("%w: config buffer at %d outside memory", ErrInit, ptr)
		}
		rc, err := initCall(abi.ExportInit, fn, uint64(ptr), uint64(len(m.initJSON)))
		if err != nil {
			return nil, err
		}
		if int32(rc) != 0 { //nolint:gosec // the i32 result of a wasm call
			return nil, inst.initError(ctx, int32(rc)) //nolint:gosec // the i32 result of a wasm call
		}
	}
	if first {
		m.allHeaders = true
		if fn := mod.ExportedFunction(abi.ExportHeaders); fn != nil {
			res, err := initCall(abi.ExportHeaders, fn)
			if err != nil {
				return nil, err
			}
			ptr, n := abi.Unpack(res)
			b, ok := inst.mem.Read(ptr, n)
			if !ok || n > 64<<10 {
				return nil, fmt.Errorf("%w: %s: range [%d, +%d) outside memory or over 64KiB", ErrInit, abi.ExportHeaders, ptr, n)
			}
			names, all, err := abi.ParseHeaderNames(b)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrInit, abi.ExportHeaders, err)
			}
			m.headers, m.allHeaders = names, all
			for _, n := range names {
				if len(n) < 64 {
					m.headerLens |= 1 << len(n)
				} else {
					m.headerLens = ^uint64(0) // long names: no quick rejection
				}
			}
		}
	}
	if inst.buf, err = inst.allocate(m.ctx, minBufferSize, initFuel, false); err != nil {
		return nil, fmt.Errorf("%w: input buffer: %w", ErrInit, err)
	}
	inst.bufLen = minBufferSize
	m.stats.created.Add(1)
	m.track(inst)
	return wrap(inst), nil
}

// describe names a failed guest call that ran with budget: fuel
// exhaustion, exit or trap. An error already named (by allocate, or a
// result check) is returned as is.
func describe(inst *core, err error, budget int64) error {
	var exit *sys.ExitError
	switch {
	case errors.Is(err, ErrResult) || errors.Is(err, ErrFuel) || errors.Is(err, ErrExit) || errors.Is(err, ErrTrap) || errors.Is(err, ErrBackstop):
		return err
	case inst.fuel != nil && int64(inst.fuel.Get()) < 0: //nolint:gosec // the fuel global is an i64
		return &fuelError{budget: budget}
	case errors.As(err, &exit):
		return fmt.Errorf("%w: code %d", ErrExit, exit.ExitCode())
	default:
		return fmt.Errorf("%w: %w", ErrTrap, oneLine{err})
	}
}

// fuelPerMillisecond is the fuel that hostile code burns in about a
// millisecond of CPU on the reference machine (BenchmarkModule_Hostile):
// an estimate for error messages, which round it.
const fuelPerMillisecond = 2_000_000

// fuelError is ErrFuel with the budget that ran out.
type fuelError struct{ budget int64 }

func (e *fuelError) Error() string {
	d := time.Duration(float64(e.budget) / fuelPerMillisecond * float64(time.Millisecond))
	switch {
	case d >= 10*time.Millisecond:
		d = d.Round(time.Millisecond)
	case d >= time.Millisecond:
		d = d.Round(100 * time.Microsecond)
	default:
		d = d.Round(time.Microsecond)
	}
	return fmt.Sprintf("%v (budget %d units, ~%v of CPU)", ErrFuel, e.budget, d)
}

func (e *fuelError) Unwrap() error { return ErrFuel }

// oneLine shows only the first line of a wazero error (not the wasm stack
// trace), so that load and call errors fit one log line or API message.
type oneLine struct{ err error }

func (e oneLine) Error() string {
	s, _, _ := strings.Cut(e.err.Error(), "\n")
	return s
}

func (e oneLine) Unwrap() error { return e.err }
