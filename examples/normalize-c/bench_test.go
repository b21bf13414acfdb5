package normalizec

import (
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// BenchmarkNormalizeC_Key measures the C module's key call through the
// gateway's host (plugins), for comparison with BenchmarkNormalize_Key.
func BenchmarkNormalizeC_Key(b *testing.B) {
	policytest.BenchKey(b, policytest.Load(b, module(b), nil))
}
