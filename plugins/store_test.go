package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowcache/flowcache/policy"
)

func newTestStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := OpenStore(newTestRuntime(t, Options{}), StoreOptions{Dir: dir})
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func lease(t *testing.T, s *Store, name string) *Active {
	t.Helper()
	p, ok := s.Policy(name)
	if !ok {
		t.Fatalf("Policy(%q): not found", name)
	}
	return p.(*Active)
}

// TestStore_Drain: a swapped-out version is closed only when the last
// request holding it releases it, and a held lease keeps working.
func TestStore_Drain(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, "")
	ctx := context.Background()
	if _, err := s.Put(ctx, "p", minimalWasm, map[string]any{"v": 1}); err != nil {
		t.Fatal(err)
	}
	old := lease(t, s, "p")
	refresh := old
	refresh.Retain() // a background refresh outliving the request
	r2, err := s.Put(ctx, "p", minimalWasm, map[string]any{"v": 2})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Previous != old.Version() || !r2.Changed {
		t.Fatalf("Put v2 = %+v, want previous %s", r2, old.Version())
	}
	if cur := lease(t, s, "p"); cur == old || cur.Version() != r2.Version {
		t.Errorf("after the swap a lookup got %s, want %s", cur.Version(), r2.Version)
	} else {
		cur.Release()
	}
	req := &policy.Request{Method: []byte("GET"), Host: []byte("a"), Path: []byte("/x")}
	for _, l := range []*Active{old, refresh} {
		var k policy.Key
		if err := l.Key(req, &k); err != nil {
			t.Errorf("a held lease on the old version failed: %v", err)
		}
		if old.drained() {
			t.Fatal("the old module was closed while leases were held")
		}
		l.Release()
	}
	if !old.drained() {
		t.Error("the old module was not closed after its last release")
	}
}

// TestStore_Persist: versions, the active one and its activation survive a
// reopen; ids are the module's sha256 without config.
func TestStore_Persist(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	s := newTestStore(t, dir)
	r1, err := s.Put(ctx, "p", minimalWasm, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(minimalWasm); r1.Version != hex.EncodeToString(sum[:]) {
		t.Errorf("id %s, want the module's sha256", r1.Version)
	}
	r2, err := s.Put(ctx, "p", minimalWasm, map[string]any{"x": "y"})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Version == r1.Version {
		t.Error("a config did not change the version id")
	}
	in1, _ := s.Get("p")
	s.Close()

	s2 := newTestStore(t, dir)
	ch, err := s2.Prepare(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Commit(); err != nil {
		t.Fatal(err)
	}
	in2, ok := s2.Get("p")
	if !ok || in2.Active != r2.Version || in2.Previous != r1.Version || in2.Activation != in1.Activation || len(in2.Versions) != 2 {
		t.Errorf("reopened: %+v, want active %s previous %s activation %d", in2, r2.Version, r1.Version, in1.Activation)
	}
	a := lease(t, s2, "p")
	defer a.Release()
	if string(a.Namespace()) != r2.Version[:12]+".2" || string(a.Label()) != "p@"+r2.Version[:12] {
		t.Errorf("namespace %q label %q", a.Namespace(), a.Label())
	}
	if _, err := os.Stat(filepath.Join(dir, "modules", r1.Version+".wasm")); err != nil {
		t.Errorf("module file: %v", err)
	}
	if _, err := s2.Rollback(ctx, "p", ""); err != nil {
		t.Fatal(err)
	}
	if in, _ := s2.Get("p"); in.Active != r1.Version || in.Activation != 3 {
		t.Errorf("after rollback: active %s activation %d, want %s and 3 (a new key namespace)", in.Active, in.Activation, r1.Version)
	}
}

// TestStore_Errors: a failed upload or rollback changes nothing.
func TestStore_Errors(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, t.TempDir())
	ctx := context.Background()
	if _, err := s.Rollback(ctx, "p", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("rollback of nothing = %v, want ErrNotFound", err)
	}
	if _, err := s.Put(ctx, "p", minimalWasm, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Get("p")
	tests := []struct {
		name string
		wasm []byte
		want error
	}{
		{"trap", trapWasm, ErrDryRun},
		{"loop", loopWasm, ErrDryRun},
		{"abi", versionWasm, ErrABIVersion},
		{"import", fsimportWasm, ErrImport},
		{"garbage", []byte("nope"), ErrMalformed},
	}
	for _, tt := range tests {
		_, err := s.Put(ctx, "p", tt.wasm, nil)
		var le *LoadError
		if !errors.Is(err, tt.want) || !errors.As(err, &le) {
			t.Errorf("Put(%s) = %v, want a LoadError wrapping %v", tt.name, err, tt.want)
		}
		if after, _ := s.Get("p"); after.Active != before.Active || len(after.Versions) != 1 {
			t.Errorf("Put(%s) changed the store: %+v", tt.name, after)
		}
	}
	if _, err := s.Rollback(ctx, "p", ""); !errors.Is(err, ErrNoPrevious) {
		t.Errorf("rollback with one version = %v, want ErrNoPrevious", err)
	}
	if err := s.Delete(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Policy("p"); ok {
		t.Error("deleted policy still served")
	}
}

// TestStore_History: beyond maxHistory versions the oldest inactive ones
// are forgotten, never the active or the previous one.
func TestStore_History(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, t.TempDir())
	ctx := context.Background()
	first, err := s.Put(ctx, "p", minimalWasm, map[string]any{"n": 0})
	if err != nil {
		t.Fatal(err)
	}
	var last Result
	for i := 1; i <= maxHistory+3; i++ {
		if last, err = s.Put(ctx, "p", minimalWasm, map[string]any{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	in, _ := s.Get("p")
	if len(in.Versions) != maxHistory || in.Active != last.Version {
		t.Fatalf("%d versions, active %s; want %d, %s", len(in.Versions), in.Active, maxHistory, last.Version)
	}
	for _, v := range in.Versions {
		if v.ID == first.Version {
			t.Errorf("the oldest version %s was kept", first.Version)
		}
	}
	if _, err := s.Rollback(ctx, "p", first.Version); !errors.Is(err, ErrNotFound) {
		t.Errorf("rollback to a forgotten version = %v, want ErrNotFound", err)
	}
}
