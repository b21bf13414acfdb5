package policytest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tool returns the path of the program name, skipping the test when it is
// not installed, or failing it when the environment variable CI is set
// (.ci/deps.sh installs the tools the examples need).
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found (.ci/deps.sh installs it): %v", name, err)
	}
	t.Skipf("%s not found; skipping (set CI=1 to make this a failure)", name)
	return ""
}

var scripts sync.Map // script and arguments -> *build

// BuildScript runs the build script of a policy written in another
// language (relative to the test's working directory, e.g. "./build.sh")
// with the path of the module to write as its first argument, then args,
// and returns the module's bytes. It runs once per test binary for each
// script and arguments, within timeout. The tools the script needs are
// checked first with [Tool]: a missing one skips the test, or fails it in
// CI. A script that fails fails the test with its output.
func BuildScript(t testing.TB, timeout time.Duration, tools []string, script string, args ...string) []byte {
	t.Helper()
	for _, tool := range tools {
		Tool(t, tool)
	}
	v, _ := scripts.LoadOrStore(strings.Join(append([]string{script}, args...), "\x00"), &build{})
	b := v.(*build)
	b.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		b.run(func(out string) (*exec.Cmd, string) {
			// The script path comes from the test itself, not from input.
			return exec.CommandContext(ctx, script, append([]string{out}, args...)...), script + " " + out //nolint:gosec // G204: see above
		})
	})
	if b.wasm == nil {
		t.Fatalf("building the policy module: %s", b.err)
	}
	return b.wasm
}
