package abi

import "testing"

func BenchmarkDecodeKey(b *testing.B) {
	blob := AppendKey(nil, &Key{
		Host:   []byte("api.example.com"),
		Target: []byte("/v1/catalog/products/electronics/phones/smartphones/item-1234?a=1&b=2&page=3&sort=price"),
	})
	b.ReportAllocs()
	var k Key
	for b.Loop() {
		if err := DecodeKey(blob, &k); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendRequest(b *testing.B) {
	r, hs := testRequest()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		blob := AppendRequest(buf[:0], r)
		for _, h := range hs {
			blob = AppendRequestHeader(blob, 0, []byte(h.name), []byte(h.value))
		}
	}
}
