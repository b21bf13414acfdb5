//go:build !race

package plugins

import (
	"testing"
	"time"

	"github.com/flowcache/flowcache/policy"
)

// TestModule_Allocs checks the zero-allocation contract of the hot path: a
// Key or Decide call that succeeds allocates nothing on the host.
func TestModule_Allocs(t *testing.T) {
	m := mustLoad(t, newTestRuntime(t, Options{}), "minimal", minimalWasm, nil)
	req := benchRequest()
	resp := &policy.Response{
		Status: 200, BodySize: 1234, Now: time.Unix(1700000000, 0),
		Headers: hdrs("Cache-Control", "max-age=60", "Content-Type", "application/json", "ETag", `"abc"`),
	}
	k := &policy.Key{Host: make([]byte, 0, 64), Target: make([]byte, 0, 256), Variant: make([]byte, 0, 64)}
	var d policy.Decision
	tests := []struct {
		name string
		fn   func()
	}{
		{"Key", func() {
			k.Reset()
			if err := m.Key(req, k); err != nil {
				t.Fatal(err)
			}
		}},
		{"Decide", func() {
			d.Reset()
			if err := m.Decide(req, resp, &d); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		tt.fn() // warm: instance out of the pool, slices grown
		if n := testing.AllocsPerRun(200, tt.fn); n != 0 {
			t.Errorf("%s: %v allocs per call, want 0", tt.name, n)
		}
	}
}
