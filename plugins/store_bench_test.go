package plugins

import (
	"context"
	"testing"
)

// BenchmarkStore_Policy: the per-request cost of the store as the gateway's
// PolicySource: lookup, lease, release (no policy call).
func BenchmarkStore_Policy(b *testing.B) {
	s, err := OpenStore(newTestRuntime(b, Options{}), StoreOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Put(context.Background(), "p", minimalWasm, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, _ := s.Policy("p")
			p.(*Active).Release()
		}
	})
}
