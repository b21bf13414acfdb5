package main

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/gateway"
)

// TestMain points the user cache directory (the default compilation
// cache) at a temporary directory, so that tests never write the cache of
// the user running them.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flowcache-cmd-test-cache-")
	if err != nil {
		panic(err)
	}
	_ = os.Setenv("XDG_CACHE_HOME", dir) // before any test runs; Setenv on Linux cannot fail here
	code := m.Run()
	_ = os.RemoveAll(dir) // a leftover temporary directory is harmless
	os.Exit(code)
}

func TestCompilationCacheDir(t *testing.T) {
	t.Parallel()
	noHome := errors.New("$HOME is not defined")
	tests := []struct {
		name      string
		disabled  bool
		dataDir   bool
		base      func(t *testing.T) (string, error) // the user cache directory
		want      string                             // relative to the base, or to data_dir with dataDir; "" for none
		wantInLog string
	}{
		{name: "user cache", base: tempBase, want: "flowcache/wasm"},
		{name: "data_dir wins", dataDir: true, base: tempBase, want: "wasm-cache"},
		{name: "disabled", disabled: true, base: tempBase},
		{name: "disabled with data_dir", disabled: true, dataDir: true, base: tempBase},
		{
			name: "no user cache directory", base: func(*testing.T) (string, error) { return "", noHome },
			wantInLog: "$HOME is not defined",
		},
		{
			name: "base is a file",
			base: func(t *testing.T) (string, error) {
				f := filepath.Join(t.TempDir(), "file")
				return f, os.WriteFile(f, nil, 0o600)
			},
			wantInLog: "not a directory",
		},
		{
			name: "writable by others",
			base: func(t *testing.T) (string, error) {
				d := t.TempDir()
				if err := os.MkdirAll(filepath.Join(d, "flowcache", "wasm"), 0o700); err != nil {
					return "", err
				}
				return d, os.Chmod(filepath.Join(d, "flowcache"), 0o777) //nolint:gosec // the point of the test
			},
			wantInLog: "writable by other users",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, err := tt.base(t)
			if err != nil && !errors.Is(err, noHome) {
				t.Fatal(err)
			}
			c := gateway.AdminConfig{CompilationCache: !tt.disabled}
			root := base
			if tt.dataDir {
				c.DataDir = t.TempDir()
				root = c.DataDir
			}
			var log bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&log, nil))
			got, err := compilationCacheIn(t.Context(), &c, logger, func() (string, error) { return base, err })
			if err != nil {
				t.Fatalf("compilationCacheIn = %v", err)
			}
			want := ""
			if tt.want != "" {
				want = filepath.Join(root, tt.want)
			}
			if got != want {
				t.Errorf("compilationCacheIn = %q, want %q", got, want)
			}
			if want != "" {
				if fi, err := os.Stat(want); err != nil || fi.Mode().Perm() != 0o700 {
					t.Errorf("stat(%q) = %v, %v; want a 0700 directory", want, fi, err)
				}
			}
			if !strings.Contains(log.String(), tt.wantInLog) || (tt.wantInLog == "") != (log.Len() == 0) {
				t.Errorf("log = %q, want it to contain %q", log.String(), tt.wantInLog)
			}
		})
	}
}

func tempBase(t *testing.T) (string, error) { return t.TempDir(), nil }

// TestCompilationCache_serveWritesCheckDoesNot: serve without data_dir
// fills the user cache directory; check, on the same config, writes
// nothing there.
func TestCompilationCache_serveWritesCheckDoesNot(t *testing.T) {
	base := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", base) // not parallel: the environment is the process's
	dir := t.TempDir()
	wasm, err := os.ReadFile("testdata/policies/tagged.wasm")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tagged.wasm"), wasm, 0o600); err != nil {
		t.Fatal(err)
	}
	listen, admin := freeAddr(t), freeAddr(t)
	cfgPath := filepath.Join(dir, "config.toml")
	src := `[server]
listen = "` + listen + `"
[admin]
listen = "` + admin + `"
[log]
level = "warn"
[[routes]]
name = "api"
upstreams = ["http://127.0.0.1:9"]
policy = "tagged"
[policies.tagged]
module = "tagged.wasm"
`
	if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(base, "flowcache", "wasm")
	if err := run(t.Context(), []string{"check", "-config", cfgPath}, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatalf("check: %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, "flowcache")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after check, stat(%s) = %v, want it absent", filepath.Join(base, "flowcache"), err)
	}
	stop := startServe(t, cfgPath, listen, admin)
	stop()
	n := 0
	err = filepath.WalkDir(cache, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil || n == 0 {
		t.Errorf("after serve, %s holds %d files (%v), want the compiled module", cache, n, err)
	}
}
