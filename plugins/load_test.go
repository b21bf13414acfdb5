package plugins

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(c *Config)
		want []string // the error must contain each; a nil list means valid
	}{
		{"defaults with module", func(c *Config) { c.Module = "p.wasm" }, nil},
		{"no module", func(*Config) {}, []string{"module: required"}},
		{"everything wrong", func(c *Config) {
			c.MaxMemory, c.Fuel, c.MaxModuleSize = 1024, 0, -1
			c.Config = map[string]any{"x": func() {}}
		}, []string{
			"module: required", "max_memory: 1KiB is outside", "fuel: 0 must be positive",
			"max_module_size: -1B is outside", "config: not representable as JSON",
		}},
		{"memory too large", func(c *Config) { c.Module, c.MaxMemory = "p.wasm", 8<<30 }, []string{"max_memory: 8GiB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := DefaultConfig()
			tt.mod(&c)
			err := c.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestRuntime_LoadBytes_Rejects checks that every invalid or hostile module
// that can be caught at load is refused with a typed error naming the policy
// and the reason.
func TestRuntime_LoadBytes_Rejects(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Options{})
	tests := []struct {
		name string
		wasm []byte
		mod  func(c *Config)
		kind error
		want string
	}{
		{"wrong ABI version", versionWasm, nil, ErrABIVersion, "flowcache_abi_version returned 2, this host supports 1"},
		{"missing export", noexportWasm, nil, ErrExport, "missing export flowcache_decide (func (i32, i32) -> (i64))"},
		{"mistyped export", mistypedWasm, nil, ErrExport, "export flowcache_key is func (i32) -> (i32), want func (i32, i32) -> (i64)"},
		{"filesystem import", fsimportWasm, nil, ErrImport, "function wasi_snapshot_preview1.path_open (a policy may import nothing"},
		{"huge minimum memory", hugememWasm, nil, ErrMemory, "minimum memory 40000 pages (2500MiB) exceeds max_memory 32MiB"},
		{"init rejects config", initfailWasm, nil, ErrInit, "flowcache_init returned 3"},
		{"start function loops", startloopWasm, nil, ErrInit, "instantiate: start function[0] failed: wasm error: unreachable (or its init budget of 268435456 fuel ran out)"},
		{"not wasm", []byte("#!/bin/sh\necho hi\n"), nil, ErrMalformed, "not a WebAssembly binary"},
		{"truncated", minimalWasm[:len(minimalWasm)/2], nil, ErrMalformed, "malformed module"},
		{"too large", minimalWasm, func(c *Config) { c.MaxModuleSize = 100 }, ErrTooLarge, "max_module_size is 100"},
		{"bad limits", minimalWasm, func(c *Config) { c.Fuel = -1 }, ErrConfig, "fuel: -1 must be positive"},
		{"memory over limit", minimalWasm, func(c *Config) { c.MaxMemory = 64 << 10 }, ErrMemory, "minimum memory 2 pages (128KiB) exceeds max_memory 64KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			if tt.mod != nil {
				tt.mod(&cfg)
			}
			m, err := rt.LoadBytes(context.Background(), "evil", tt.wasm, &cfg)
			if err == nil {
				m.Close(context.Background())
				t.Fatalf("LoadBytes = nil error, want %v", tt.kind)
			}
			var le *LoadError
			if !errors.As(err, &le) || !errors.Is(err, tt.kind) {
				t.Fatalf("LoadBytes error = %v (%T), want *LoadError wrapping %v", err, err, tt.kind)
			}
			if !strings.HasPrefix(err.Error(), `plugins: policy "evil": `) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadBytes error = %q, want it to name the policy and contain %q", err, tt.want)
			}
		})
	}
}

func TestRuntime_Load_File(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Options{CacheDir: filepath.Join(t.TempDir(), "cache")})
	dir := t.TempDir()
	path := filepath.Join(dir, "p.wasm")
	if err := os.WriteFile(path, minimalWasm, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Module = path
	m, err := rt.Load(context.Background(), "p", &cfg)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if m.Name() != "p" {
		t.Errorf("Name() = %q", m.Name())
	}
	if names, all := m.Headers(); all || len(names) != 1 || names[0] != "x-device" {
		t.Errorf("Headers() = %q, %v, want [x-device], false", names, all)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}

	tests := []struct {
		name string
		mod  func(c *Config)
		kind error
		want string
	}{
		{"missing file", func(c *Config) { c.Module = filepath.Join(dir, "nope.wasm") }, ErrConfig, "nope.wasm"},
		{"too large", func(c *Config) { c.MaxModuleSize = 64 }, ErrTooLarge, "bytes, max_module_size is 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := cfg
			tt.mod(&c)
			_, err := rt.Load(context.Background(), "p", &c)
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) ||
				!strings.Contains(err.Error(), `policy "p" (`+c.Module+")") {
				t.Errorf("Load = %v, want %v naming the policy, the module and %q", err, tt.kind, tt.want)
			}
		})
	}
}

func TestScanModule_Errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "no \\0asm magic"},
		{"version", []byte("\x00asm\x02\x00\x00\x00"), "unsupported: binary version 02 00 00 00, want 01 00 00 00"},
		{"section overrun", []byte("\x00asm\x01\x00\x00\x00\x05\x10\x01"), "memory section: offset 0x8: section size 16 beyond the end of the module"},
		{"bad leb", []byte("\x00asm\x01\x00\x00\x00\x05\xff\xff\xff\xff\xff\x01"), "memory section: offset 0x9: section size: LEB128 u32 too long or out of range"},
		{"memory limits", []byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x08\x01"), "memory section: offset 0xb: invalid limits flags 0x8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := scanModule(tt.b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("scanModule(%q) = %v, want %q", tt.b, err, tt.want)
			}
		})
	}
}

func FuzzScanModule(f *testing.F) {
	for _, w := range [][]byte{minimalWasm, fsimportWasm, hugememWasm, exitWasm} {
		f.Add(w)
	}
	f.Fuzz(func(_ *testing.T, b []byte) {
		_, _ = scanModule(b) // must not panic
	})
}

// TestNewRuntime_TempCache checks the default compilation cache: a private
// directory, removed by Close.
func TestNewRuntime_TempCache(t *testing.T) {
	t.Parallel()
	rt, err := NewRuntime(Options{})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(rt.tempDir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir %q: %v, %v; want a 0700 directory", rt.tempDir, fi, err)
	}
	mustLoad(t, rt, "minimal", minimalWasm, nil) // closed by rt.Close
	if err := rt.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(rt.tempDir); !os.IsNotExist(err) {
		t.Errorf("cache dir still there after Close: %v", err)
	}
	if _, err := rt.LoadBytes(context.Background(), "late", minimalWasm, &Config{MaxMemory: DefaultMaxMemory, Fuel: 1, MaxModuleSize: DefaultMaxModuleSize}); err == nil {
		t.Error("LoadBytes after Close succeeded")
	}
}
