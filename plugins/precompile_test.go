package plugins

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/flowcache/flowcache/policy"
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

// TestRuntime_PrecompileTiered: on a tiered runtime Precompile prepares
// the interpreter's engine, which the load of the same bytes and memory
// limit takes; a newer Precompile, or Close, releases the one not taken;
// a load with another memory limit makes its own.
func TestRuntime_PrecompileTiered(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Options{CacheDir: t.TempDir(), Tiered: true})
	rt.noTierUp = true
	ctx := context.Background()
	cfg := DefaultConfig()
	other := append(slices.Clip(minimalWasm), 0, 5, 3, 'a', 'b', 'c', 'd') // a custom section: other bytes
	prepared := func() *prepared {
		rt.prep.mu.Lock()
		defer rt.prep.mu.Unlock()
		return rt.prep.p
	}
	if err := rt.Precompile(ctx, "p", minimalWasm, &cfg); err != nil {
		t.Fatal(err)
	}
	first := prepared()
	if first == nil || first.eng == nil || !first.eng.interp {
		t.Fatalf("after Precompile: prepared %+v, want an interpreter engine", first)
	}
	if err := rt.Precompile(ctx, "p", other, &cfg); err != nil {
		t.Fatal(err)
	}
	second := prepared()
	if second == first || second == nil || second.eng == nil {
		t.Fatalf("the second Precompile did not replace the first")
	}
	for i := 0; !first.eng.closed.Load(); i++ { // released in the background
		if i == 1000 {
			t.Fatal("the replaced engine is not closed after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	big := cfg
	big.MaxMemory *= 2
	m := mustLoad(t, rt, "p", other, &big)
	if m.eng.Load() == second.eng || prepared() != second {
		t.Errorf("a load with another memory limit took the prepared engine")
	}
	m = mustLoad(t, rt, "p", other, &cfg)
	if m.eng.Load() != second.eng || prepared() != nil {
		t.Errorf("the load did not take the prepared engine")
	}
	var k policy.Key
	if err := m.Key(benchRequest(), &k); err != nil {
		t.Errorf("Key on the prepared engine: %v", err)
	}

	if err := rt.Precompile(ctx, "p", minimalWasm, &cfg); err != nil {
		t.Fatal(err)
	}
	last := prepared()
	if err := rt.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; !last.eng.closed.Load(); i++ {
		if i == 1000 {
			t.Fatal("the prepared engine is not closed 10s after Close")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !m.eng.Load().closed.Load() || m.eng.Load() == last.eng {
		t.Errorf("Close left the loaded module's engine open")
	}
}
