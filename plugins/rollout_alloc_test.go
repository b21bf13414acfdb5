//go:build !race

package plugins

import (
	"context"
	"testing"

	"github.com/flowcache/flowcache/policy"
)

// TestStore_RolloutAllocs: the request path allocates nothing with a canary
// (either side) or a shadow sampling every call (the copy goes into reused
// job buffers; the shadow's worker allocates nothing when keys agree).
func TestStore_RolloutAllocs(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []Mode{ModeCanary, ModeShadow} {
		s, err := OpenStore(newTestRuntime(t, Options{}), StoreOptions{Rollout: RolloutConfig{ShadowQueue: 4}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Put(ctx, "p", minimalWasm, map[string]any{"v": 0}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stage(ctx, "p", minimalWasm, map[string]any{"v": 1}, mode, 5000); err != nil {
			t.Fatal(err)
		}
		req := benchRequest()
		k := &policy.Key{Host: make([]byte, 0, 64), Target: make([]byte, 0, 256), Variant: make([]byte, 0, 64)}
		paths := [][]byte{[]byte("/a"), []byte("/b"), []byte("/c"), []byte("/d"), []byte("/e"), []byte("/f")}
		i := 0
		call := func() {
			i++
			p, _ := s.PolicyFor("p", req.Host, paths[i%len(paths)])
			a := p.(*Active)
			k.Reset()
			if err := a.Key(req, k); err != nil {
				t.Fatal(err)
			}
			a.Release()
		}
		for range 200 { // warm: instances, and every shadow job's buffers
			call()
		}
		if n := testing.AllocsPerRun(500, call); n != 0 {
			t.Errorf("%s: %v allocs per request, want 0", mode, n)
		}
	}
}
