package normalizeas

import (
	"testing"
	"time"

	"github.com/flowcache/flowcache/examples/internal/policytest"
	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// module builds assembly/index.ts with build.sh (npm ci, then asc), once
// per test binary.
func module(t testing.TB) []byte {
	t.Helper()
	return policytest.BuildScript(t, 5*time.Minute, asTools, "./build.sh")
}

// asTools are what build.sh needs: node and npm (npm ci installs asc).
var asTools = []string{"node", "npm"}

// TestNormalizeAS holds the AssemblyScript module to the Go normalize
// example's behaviour: its vectors (testdata/vectors.json, the file
// `flowcache policy test` takes), the "drop" configuration, the
// configurations it refuses, the edges the vectors do not cover, and the
// same keys as the Go module on random requests.
func TestNormalizeAS(t *testing.T) {
	t.Parallel()
	policytest.CheckNormalize(t, module)
}

// TestNormalizeAS_Gateway runs the AssemblyScript module in a real gateway.
func TestNormalizeAS_Gateway(t *testing.T) {
	t.Parallel()
	policytest.CheckNormalizeGateway(t, module(t))
}

// TestNormalizeAS_NoGrowth checks that the module allocates nothing per
// call: with --runtime stub, which never frees, a policy that allocated
// would grow until its memory limit and trap. Under a 256 KiB limit (the
// module's 128 KiB and the input buffer), 20,000 calls must all succeed on
// one instance.
func TestNormalizeAS_NoGrowth(t *testing.T) {
	t.Parallel()
	cfg := plugins.DefaultConfig()
	cfg.MaxMemory = 256 << 10
	m := policytest.LoadConfig(t, module(t), &cfg)
	r := policytest.Request("Example.COM", "/p", "utm_source=x&b=2&a=1&c=3")
	for i := range 20000 {
		var k policy.Key
		if err := m.Key(r, &k); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if s := m.Stats(); s.InstancesDiscarded != 0 || s.Failures() != 0 {
		t.Errorf("stats %+v: want no failure", s)
	}
}
