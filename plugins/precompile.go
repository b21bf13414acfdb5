package plugins

import "context"

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
	c, err := rt.check(wasm, cfg)
	if err != nil {
		return err
	}
	if rt.tiered {
		if c.cached {
			return nil // compiled before: its load will be quick
		}
		return rt.prepare(ctx, c.source, c.wasm, c.pages, c.wasi)
	}
	// Compiled into the cache, nothing instantiated: WASI is not needed,
	// and closing the engine loses nothing the cache does not keep.
	eng, err := rt.newEngine(ctx, c.wasm, c.pages, false, false)
	if err != nil {
		return err
	}
	eng.close(ctx)
	rt.compiled(c.source, c.wasm)
	return nil
}

// Precompile compiles wasm for policy name, with the limits name has in
// this store (see [Runtime.Precompile]).
func (s *Store) Precompile(ctx context.Context, name string, wasm []byte) error {
	cfg := s.Limits(name)
	return s.rt.Precompile(ctx, name, wasm, &cfg)
}
