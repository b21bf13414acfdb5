package normalizewat

import (
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
	"github.com/flowcache/flowcache/policy"
)

// BenchmarkNormalizeWAT_Key measures the WAT module's key call through the
// gateway's host (plugins), for comparison with BenchmarkNormalize_Key.
func BenchmarkNormalizeWAT_Key(b *testing.B) {
	policytest.BenchKey(b, policytest.Load(b, normalizeWasm, nil))
}

// BenchmarkNormalizeWAT_KeyParallel runs the key call on every P through the
// gateway's host (the pool round trip under load).
func BenchmarkNormalizeWAT_KeyParallel(b *testing.B) {
	p := policytest.Load(b, normalizeWasm, nil)
	b.ReportAllocs()
	b.ResetTimer() // RunParallel, unlike b.Loop, does not leave out the setup
	defer policytest.ReportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		r := policytest.BenchRequest()
		var k policy.Key
		for pb.Next() {
			k.Reset()
			if err := p.Key(r, &k); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
