package plugins

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowcache/flowcache/internal/poll"
)

func TestPruneCacheDir(t *testing.T) {
	t.Parallel()
	type file struct {
		name string
		size int
		age  time.Duration
	}
	files := []file{
		{"wazero-v1.11.0-amd64-linux/old", 400, 72 * time.Hour},
		{"wazero-v1.12.0-amd64-linux/a", 300, 48 * time.Hour},
		{"meter/a.wasm", 100, 24 * time.Hour},
		{"wazero-v1.12.0-amd64-linux/b", 300, time.Hour},
		{"meter/b.wasm", 100, time.Minute},
	}
	tests := []struct {
		name        string
		max         int64
		wantLeft    []string
		wantRemoved int
		wantFreed   int64
	}{
		{"under the bound: nothing", 1200, []string{"meter/a.wasm", "meter/b.wasm", "wazero-v1.11.0-amd64-linux/old", "wazero-v1.12.0-amd64-linux/a", "wazero-v1.12.0-amd64-linux/b"}, 0, 0},
		{"the oldest first", 800, []string{"meter/a.wasm", "meter/b.wasm", "wazero-v1.12.0-amd64-linux/a", "wazero-v1.12.0-amd64-linux/b"}, 1, 400},
		{"as many as it takes", 450, []string{"meter/b.wasm", "wazero-v1.12.0-amd64-linux/b"}, 3, 800},
		{"zero: everything", 0, nil, 5, 1200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			now := time.Now()
			for _, f := range files {
				p := filepath.Join(dir, f.name)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, make([]byte, f.size), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(p, now.Add(-f.age), now.Add(-f.age)); err != nil {
					t.Fatal(err)
				}
			}
			removed, freed, err := pruneCacheDir(dir, tt.max)
			if err != nil || removed != tt.wantRemoved || freed != tt.wantFreed {
				t.Errorf("pruneCacheDir = %d files, %d bytes, %v; want %d, %d", removed, freed, err, tt.wantRemoved, tt.wantFreed)
			}
			if left := listFiles(t, dir); !slices.Equal(left, tt.wantLeft) {
				t.Errorf("left %q, want %q", left, tt.wantLeft)
			}
		})
	}
	if _, _, err := pruneCacheDir(filepath.Join(t.TempDir(), "absent"), 0); err != nil {
		t.Errorf("pruneCacheDir(absent dir) = %v, want nothing to do", err)
	}
}

// listFiles returns the regular files under dir, relative and sorted.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestRuntime_PrunesCache checks that a compile prunes the cache directory
// to Options.CacheMaxSize, stale entries first, and keeps what it wrote.
func TestRuntime_PrunesCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stale := filepath.Join(dir, "wazero-v0.0.1-amd64-linux", "stale")
	if err := os.MkdirAll(filepath.Dir(stale), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, make([]byte, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-30 * 24 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	rt := newTestRuntime(t, Options{CacheDir: dir, CacheMaxSize: 2 << 20})
	mustLoad(t, rt, "minimal", minimalWasm, nil)
	poll.WaitFor(t, "a prune pass", func() bool { return rt.pruned.Load() > 0 })
	left := listFiles(t, dir)
	if slices.Contains(left, "wazero-v0.0.1-amd64-linux/stale") {
		t.Errorf("the stale 4 MiB entry survived a 2 MiB bound: %q", left)
	}
	var compiled, meter bool
	for _, f := range left {
		compiled = compiled || strings.HasPrefix(f, "wazero-")
		meter = meter || strings.HasPrefix(f, "meter/")
	}
	if !compiled || !meter {
		t.Errorf("left %q: want the compiled code and the instrumented module just written", left)
	}
}
