//go:build !wasip1

package main

import (
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
	"github.com/flowcache/flowcache/policy"
)

// benchRequest is the request of the design's measurements: GET, a 60-byte
// path, 5 query parameters (2 of them tracking), 8 headers.
func benchRequest() *policy.Request {
	return request("API.Example.com", "/v1/catalog/products/electronics/phones/smartphones/item-12345",
		"utm_source=news&page=2&sort=price&utm_campaign=spring&color=black",
		"Accept", "application/json", "Accept-Encoding", "gzip, br", "Accept-Language", "en-GB,en;q=0.9",
		"User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
		"X-Request-Id", "0f8e4c1a-7b6d-4c3e-9a2f-1d5e6b7c8a90", "Cache-Control", "no-transform",
		"Referer", "https://www.example.com/", "Pragma", "x")
}

func benchKey(b *testing.B, p policy.Policy) {
	r := benchRequest()
	var k policy.Key
	b.ReportAllocs()
	defer policytest.ReportCPU(b)()
	for b.Loop() {
		k.Reset()
		if err := p.Key(r, &k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNormalize_Key measures one key call through the gateway's host
// (plugins: pooled instance, fuel metering) and through the bare test host
// (one instance, no metering).
func BenchmarkNormalize_Key(b *testing.B) {
	for host, p := range hosts(b) {
		b.Run(host, func(b *testing.B) { benchKey(b, p) })
	}
}

// BenchmarkDefault_Key is the baseline: the native default policy.
func BenchmarkDefault_Key(b *testing.B) { benchKey(b, policy.Default{}) }
