//go:build !wasip1

package main

import (
	"bytes"
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// loadMemo loads wasm in plugins with memoize_key = n (0: off).
func loadMemo(t testing.TB, wasm []byte, n int) *plugins.Module {
	t.Helper()
	cfg := plugins.DefaultConfig()
	cfg.MemoizeKey = n
	return policytest.LoadConfig(t, wasm, &cfg)
}

// TestNormalize_KeyMemo checks that normalize's key is memoisable: with
// memoize_key, every request (asked twice: guest, then memo) gets the key
// the module computes without it.
func TestNormalize_KeyMemo(t *testing.T) {
	t.Parallel()
	wasm := policytest.Build(t, ".")
	plain, memo := loadMemo(t, wasm, 0), loadMemo(t, wasm, 16)
	reqs := []*policy.Request{
		policytest.BenchRequest(),
		request("Example.COM:80", "/a//b/../c", "utm_source=x&b=2&a=1"),
		request("example.com", "/a/c", "a=1&b=2"),
		request("example.com", "/", ""),
		request("example.com", "/x", "", "Accept-Encoding", "gzip"),
		request("example.com", "/x", "", "Accept-Encoding", "br"),
	}
	for pass := range 3 {
		for i, r := range reqs {
			var want, got policy.Key
			errW, errG := plain.Key(r, &want), memo.Key(r, &got)
			if (errW != nil) != (errG != nil) || want.Bypass != got.Bypass || !bytes.Equal(want.Host, got.Host) ||
				!bytes.Equal(want.Target, got.Target) || !bytes.Equal(want.Variant, got.Variant) {
				t.Fatalf("pass %d request %d: memo %+v (%v), guest %+v (%v)", pass, i, got, errG, want, errW)
			}
		}
	}
}

// BenchmarkNormalize_KeyMemo is BenchmarkNormalize_Key through plugins with
// the key memo off and on (every call a hit).
func BenchmarkNormalize_KeyMemo(b *testing.B) {
	wasm := policytest.Build(b, ".")
	for _, tt := range []struct {
		name string
		n    int
	}{{"off", 0}, {"on", 4096}} {
		b.Run(tt.name, func(b *testing.B) { policytest.BenchKey(b, loadMemo(b, wasm, tt.n)) })
	}
}
