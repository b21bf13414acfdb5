package normalizewat

import (
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// BenchmarkNormalizeWAT_Key measures the WAT module's key call through the
// gateway's host (plugins), for comparison with BenchmarkNormalize_Key.
func BenchmarkNormalizeWAT_Key(b *testing.B) {
	policytest.BenchKey(b, policytest.Load(b, normalizeWasm, nil))
}
