package gateway

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkCanonicalRequest is what canonicalRequest adds to every request
// (the hit path included) whose Host and path are already in normal form,
// the common case; the request is parsed once, as the server does.
func BenchmarkCanonicalRequest(b *testing.B) {
	var req fasthttp.Request
	req.Header.SetHost("example.test")
	req.SetRequestURI("/hit/some/path?a=1&b=2")
	req.URI()
	b.ReportAllocs()
	for b.Loop() {
		if err := canonicalRequest(&req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCanonicalRequest_Rewrite is a request whose Host and path are
// rewritten: set up, parsed and canonicalised per iteration (compare with
// BenchmarkCanonicalRequest_Setup, the same without canonicalRequest).
func BenchmarkCanonicalRequest_Rewrite(b *testing.B) {
	var req fasthttp.Request
	b.ReportAllocs()
	for b.Loop() {
		req.Header.SetHost("Example.TEST.:8080")
		req.SetRequestURI("/a/./b/%7euser/../c?a=1")
		if err := canonicalRequest(&req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCanonicalRequest_Setup is the baseline of
// BenchmarkCanonicalRequest_Rewrite.
func BenchmarkCanonicalRequest_Setup(b *testing.B) {
	var req fasthttp.Request
	b.ReportAllocs()
	for b.Loop() {
		req.Header.SetHost("Example.TEST.:8080")
		req.SetRequestURI("/a/./b/%7euser/../c?a=1")
		req.URI()
	}
}
