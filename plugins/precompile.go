package plugins

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
)

// Precompile checks, instruments and compiles wasm as a load would, with
// the limits of cfg, into the compilation cache, and instantiates nothing:
// a later load of the same bytes (by [Runtime.LoadBytes], or [Store.Apply]
// when another node's activation arrives) then takes tens of milliseconds
// instead of about a second. With Options.Tiered it translates wasm for the
// interpreter instead and keeps that for the load (prepare.go): the load
// then only instantiates. Errors are [*LoadError]s; they only mean the
// later load will compile, or fail, itself. Safe for concurrent use.
func (rt *Runtime) Precompile(ctx context.Context, name string, wasm []byte, cfg *Config) error {
	if err := rt.precompile(ctx, wasm, cfg); err != nil {
		return &LoadError{Policy: name, Err: err}
	}
	return nil
}

func (rt *Runtime) precompile(ctx context.Context, wasm []byte, cfg *Config) error {
	rt.life.RLock()
	defer rt.life.RUnlock()
	if rt.closed {
		return errRuntimeClosed
	}
	if err := cfg.validateLimits(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if int64(len(wasm)) > int64(cfg.MaxModuleSize) {
		return fmt.Errorf("%w: %d bytes, max_module_size is %d", ErrTooLarge, len(wasm), int64(cfg.MaxModuleSize))
	}
	info, err := scanModule(wasm)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	wasi, err := checkImports(&info)
	if err != nil {
		return err
	}
	source, cached := wasm, false
	if !rt.noMeter {
		if wasm, cached, err = rt.meter.instrument(wasm); err != nil {
			return err
		}
	}
	if rt.tiered {
		if cached {
			return nil // compiled before: its load will be quick
		}
		return rt.prepare(ctx, source, wasm, cfg.memoryPages(), wasi)
	}
	wr := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().
		WithCompilationCache(rt.cache).
		WithMemoryLimitPages(cfg.memoryPages()).
		WithCloseOnContextDone(false))
	// Closing the runtime releases the compiled module; the compilation
	// cache keeps it.
	defer func() { _ = wr.Close(ctx) }() // nothing was instantiated: nothing to lose
	if _, err := wr.CompileModule(compileContext(ctx), wasm); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !rt.noMeter {
		rt.meter.remember(source, wasm)
	}
	return nil
}

// Precompile compiles wasm for policy name, with the limits name has in
// this store (see [Runtime.Precompile]).
func (s *Store) Precompile(ctx context.Context, name string, wasm []byte) error {
	cfg := s.Limits(name)
	return s.rt.Precompile(ctx, name, wasm, &cfg)
}
