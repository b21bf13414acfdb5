package normalizeas

import (
	"testing"
	"time"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// TestSDK runs wasm/assemblyscript/testdata/sdkcheck.ts, the SDK check
// policy of wasm/c/testdata/sdkcheck.c in AssemblyScript, through the
// gateway's host and holds it to the same behaviour.
func TestSDK(t *testing.T) {
	t.Parallel()
	wasm := policytest.BuildScript(t, 5*time.Minute, asTools, "./build.sh", "../../wasm/assemblyscript/testdata/sdkcheck.ts")
	policytest.CheckSDKPolicy(t, policytest.Load(t, wasm, map[string]any{"ttl_ms": 5000, "tier": 2, "name": "cfg"}))
	policytest.CheckBadConfigs(t, wasm, []policytest.BadConfig{
		{Config: map[string]any{"ttl_ms": "5s"}, Want: "2"},
		{Config: map[string]any{"tier": 1.5}, Want: "3"},
		{Config: map[string]any{"name": 7}, Want: "4"},
	})
}
