package policy

import (
	"testing"
	"time"
)

func BenchmarkDefault_Key(b *testing.B) {
	r := &Request{
		Method: []byte("GET"), Host: []byte("API.Example.com"), Path: []byte("/v1/catalog/items/12345/details"),
		Query:   []byte("lang=en&currency=EUR&page=2&size=50&utm_source=x"),
		Headers: hdrs("Accept", "application/json", "User-Agent", "bench", "Accept-Encoding", "gzip"),
	}
	var p Policy = Default{}
	k := Key{Host: make([]byte, 0, 64), Target: make([]byte, 0, 128)}
	b.ReportAllocs()
	for b.Loop() {
		k.Reset()
		_ = p.Key(r, &k) // never fails
	}
}

func BenchmarkDefault_Decide(b *testing.B) {
	r := &Request{Method: []byte("GET"), Host: []byte("h"), Path: []byte("/"), Headers: hdrs("Accept", "*/*")}
	resp := &Response{Status: 200, Now: time.Now(), Headers: hdrs(
		"Content-Type", "application/json",
		"Date", "Fri, 02 Jan 2026 03:04:05 GMT",
		"Cache-Control", "public, max-age=60, stale-while-revalidate=30, stale-if-error=86400",
		"ETag", `"abc"`,
		"Last-Modified", "Tue, 23 Dec 2025 03:04:05 GMT",
		"Vary", "Accept-Encoding",
	)}
	var p Policy = Default{}
	var d Decision
	b.ReportAllocs()
	for b.Loop() {
		d.Reset()
		_ = p.Decide(r, resp, &d) // never fails
	}
}
