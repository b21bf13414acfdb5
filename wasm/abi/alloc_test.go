//go:build !race

package abi

import (
	"testing"
	"time"
)

// TestAllocs checks the zero-allocation contract of the hot-path encoders
// and decoders on both sides.
func TestAllocs(t *testing.T) {
	r, hs := testRequest()
	names := make([][2][]byte, len(hs))
	for i, h := range hs {
		names[i] = [2][]byte{[]byte(h.name), []byte(h.value)}
	}
	buf := make([]byte, 0, 4096)
	keyBlob := AppendKey(nil, &Key{Host: []byte("h"), Target: []byte("/a?b=1")})
	dec := make([]byte, DecisionSize)
	PutDecision(dec, &Decision{Store: true, TTL: time.Minute})
	resp := &Response{Status: 200, BodySize: 1}
	def := &Decision{Store: true}

	tests := []struct {
		name string
		fn   func()
	}{
		{"AppendRequest", func() {
			b := AppendRequest(buf[:0], r)
			for _, h := range names {
				b = AppendRequestHeader(b, 0, h[0], h[1])
			}
		}},
		{"AppendDecideInput", func() {
			b := AppendDecideInput(buf[:0], resp, def)
			b = AppendResponseHeader(b, 0, names[0][0], names[0][1])
			rs := len(b)
			b = AppendDecideRequest(b, 0, r)
			_ = AppendRequestHeader(b, rs, names[1][0], names[1][1])
		}},
		{"DecodeKey", func() {
			var k Key
			if err := DecodeKey(keyBlob, &k); err != nil {
				panic(err)
			}
		}},
		{"DecodeDecision", func() {
			var d Decision
			if err := DecodeDecision(dec, &d); err != nil {
				panic(err)
			}
		}},
		{"ParseRequest", func() {
			b := AppendRequest(buf[:0], r)
			b = AppendRequestHeader(b, 0, names[0][0], names[0][1])
			v, err := ParseRequest(b)
			if err != nil {
				panic(err)
			}
			_ = v.Header("cookie")
			_ = AppendKey(buf[len(b):len(b)], &Key{Host: v.Host(), Target: v.Path()})
		}},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.fn); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", tt.name, n)
		}
	}
}
