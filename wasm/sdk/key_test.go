package sdk

import (
	"errors"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/wasm/abi"
)

// normalize is the key of the normalize example: the policy the SDK is
// designed around.
func normalize(r *Request, k *KeyBuilder) error {
	k.Host(r.Host())
	k.Path(r.Path())
	k.Query(r.Query(), TrackingParams)
	k.SortParams()
	return nil
}

func TestKeyBuilder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		key                   func(r *Request, k *KeyBuilder) error
		req                   request
		host, target, variant string
		bypass, fails         bool
	}{
		{name: "default", req: req("Example.COM", "/a/B", "z=1&&a=2"), host: "example.com", target: "/a/B?z=1&a=2"},
		{name: "default no query", req: req("h", "/", ""), host: "h", target: "/"},
		{name: "normalize", key: normalize, req: req("Example.COM.", "/p", "utm_source=x&b=2&a=1&fbclid=y"), host: "example.com", target: "/p?a=1&b=2"},
		{name: "normalize same key", key: normalize, req: req("example.com", "/p", "a=1&b=2"), host: "example.com", target: "/p?a=1&b=2"},
		{name: "sort is stable", key: normalize, req: req("h", "/", "b=1&a=2&b=0&a=1&a"), host: "h", target: "/?a=2&a=1&a&b=1&b=0"},
		{name: "sort by name only", key: normalize, req: req("h", "/", "ab=1&a=2&a-=3"), host: "h", target: "/?a=2&a-=3&ab=1"},
		{name: "empty path", key: func(r *Request, k *KeyBuilder) error { k.Host(r.Host()); return nil }, req: req("h", "/x", ""), host: "h", target: "/"},
		{name: "recorded pieces keep their order", key: func(r *Request, k *KeyBuilder) error {
			k.Path(r.Path())                     // recorded
			k.Query(r.Query(), nil)              // recorded
			k.AddParam([]byte("z"), []byte("0")) // after the recorded query's parameters
			k.Query([]byte("y=1&x=2"), nil)      // a second query, from elsewhere
			k.Host([]byte("Second.Example."))    // recorded, then given before the path
			k.Host([]byte("Tail."))              // appended: a path was recorded
			k.Path([]byte("/more"))              // appended after the first path
			return nil
		}, req: req("h", "/p", "b=2&a=1"), host: "second.exampletail", target: "/p/more?b=2&a=1&z=0&y=1&x=2"},
		{name: "variant and added params", key: func(r *Request, k *KeyBuilder) error {
			k.VariantString("mobile")
			k.Variant([]byte("|x"))
			k.Host(r.Host())
			k.PathString("/fixed")
			k.AddParam([]byte("b"), []byte("2"))
			k.AddParam([]byte("a"), []byte("1"))
			k.SortParams()
			return nil
		}, req: req("H", "/", ""), host: "h", target: "/fixed?a=1&b=2", variant: "mobile|x"},
		{name: "pieces from the input and elsewhere", key: func(r *Request, k *KeyBuilder) error {
			k.Host(r.Host())
			k.Host([]byte(".Sub"))
			k.Path(r.Path())
			k.PathString("/More")
			k.Variant(r.Query())
			k.VariantString("|v")
			k.Param(Param{Raw: []byte("z=1"), Name: []byte("z")})
			k.Query(r.Query(), nil)
			k.SortParams()
			return nil
		}, req: req("H", "/p", "b=2"), host: "h.sub", target: "/p/More?b=2&z=1", variant: "b=2|v"},
		{name: "scratch grows", key: func(r *Request, k *KeyBuilder) error {
			k.Host(r.Host())
			k.PathString("/" + strings.Repeat("p", 10000))
			k.AddParam([]byte(strings.Repeat("n", 5000)), []byte("v"))
			return nil
		}, req: req("H", "/", ""), host: "h", target: "/" + strings.Repeat("p", 10000) + "?" + strings.Repeat("n", 5000) + "=v"},
		{name: "path before host", key: func(r *Request, k *KeyBuilder) error {
			k.Path(r.Path())
			k.Host(r.Host())
			k.PathString("/x")
			k.Host([]byte(".Y"))
			return nil
		}, req: req("H", "/p", ""), host: "h.y", target: "/p/x"},
		{name: "filter: exact, prefix, long, empty name", key: func(r *Request, k *KeyBuilder) error {
			k.Query(r.Query(), NewParamFilter("x", "ab*", "session_identifier", "long_prefix_*", ""))
			return nil
		}, req: req("h", "/", "x=1&xy=2&ab&abc=3&a=4&session_identifier=5&session_identifie=6&long_prefix_z=7&long_prefix=8&=9&y"),
			host: "", target: "/?xy=2&a=4&session_identifie=6&long_prefix=8&y"},
		{name: "filter: short query tail", key: func(r *Request, k *KeyBuilder) error {
			k.Query(r.Query(), NewParamFilter("ab", "c*"))
			return nil
		}, req: req("h", "/", "ab&abc&cd"), target: "/?abc"},
		{name: "bypass", key: func(r *Request, k *KeyBuilder) error { k.Host(r.Host()); k.Bypass(); return nil }, req: req("h", "/", ""), bypass: true},
		{name: "policy error", key: func(*Request, *KeyBuilder) error { return errors.New("no") }, req: req("h", "/", ""), fails: true},
		{name: "bad host", req: req("a@b", "/", ""), fails: true},
		{name: "host with space", req: req("a b", "/", ""), fails: true},
		{name: "relative path", req: req("h", "x", ""), fails: true},
		{name: "path with space", req: req("h", "/a b", ""), fails: true},
		{name: "path with hash after 8 bytes", req: req("h", "/abcdefghij#", ""), fails: true},
		{name: "path with DEL", req: req("h", "/abcdefghijklmnop\x7f", ""), fails: true},
		{name: "query with control", req: req("h", "/", "a=\x01"), fails: true},
		{name: "utf-8 path", req: req("h", "/caf\xc3\xa9/long-enough", ""), host: "h", target: "/caf\xc3\xa9/long-enough"},
		{name: "too many params", req: req("h", "/", strings.Repeat("a=1&", MaxParams+1)), fails: true},
		{name: "max params", req: req("h", "/", strings.Repeat("a&", MaxParams)), host: "h", target: "/?" + strings.TrimSuffix(strings.Repeat("a&", MaxParams), "&")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gs := testGuest(t, Policy{Key: tt.key})
			// Twice: the second call must not see the first one's state.
			for range 2 {
				k, ok := callKey(t, gs, &tt.req)
				if !ok {
					if !tt.fails {
						t.Fatalf("Key(%s %s?%s) failed", tt.req.Host, tt.req.Path, tt.req.Query)
					}
					continue
				}
				if tt.fails {
					t.Fatalf("Key(%s %s?%s) = %+v, want failure", tt.req.Host, tt.req.Path, tt.req.Query, k)
				}
				if k.Bypass != tt.bypass || string(k.Host) != tt.host || string(k.Target) != tt.target || string(k.Variant) != tt.variant {
					t.Fatalf("Key(%s %s?%s) = {%v %q %q %q}, want {%v %q %q %q}", tt.req.Host, tt.req.Path, tt.req.Query,
						k.Bypass, k.Host, k.Target, k.Variant, tt.bypass, tt.host, tt.target, tt.variant)
				}
			}
		})
	}
}

// TestSWAR checks finishKey's host and target checks (word at a time, in
// Go or in the assembly) against byte-by-byte references, for every byte
// value at every position of short and long inputs.
func TestSWAR(t *testing.T) {
	t.Parallel()
	k := newKeyBuilder()
	// finishHost finishes a key whose host is h (and target "/"), and
	// returns whether it was accepted and the host as finishKey left it.
	finishHost := func(h []byte) (bool, string) {
		k.reset()
		k.out = append(append(k.out, h...), '/')
		k.hostLen = len(h)
		_, err := k.finish()
		return err == nil, string(k.out[abi.KeyHeaderSize : abi.KeyHeaderSize+len(h)])
	}
	finishTarget := func(b []byte) bool {
		k.reset()
		k.out = append(k.out, b...)
		_, err := k.finish()
		return err == nil
	}
	for n := 1; n <= 19; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("/", n))
				b[pos] = byte(c)
				wantTarget := pos == 0 && c == '/' || pos > 0 && c > ' ' && c != 0x7f && c != '#'
				if got := finishTarget(b); got != wantTarget {
					t.Fatalf("target %q accepted: %v, want %v", b, got, wantTarget)
				}
				h := []byte(strings.Repeat("a", n))
				h[pos] = byte(c)
				wantHost := c > ' ' && c != 0x7f && c != '#' && c != '/' && c != '?' && c != '@'
				wantLower := strings.ToLower(string(h))
				if c >= 0x80 {
					wantLower = string(h) // ASCII only
				}
				if got, lower := finishHost(h); got != wantHost || lower != wantLower {
					t.Fatalf("host %q: accepted %v, lower-cased %q; want %v %q", h, got, lower, wantHost, wantLower)
				}
			}
		}
	}
}
