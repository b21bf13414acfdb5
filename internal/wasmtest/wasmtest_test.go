package wasmtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// TestWasmPackages compiles each package's tests for wasip1 and runs the
// test binary under wazero, with the package directory as the guest's
// working directory (for testdata and the fuzz seed corpora).
func TestWasmPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: compiling the tests for wasip1 takes seconds")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cache := compilationCache(t)
	for _, pkg := range []string{"wasm/abi", "wasm/sdk"} {
		t.Run(strings.ReplaceAll(pkg, "/", "_"), func(t *testing.T) {
			t.Parallel()
			bin := filepath.Join(t.TempDir(), "pkg.test.wasm")
			cmd := exec.Command("go", "test", "-c", "-o", bin, "./"+pkg)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("GOOS=wasip1 GOARCH=wasm go test -c ./%s: %v\n%s", pkg, err, out)
			}
			run(t, cache, bin, filepath.Join(root, pkg))
		})
	}
}

// run runs the wasip1 test binary bin in dir and fails t unless it exits 0.
func run(t *testing.T, cache wazero.CompilationCache, bin, dir string) {
	t.Helper()
	wasm, err := os.ReadFile(bin) //nolint:gosec // G304: our own build output
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache).WithCloseOnContextDone(true))
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	var out bytes.Buffer
	cfg := wazero.NewModuleConfig().
		WithArgs("pkg.test", "-test.v", "-test.timeout=4m").
		WithEnv("PWD", "/").
		WithFSConfig(wazero.NewFSConfig().WithReadOnlyDirMount(dir, "/")).
		WithStdout(&out).WithStderr(&out).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader)
	_, err = rt.InstantiateWithConfig(ctx, wasm, cfg)
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	passed := strings.Count(out.String(), "--- PASS")
	if err != nil || !strings.Contains(out.String(), "\nPASS\n") {
		t.Fatalf("the tests failed inside the guest (%v):\n%s", err, out.String())
	}
	// A fuzz target's seeds and testdata/fuzz entries run as its subtests.
	seeds := regexp.MustCompile(`(?m)^\s+--- PASS: Fuzz\w+/`).FindAllStringIndex(out.String(), -1)
	t.Logf("%d tests passed inside the guest, %d of them fuzz corpus entries", passed, len(seeds))
}

// compilationCache returns wazero's compilation cache in the user's cache
// directory, shared by test runs: compiling a test binary takes seconds.
func compilationCache(t *testing.T) wazero.CompilationCache {
	t.Helper()
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	c, err := wazero.NewCompilationCacheWithDir(filepath.Join(base, "flowcache-test", "wasmtest"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}
