//go:build !race

package cachecontrol

import (
	"testing"

	"github.com/flowcache/flowcache/policy"
)

func TestParse_noAlloc(t *testing.T) {
	v := []byte(`Public, max-age=60, s-maxage="120", no-cache="Set-Cookie, X", stale-if-error=99999999999999, x-long-unknown-directive-name="a,b"`)
	h := policy.Headers{
		{Name: []byte("Content-Type"), Value: []byte("text/plain")},
		{Name: []byte("Cache-Control"), Value: v},
	}
	var d Directives
	if n := testing.AllocsPerRun(100, func() {
		d.Reset()
		Parse(&d, v)
		ParseField(&d, h, "cache-control")
	}); n != 0 {
		t.Errorf("Parse and ParseField: %v allocs/op, want 0", n)
	}
}
