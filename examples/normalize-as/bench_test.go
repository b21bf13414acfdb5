package normalizeas

import (
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// BenchmarkNormalizeAS_Key measures the AssemblyScript module's key call through the
// gateway's host (plugins), for comparison with BenchmarkNormalize_Key.
func BenchmarkNormalizeAS_Key(b *testing.B) {
	policytest.BenchKey(b, policytest.Load(b, module(b), nil))
}
