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

// BenchmarkNormalizeWAT_KeyParallel runs the key call on every P through the
// gateway's host (the pool round trip under load).
func BenchmarkNormalizeWAT_KeyParallel(b *testing.B) {
	policytest.BenchKeyParallel(b, policytest.Load(b, normalizeWasm, nil))
}
