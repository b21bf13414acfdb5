//go:build !race

package policy

import (
	"testing"
	"time"
)

func TestDefault_noAlloc(t *testing.T) {
	r := &Request{
		Method: []byte("GET"), Host: []byte("API.Example.com:8080"), Path: []byte("/v1/items"), Query: []byte("a=1&b=2"),
		Headers: hdrs("Accept", "application/json", "Cache-Control", "max-stale=10", "Authorization", "Bearer x"),
	}
	resp := &Response{Status: 200, Now: time.Now(), Headers: hdrs(
		"Date", "Fri, 02 Jan 2026 03:04:05 GMT",
		"Cache-Control", "public, max-age=60, stale-while-revalidate=30",
		"CDN-Cache-Control", "s-maxage=600",
		"Expires", "Fri, 02 Jan 2026 04:04:05 GMT",
		"Last-Modified", "Tue, 23 Dec 2025 03:04:05 GMT",
		"Vary", "Accept-Encoding",
	)}
	var p Policy = Default{DefaultTTL: time.Minute}
	k := Key{Host: make([]byte, 0, 64), Target: make([]byte, 0, 64)}
	var d Decision
	if n := testing.AllocsPerRun(100, func() {
		k.Reset()
		_ = p.Key(r, &k) // Default.Key never fails
		d.Reset()
		_ = p.Decide(r, resp, &d) // Default.Decide never fails
	}); n != 0 {
		t.Errorf("Default Key+Decide: %v allocs/op, want 0", n)
	}
}
