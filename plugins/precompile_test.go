package plugins

import (
	"context"
	"errors"
	"os"
	"testing"
)

// TestRuntime_Precompile: a precompiled module is instrumented and
// compiled into the cache (its meter entry exists) and loads; a malformed
// one is a LoadError naming the policy.
func TestRuntime_Precompile(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Options{CacheDir: t.TempDir()})
	cfg := DefaultConfig()
	if err := rt.Precompile(context.Background(), "p", minimalWasm, &cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rt.meter.path(minimalWasm)); err != nil {
		t.Errorf("no instrumented entry after Precompile: %v", err)
	}
	mustLoad(t, rt, "p", minimalWasm, &cfg)

	err := rt.Precompile(context.Background(), "bad", []byte("\x00asm\x01\x00\x00\x00\x01"), &cfg)
	var le *LoadError
	if !errors.As(err, &le) || le.Policy != "bad" || !errors.Is(err, ErrMalformed) {
		t.Errorf("Precompile(malformed) = %v, want a LoadError for bad wrapping ErrMalformed", err)
	}
	small := cfg
	small.MaxModuleSize = 8
	if err := rt.Precompile(context.Background(), "p", minimalWasm, &small); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Precompile(too large) = %v, want ErrTooLarge", err)
	}
}
