package policytest

import (
	"testing"
	"time"

	"github.com/flowcache/flowcache/policy"
)

// BenchRequest is the request of the design's measurements: GET, a 60-byte
// path, 5 query parameters (2 of them tracking), 8 header fields.
func BenchRequest() *policy.Request {
	h := func(name, value string) policy.Header { return policy.Header{Name: []byte(name), Value: []byte(value)} }
	return &policy.Request{
		Method: []byte("GET"), Scheme: []byte("https"), Host: []byte("API.Example.com"),
		Path:  []byte("/v1/catalog/products/electronics/phones/smartphones/item-12345"),
		Query: []byte("utm_source=news&page=2&sort=price&utm_campaign=spring&color=black"),
		Route: []byte("api"),
		Headers: policy.Headers{
			h("Accept", "application/json"), h("Accept-Encoding", "gzip, br"), h("Accept-Language", "en-GB,en;q=0.9"),
			h("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"),
			h("X-Request-Id", "0f8e4c1a-7b6d-4c3e-9a2f-1d5e6b7c8a90"), h("Cache-Control", "no-transform"),
			h("Referer", "https://www.example.com/"), h("Pragma", "x"),
		},
	}
}

// BenchResponse is a typical cacheable response to BenchRequest.
func BenchResponse() *policy.Response {
	h := func(name, value string) policy.Header { return policy.Header{Name: []byte(name), Value: []byte(value)} }
	return &policy.Response{
		Status: 200, BodySize: 4096, Now: time.Unix(1700000000, 0),
		Headers: policy.Headers{
			h("Content-Type", "application/json"), h("Cache-Control", "public, max-age=60"),
			h("Date", "Tue, 14 Nov 2023 22:13:20 GMT"), h("ETag", `"abc123"`), h("Content-Length", "4096"),
		},
	}
}

// BenchKey measures p.Key on BenchRequest, with allocations and cpu-ns/op.
func BenchKey(b *testing.B, p policy.Policy) {
	r := BenchRequest()
	var k policy.Key
	b.ReportAllocs()
	defer ReportCPU(b)()
	for b.Loop() {
		k.Reset()
		if err := p.Key(r, &k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchKeyParallel measures p.Key on BenchRequest from every P: with a
// module, the instance pool's round trip under load.
func BenchKeyParallel(b *testing.B, p policy.Policy) {
	b.ReportAllocs()
	b.ResetTimer() // RunParallel, unlike b.Loop, does not leave out the setup
	defer ReportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		r := BenchRequest()
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

// BenchDecide measures p.Decide on BenchRequest and BenchResponse.
func BenchDecide(b *testing.B, p policy.Policy) {
	r, resp := BenchRequest(), BenchResponse()
	var d policy.Decision
	b.ReportAllocs()
	defer ReportCPU(b)()
	for b.Loop() {
		d = policy.Decision{Store: true, Admit: true, TTL: time.Minute}
		if err := p.Decide(r, resp, &d); err != nil {
			b.Fatal(err)
		}
	}
}
