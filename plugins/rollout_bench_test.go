package plugins

import (
	"context"
	"strconv"
	"testing"

	"github.com/flowcache/flowcache/policy"
)

// BenchmarkStore_RolloutKey: a request's policy lookup, Key call and
// release, with the active version alone, a canary at 10%, and a shadow
// sampling 10% and 100% of the calls. The shadow's worker runs beside, on
// the same cores.
func BenchmarkStore_RolloutKey(b *testing.B) {
	ctx := context.Background()
	cases := []struct {
		name  string
		mode  Mode
		share Share
	}{{"active", "", 0}, {"canary10", ModeCanary, 1000}, {"shadow0", ModeShadow, 0}, {"shadow10", ModeShadow, 1000}, {"shadow100", ModeShadow, FullShare}}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			s, err := OpenStore(newTestRuntime(b, Options{}), StoreOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Put(ctx, "p", minimalWasm, map[string]any{"v": 0}); err != nil {
				b.Fatal(err)
			}
			if bc.mode != "" {
				if _, err := s.Stage(ctx, "p", minimalWasm, map[string]any{"v": 1}, bc.mode, bc.share); err != nil {
					b.Fatal(err)
				}
			}
			req := benchRequest()
			paths := make([][]byte, 64)
			for i := range paths {
				paths[i] = append(append([]byte(nil), req.Path...), strconv.Itoa(i)...)
			}
			k := &policy.Key{Host: make([]byte, 0, 64), Target: make([]byte, 0, 256), Variant: make([]byte, 0, 64)}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				p, _ := s.PolicyFor("p", req.Host, paths[i&63])
				a := p.(*Active)
				k.Reset()
				_ = a.Key(req, k) // minimal never fails on these
				a.Release()
			}
			if in, _ := s.Get("p"); in.Rollout.ShadowCalls > 0 {
				b.ReportMetric(float64(in.Rollout.ShadowDropped)/float64(b.N), "shadow-drops/op")
			}
		})
	}
}
