package plugins

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
)

// Options configures a [Runtime].
type Options struct {
	// Logger receives load messages and, at most once per minute per
	// policy, call failures. Nil discards.
	Logger *slog.Logger
	// CacheDir holds wazero's compilation cache and the instrumented
	// modules (see meterCache), so that a restart neither instruments nor
	// recompiles unchanged modules. It must be private to this process's
	// user: its contents are executable code. Empty means a new private
	// temporary directory, removed by Close.
	CacheDir string
	// CacheMaxSize bounds the bytes kept in CacheDir: after a module is
	// compiled, the least recently written files go until the rest fits
	// (in the background). Zero means DefaultCacheMaxSize; negative, no
	// bound.
	CacheMaxSize int64
	// Profile records the fuel every guest call burns, for tools
	// (`flowcache policy bench`): see [Module.FuelProfile]. It costs a
	// global read and two atomic adds per call; the gateway leaves it off.
	Profile bool
	// Tiered starts a module that this executable has not compiled before
	// (none of its compiled code is in CacheDir) on wazero's interpreter,
	// which is ready in about a tenth of the compile's time, compiles it in
	// the background, one module at a time, and moves its calls to the
	// compiled code when it is ready ([Module.Engine]). Interpreted calls
	// burn the same fuel but run about 20 times slower, and their
	// wall-clock backstop is 20 times call_timeout. Off, a load waits for
	// the compiled code.
	Tiered bool

	// noMeter disables fuel metering (benchmarks of its overhead only).
	noMeter bool
	// noWatchdog starts no watchdog goroutine: tests call tick.
	noWatchdog bool
	// noTierUp keeps Tiered modules on the interpreter (tests, benchmarks).
	noTierUp bool
}

// Runtime compiles and runs policy modules. It owns the compilation cache
// shared by all its modules. It is safe for concurrent use.
type Runtime struct {
	logger  *slog.Logger
	cache   wazero.CompilationCache
	meter   *meterCache // instrumented modules, beside cache
	tempDir string      // removed by Close; "" if CacheDir was given

	cacheDir string         // the compilation cache's directory
	cacheMax int64          // its bound in bytes; negative: none
	pruning  atomic.Bool    // a pruneCache pass is running
	pruneWG  sync.WaitGroup // the running pass, waited for by Close
	pruned   atomic.Uint64  // passes done (tests)
	noMeter  bool
	profile  bool
	tiered   bool
	noTierUp bool
	// compileSlot admits one background compile (tierUp) at a time;
	// tiering counts the tierUp goroutines, which Close waits for;
	// tierPending too, for tierSettled.
	compileSlot chan struct{}
	tiering     sync.WaitGroup
	tierPending atomic.Int64
	// loading counts the loads in progress; idle is closed when it drops
	// to 0. A background compile waits for it (foreground).
	fgMu    sync.Mutex
	loading int
	idle    chan struct{}
	// lastLoad is when the last load began; freeTimer runs freeIdle
	// (tierSettled). Guarded by fgMu.
	lastLoad  time.Time
	freeTimer *time.Timer
	// prep holds the engine Precompile made for a coming load (prepare.go).
	prep preparedSlot

	// epoch is the watchdog's clock, in ticks since NewRuntime (from 1);
	// done stops the watchdog goroutine (nil without one).
	epoch atomic.Int64
	done  chan struct{}

	// life is held for reading by each load, for writing by Close: a load
	// never compiles with a closed cache (wazero would panic).
	life   sync.RWMutex
	closed bool // guarded by life

	mu      sync.Mutex
	modules map[*Module]struct{} // open modules, closed by Close

	tot policyTotals // failures by policy name, see Totals (guesterror.go)
}

// errRuntimeClosed is returned by loads after Close.
var errRuntimeClosed = errors.New("plugins: runtime closed")

// wazeroVersion makes wazero cache its version string once. wazero v1.12
// caches it in an unsynchronised package variable on first use
// (internal/version.GetWazeroVersion, called when a compilation cache is
// opened and when any runtime's engine is created), so the first two
// runtimes created at once, in any goroutines, race on it. After this runs,
// wazero only reads it.
var wazeroVersion sync.Once

func warmWazeroVersion() {
	wazeroVersion.Do(func() {
		ctx := context.Background()
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
		_ = r.Close(ctx) // an empty runtime: nothing to release that matters
	})
}

// NewRuntime returns a Runtime with the compilation cache in opts.CacheDir.
// It is safe to call from several goroutines at once.
func NewRuntime(opts Options) (*Runtime, error) {
	warmWazeroVersion()
	rt := &Runtime{logger: opts.Logger, noMeter: opts.noMeter, profile: opts.Profile, tiered: opts.Tiered, noTierUp: opts.noTierUp,
		compileSlot: make(chan struct{}, 1), modules: map[*Module]struct{}{}}
	if rt.logger == nil {
		rt.logger = slog.New(slog.DiscardHandler)
	}
	rt.logger = rt.logger.With(slog.String("component", "plugins"))
	dir := opts.CacheDir
	if dir == "" {
		d, err := os.MkdirTemp("", "flowcache-wasm-cache-")
		if err != nil {
			return nil, fmt.Errorf("plugins: compilation cache: %w", err)
		}
		dir, rt.tempDir = d, d
	}
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("plugins: compilation cache %s: %w", dir, err), rt.removeTemp())
	}
	rt.cache = cache
	rt.meter = newMeterCache(dir)
	rt.cacheDir, rt.cacheMax = dir, opts.CacheMaxSize
	if rt.cacheMax == 0 {
		rt.cacheMax = DefaultCacheMaxSize
	}
	rt.epoch.Store(1)
	if !opts.noWatchdog {
		rt.done = make(chan struct{})
		go rt.watch(rt.done)
	}
	return rt, nil
}

// Load reads the module file cfg.Module and loads it as policy name; see
// [Runtime.LoadBytes]. cfg must have passed [Config.Validate].
func (rt *Runtime) Load(ctx context.Context, name string, cfg *Config) (*Module, error) {
	wasm, err := readModule(cfg.Module, int64(cfg.MaxModuleSize))
	if err != nil {
		return nil, &LoadError{Policy: name, Module: cfg.Module, Err: err}
	}
	m, err := rt.load(ctx, name, wasm, cfg)
	if err != nil {
		return nil, &LoadError{Policy: name, Module: cfg.Module, Err: err}
	}
	return m, nil
}

// LoadBytes validates, instruments, compiles and instantiates wasm as policy
// name, with the limits and configuration of cfg (cfg.Module is ignored), and
// instantiates it once (calls add instances, up to one per P, as they need
// them). Errors are [*LoadError]s. The returned Module
// must be closed; closing the Runtime closes it too.
//
// An upload handler should bound the body it reads by cfg.MaxModuleSize
// itself: LoadBytes refuses larger modules but receives them whole.
// Compiling takes about a second of CPU for a 2MiB Go guest on first sight,
// about 60ms when the compilation cache has it.
func (rt *Runtime) LoadBytes(ctx context.Context, name string, wasm []byte, cfg *Config) (*Module, error) {
	m, err := rt.load(ctx, name, wasm, cfg)
	if err != nil {
		return nil, &LoadError{Policy: name, Err: err}
	}
	return m, nil
}

func readModule(path string, limit int64) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: module: required", ErrConfig)
	}
	f, err := os.Open(path) //nolint:gosec // the operator's configured module path
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if fi, err := f.Stat(); err == nil {
		if fi.Size() > limit {
			return nil, fmt.Errorf("%w: %d bytes, max_module_size is %d", ErrTooLarge, fi.Size(), limit)
		}
		buf.Grow(int(fi.Size()) + bytes.MinRead) // one allocation, not a doubling series (a 2MB module: 13)
	}
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, fmt.Errorf("%w: read: %w", ErrConfig, err)
	}
	return buf.Bytes(), nil
}

// track records m as open; the caller holds rt.life for reading.
func (rt *Runtime) track(m *Module) {
	rt.mu.Lock()
	rt.modules[m] = struct{}{}
	rt.mu.Unlock()
}

func (rt *Runtime) untrack(m *Module) {
	rt.mu.Lock()
	delete(rt.modules, m)
	rt.mu.Unlock()
}

// Close closes every module still open, then the compilation cache, and
// removes the temporary cache directory if it made one. It waits for loads
// in progress; later loads fail. Calls in flight on the modules must have
// returned.
func (rt *Runtime) Close(ctx context.Context) error {
	rt.life.Lock() // waits for loads in progress
	if rt.closed {
		rt.life.Unlock()
		return nil
	}
	rt.closed = true
	if rt.done != nil {
		close(rt.done)
	}
	rt.mu.Lock()
	mods := make([]*Module, 0, len(rt.modules))
	for m := range rt.modules {
		mods = append(mods, m)
	}
	rt.mu.Unlock()
	var errs []error
	for _, m := range mods {
		errs = append(errs, m.Close(ctx))
	}
	// Background compiles see the runtime or their module closed; one in
	// progress ends first (it holds life), and none starts.
	rt.closePrepared()
	rt.life.Unlock()
	rt.tiering.Wait()
	rt.fgMu.Lock()
	if rt.freeTimer != nil {
		rt.freeTimer.Stop()
	}
	rt.fgMu.Unlock()
	rt.pruneWG.Wait()
	errs = append(errs, rt.cache.Close(ctx), rt.removeTemp())
	return errors.Join(errs...)
}

func (rt *Runtime) removeTemp() error {
	if rt.tempDir == "" {
		return nil
	}
	return os.RemoveAll(rt.tempDir)
}
