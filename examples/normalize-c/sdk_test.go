package normalizec

import (
	"testing"
	"time"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// TestSDK runs wasm/c/testdata/sdkcheck.c, a policy that uses what
// normalize.c does not (header lookup in any case, the parameter's name
// and value, the method, scheme and route, the configuration reader, the
// decide blob and a decision written over the default), through the
// gateway's host.
func TestSDK(t *testing.T) {
	t.Parallel()
	wasm := policytest.BuildScript(t, 2*time.Minute, cTools, "./build.sh", "../../wasm/c/testdata/sdkcheck.c")
	policytest.CheckSDKPolicy(t, policytest.Load(t, wasm, map[string]any{"ttl_ms": 5000, "tier": 2, "name": "cfg"}))
	policytest.CheckBadConfigs(t, wasm, []policytest.BadConfig{
		{Config: map[string]any{"ttl_ms": "5s"}, Want: "2"},
		{Config: map[string]any{"tier": 1.5}, Want: "3"},
		{Config: map[string]any{"name": 7}, Want: "4"},
	})
}
