package normalizec

import (
	"testing"
	"time"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// module builds normalize.c with build.sh (clang's wasm32 target and
// wasm-ld), once per test binary.
func module(t testing.TB) []byte {
	t.Helper()
	return policytest.BuildScript(t, 2*time.Minute, cTools, "./build.sh")
}

// cTools are what build.sh needs: clang and its WebAssembly linker.
var cTools = []string{"clang", "wasm-ld"}

// TestNormalizeC holds the C module to the Go normalize example's
// behaviour: its vectors (testdata/vectors.json, the file `flowcache policy
// test` takes), the "drop" configuration, the configurations it refuses,
// the edges the vectors do not cover, and the same keys as the Go module
// on random requests.
func TestNormalizeC(t *testing.T) {
	t.Parallel()
	policytest.CheckNormalize(t, module)
}

// TestNormalizeC_Gateway runs the C module in a real gateway.
func TestNormalizeC_Gateway(t *testing.T) {
	t.Parallel()
	policytest.CheckNormalizeGateway(t, module(t))
}
