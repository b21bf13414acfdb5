package plugins

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// bus links stores as a transport would: every local activation of one is
// applied by the others, with the module bytes fetched from the publisher.
type bus struct {
	mu     sync.Mutex
	stores []*Store
	errs   []error
}

func (b *bus) publish(from *Store) func(Event) {
	return func(ev Event) {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, s := range b.stores {
			if s != from {
				b.errs = append(b.errs, s.Apply(context.Background(), ev, from.Module))
			}
		}
	}
}

func newNodes(t *testing.T, n int) (*bus, []*Store) {
	t.Helper()
	b := &bus{}
	rt := newTestRuntime(t, Options{})
	for range n {
		var s *Store // the closure below reads it once assigned
		var err error
		s, err = OpenStore(rt, StoreOptions{Dir: t.TempDir(), OnChange: func(ev Event) { b.publish(s)(ev) }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		b.stores = append(b.stores, s)
	}
	return b, b.stores
}

func activeNS(t *testing.T, s *Store, name string) string {
	t.Helper()
	a := lease(t, s, name)
	defer a.Release()
	return string(a.Namespace())
}

// TestStore_Apply: an upload on one node is applied by the other under the
// same activation (the same key namespace); a rollback too; a stale event
// changes nothing; two concurrent uploads converge on one version.
func TestStore_Apply(t *testing.T) {
	t.Parallel()
	b, nodes := newNodes(t, 2)
	a, c := nodes[0], nodes[1]
	ctx := context.Background()
	r1, err := a.Put(ctx, "p", minimalWasm, map[string]any{"v": 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Put(ctx, "p", minimalWasm, map[string]any{"v": 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Rollback(ctx, "p", r1.Version); err != nil {
		t.Fatal(err)
	}
	if got, want := activeNS(t, c, "p"), activeNS(t, a, "p"); got != want || got != r1.Version[:12]+".3" {
		t.Errorf("other node runs %s, want %s (= %s.3)", got, want, r1.Version[:12])
	}
	stale := a.State()[0]
	stale.Activation = 1
	if err := c.Apply(ctx, stale, a.Module); err != nil {
		t.Fatal(err)
	}
	if got := activeNS(t, c, "p"); got != r1.Version[:12]+".3" {
		t.Errorf("a stale event changed the active version to %s", got)
	}

	// Both nodes upload at once (same activation number): unlinked for the
	// uploads, then each applies the other's state, as after a reconnect.
	b.mu.Lock()
	saved := b.stores
	b.stores = nil
	b.mu.Unlock()
	if _, err := a.Put(ctx, "p", minimalWasm, map[string]any{"from": "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "p", minimalWasm, map[string]any{"from": "c"}); err != nil {
		t.Fatal(err)
	}
	for _, ev := range a.State() {
		if err := c.Apply(ctx, ev, a.Module); err != nil {
			t.Fatal(err)
		}
	}
	for _, ev := range c.State() {
		if err := a.Apply(ctx, ev, c.Module); err != nil {
			t.Fatal(err)
		}
	}
	if ga, gc := activeNS(t, a, "p"), activeNS(t, c, "p"); ga != gc {
		t.Errorf("after concurrent uploads the nodes run %s and %s, want one version", ga, gc)
	}
	b.mu.Lock()
	b.stores = saved
	for _, err := range b.errs {
		if err != nil {
			t.Errorf("Apply: %v", err)
		}
	}
	b.mu.Unlock()
}

// TestStore_ApplyRollingConfig: during a rolling change of config.toml, a
// node that applied another node's config-file version and then reloads
// (or restarts) with its own, not yet changed, file keeps the newer
// version. Recording the applied version as "what my config file says"
// made the node take its unchanged file for a change, re-activate the old
// module under a higher activation number, and roll the whole cluster back.
func TestStore_ApplyRollingConfig(t *testing.T) {
	t.Parallel()
	_, nodes := newNodes(t, 2)
	a, c := nodes[0], nodes[1]
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "p.wasm")
	if err := os.WriteFile(file, minimalWasm, 0o600); err != nil {
		t.Fatal(err)
	}
	configured := func(v string) map[string]Config {
		cfg := DefaultConfig()
		cfg.Module = file
		cfg.Config = map[string]any{"v": v}
		return map[string]Config{"p": cfg}
	}
	load := func(s *Store, v string) {
		t.Helper()
		ch, err := s.Prepare(ctx, configured(v))
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	load(a, "old")
	load(c, "old")
	load(c, "new") // c's config.toml changed first
	want := activeNS(t, c, "p")
	if got := activeNS(t, a, "p"); got != want {
		t.Fatalf("a runs %s, want c's new version %s", got, want)
	}
	load(a, "old") // a reloads its config.toml, not changed yet
	if got := activeNS(t, a, "p"); got != want {
		t.Errorf("a reloaded its unchanged config and runs %s, want %s (it rolled the cluster back)", got, want)
	}
	if got := activeNS(t, c, "p"); got != want {
		t.Errorf("c runs %s, want %s", got, want)
	}
}

// TestStore_Apply_malformed: an event whose fields are not what a store
// makes (it came through a shared store anyone may write to) is refused
// before its module is fetched, and so is one announcing a module larger
// than max_module_size.
func TestStore_Apply_malformed(t *testing.T) {
	t.Parallel()
	_, nodes := newNodes(t, 1)
	const sha = "0f343b0931126a20f133d67c2b018a3b5dbe1f7a08f5a2d3b6c3a8c0e1d2f3a4"
	good := Event{Name: "p", Activation: 1, Version: VersionInfo{ID: "0123456789ab", ModuleSHA256: sha, Size: 100}}
	tests := []struct {
		name   string
		mutate func(*Event)
	}{
		{name: "name_empty", mutate: func(ev *Event) { ev.Name = "" }},
		{name: "name_path", mutate: func(ev *Event) { ev.Name = "../x" }},
		{name: "name_long", mutate: func(ev *Event) { ev.Name = string(make([]byte, 65)) }},
		{name: "id_not_hex", mutate: func(ev *Event) { ev.Version.ID = "0123456789ab\r\n" }},
		{name: "sha_short", mutate: func(ev *Event) { ev.Version.ModuleSHA256 = "abc" }},
		{name: "size_zero", mutate: func(ev *Event) { ev.Version.Size = 0 }},
		{name: "size_huge", mutate: func(ev *Event) { ev.Version.Size = 1 << 40 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := good
			tc.mutate(&ev)
			fetched := false
			err := nodes[0].Apply(context.Background(), ev, func(string) ([]byte, error) {
				fetched = true
				return nil, os.ErrNotExist
			})
			if err == nil || fetched {
				t.Errorf("Apply(%+v) = %v, module fetched %t; want an error before any fetch", ev, err, fetched)
			}
		})
	}
}
