package plugins

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowcache/flowcache/policy"
)

// TestMeterCache: the first load of a module instruments it and stores the
// result in the cache directory; a second runtime on the same directory
// reads it back (the same bytes, nothing instrumented); a damaged entry is
// refused by the runtime, replaced, and the load succeeds.
func TestMeterCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rt := newTestRuntime(t, Options{CacheDir: dir})
	p := rt.meter.path(minimalWasm)
	if p == "" || filepath.Dir(p) != filepath.Join(dir, "meter") {
		t.Fatalf("entry path %q, want a file in %s", p, filepath.Join(dir, "meter"))
	}
	mustLoad(t, rt, "a", minimalWasm, nil)
	want, err := instrument(minimalWasm)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("entry after a load: %d bytes, %v; want the %d instrumented bytes", len(got), err, len(want))
	}

	rt2 := newTestRuntime(t, Options{CacheDir: dir})
	if got, cached, err := rt2.meter.instrument(minimalWasm); err != nil || !cached || !bytes.Equal(got, want) {
		t.Fatalf("second runtime: instrument = %d bytes, cached %v, %v; want the entry", len(got), cached, err)
	}

	if err := os.WriteFile(p, []byte("\x00asm\x01\x00\x00\x00garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := mustLoad(t, rt2, "b", minimalWasm, nil)
	var k policy.Key
	if err := m.Key(benchRequest(), &k); err != nil {
		t.Errorf("Key after loading over a damaged entry: %v", err)
	}
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, want) {
		t.Errorf("damaged entry not replaced: %d bytes, %v", len(got), err)
	}
}

// TestMeterCache_Disabled: without a directory nothing is stored, and
// instrument still works.
func TestMeterCache_Disabled(t *testing.T) {
	t.Parallel()
	c := newMeterCache("")
	if p := c.path(minimalWasm); p != "" {
		t.Errorf("path = %q, want none", p)
	}
	if out, cached, err := c.instrument(minimalWasm); err != nil || cached || len(out) == 0 {
		t.Errorf("instrument = %d bytes, cached %v, %v", len(out), cached, err)
	}
}
