//go:build !race

package sdk

import (
	"testing"
	"time"

	"github.com/flowcache/flowcache/wasm/abi"
)

// TestAllocs checks the SDK's zero-allocation contract for the calls made on
// every request: what the host feeds the guest, the guest answers without
// allocating.
func TestAllocs(t *testing.T) {
	gs := testGuest(t, Policy{
		Headers: []string{"user-agent"},
		Key: func(r *Request, k *KeyBuilder) error {
			if ContainsFold(r.Header("user-agent"), "mobile") {
				k.VariantString("mobile")
			}
			k.AddParam([]byte("v"), []byte("1"))
			return normalize(r, k)
		},
		Decide: func(r *Response, d *Decision) error {
			if r.Status() == 200 && !HasToken(r.Header("cache-control"), "private") {
				d.Cache(time.Minute)
				d.Stale(time.Second, time.Hour)
			}
			return nil
		},
	})
	r := req("Example.com", "/v1/catalog/products/electronics/phones/smartphones/item-12345",
		"utm_source=news&page=2&sort=price&utm_campaign=spring&color=black", "User-Agent", "Mobile Safari")
	n := writeRequest(gs, &r)
	keyIn := append([]byte(nil), gs.in[:n]...)
	if _, ok := callKey(t, gs, &r); !ok {
		t.Fatal("Key failed")
	}
	if _, ok := callDecide(t, gs, &r, abi.Response{Status: 200}, abi.Decision{Store: true}, "Cache-Control", "public"); !ok {
		t.Fatal("Decide failed")
	}
	decIn := make([]byte, 0, 1024)
	decIn = abi.AppendDecideInput(decIn, &abi.Response{Status: 200}, &abi.Decision{Store: true})
	decIn = abi.AppendResponseHeader(decIn, 0, []byte("Cache-Control"), []byte("public"))
	decIn = abi.AppendDecideRequest(decIn, 0, &r.Request)

	tests := []struct {
		name string
		fn   func()
	}{
		{"key", func() {
			copy(gs.in, keyIn)
			if _, ok := gs.key(gs.in[:len(keyIn)]); !ok {
				panic("key failed")
			}
		}},
		{"decide", func() {
			copy(gs.in, decIn)
			if res, ok := gs.decide(gs.in[:len(decIn)]); !ok || res == nil {
				panic("decide failed")
			}
		}},
		{"SplitQuery", func() {
			ps, n := SplitQuery(r.Query), 0
			for _, ok := ps.Next(); ok; _, ok = ps.Next() {
				n++
			}
			if n != 5 {
				panic("SplitQuery")
			}
		}},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.fn); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tt.name, n)
		}
	}
}
