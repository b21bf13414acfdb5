package plugins

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// TestStore_PrepareReportsEveryFailure: Prepare loads the configured
// modules in parallel and, when several fail, reports each one by name and
// file; the good module loaded beside them is closed and nothing changes.
func TestStore_PrepareReportsEveryFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t, t.TempDir())
	cfgs := map[string]Config{}
	for name, file := range map[string]string{"a": "minimal.wasm", "b": "trap.wasm", "c": "fsimport.wasm", "d": "minimal.wasm"} {
		c := DefaultConfig()
		c.Module = filepath.Join("testdata", file)
		cfgs[name] = c
	}
	_, err := s.Prepare(ctx, cfgs)
	if err == nil {
		t.Fatal("Prepare = nil, want the errors of b and c")
	}
	j, ok := err.(interface{ Unwrap() []error }) //nolint:errorlint // the join itself is under test
	if !ok || len(j.Unwrap()) != 2 {
		t.Fatalf("Prepare = %v, want two joined errors", err)
	}
	for i, want := range []struct{ policy, module string }{{"b", "trap.wasm"}, {"c", "fsimport.wasm"}} {
		var le *LoadError
		if !errors.As(j.Unwrap()[i], &le) || le.Policy != want.policy || filepath.Base(le.Module) != want.module {
			t.Errorf("error %d = %v, want a LoadError for policy %s (%s)", i, j.Unwrap()[i], want.policy, want.module)
		}
	}
	if !errors.Is(err, ErrImport) || !errors.Is(err, ErrDryRun) {
		t.Errorf("Prepare = %v, want ErrImport and ErrDryRun in it", err)
	}
	if _, ok := s.Policy("a"); ok {
		t.Error("policy a is active after a failed Prepare")
	}
	s.rt.mu.Lock()
	open := len(s.rt.modules)
	s.rt.mu.Unlock()
	if open != 0 {
		t.Errorf("%d modules left open after a failed Prepare, want 0", open)
	}
	// The same config without the broken ones loads both, in parallel.
	delete(cfgs, "b")
	delete(cfgs, "c")
	ch, err := s.Prepare(ctx, cfgs)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "d"} {
		if _, ok := s.Policy(name); !ok {
			t.Errorf("policy %s not active", name)
		}
	}
}
