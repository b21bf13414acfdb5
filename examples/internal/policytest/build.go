package policytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var builds sync.Map // package path -> *build

type build struct {
	once sync.Once
	wasm []byte
	err  string
}

// Build compiles the Go policy package pkg (an import path or a directory
// relative to the test's working directory, e.g. ".") into a WebAssembly
// module and returns its bytes. It builds once per test binary. When the
// wasip1 build fails (no toolchain support), the test is skipped with the
// compiler's output.
func Build(t testing.TB, pkg string) []byte {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &build{})
	b := v.(*build)
	b.once.Do(func() {
		b.run(func(out string) (*exec.Cmd, string) {
			// The package path comes from the test itself, not from input.
			// As examples/build.sh builds them: what the tests load is what ships.
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-buildmode=c-shared", "-o", out, pkg) //nolint:gosec // G204: see above
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			return cmd, "GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags='-s -w' -buildmode=c-shared " + pkg
		})
	})
	if b.wasm == nil {
		t.Skipf("cannot build the policy module, skipping: %s", b.err)
	}
	return b.wasm
}

// run builds a module into a temporary file with the command newCmd makes
// for that file's path, and keeps the module's bytes, or in err what
// failed (the command as described, its error and its output).
func (b *build) run(newCmd func(out string) (cmd *exec.Cmd, describe string)) {
	dir, err := os.MkdirTemp("", "policytest-")
	if err != nil {
		b.err = err.Error()
		return
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "policy.wasm")
	cmd, describe := newCmd(out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.err = describe + ": " + err.Error() + "\n" + strings.TrimSpace(string(msg))
		return
	}
	b.wasm, err = os.ReadFile(out) //nolint:gosec // G304: our own temporary file
	if err != nil {
		b.err = err.Error()
	}
}
