package gateway

import "testing"

func TestSameHostTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref, path, query string
		ok               bool
	}{
		{ref: "/a?q=1", path: "/a", query: "q=1", ok: true},
		{ref: "/a#frag", path: "/a", ok: true},
		{ref: "a", path: "/dir/a", ok: true},
		{ref: "../a", path: "/a", ok: true},
		{ref: "./x/../y?z", path: "/dir/y", query: "z", ok: true},
		{ref: "/dir/%7Ea//b", path: "/dir/~a/b", ok: true},
		{ref: "http://example.test/p", path: "/p", ok: true},
		{ref: "https://EXAMPLE.test.:8443/p?q", path: "/p", query: "q", ok: true},
		{ref: "http://example.test", path: "/", ok: true},
		{ref: "http://other.test/p"},
		{ref: "//example.test/p"},
		{ref: "ftp://example.test/p"},
		{ref: "http://user@example.test/p", path: "/p", ok: true}, // userinfo is not the host
		{ref: "/a/..%2f/b"},
		{ref: ""},
		{ref: "#frag"},
	}
	for _, tt := range tests {
		path, query, ok := sameHostTarget([]byte(tt.ref), []byte("example.test"), []byte("/dir/c"))
		if ok != tt.ok || string(path) != tt.path || string(query) != tt.query {
			t.Errorf("sameHostTarget(%q) = %q, %q, %v; want %q, %q, %v", tt.ref, path, query, ok, tt.path, tt.query, tt.ok)
		}
	}
}

// FuzzSameHostTarget: whatever a Location or Content-Location holds,
// sameHostTarget does not panic, and what it follows is an origin-form
// path already in normal form (the form keys are made of).
func FuzzSameHostTarget(f *testing.F) {
	for _, s := range []string{"/a?q", "a", "../../a", "http://example.test", "HTTP://Example.Test.:80/x/..//y#f", "//x/y", "/%2e%2e/a", "mailto:x@example.test", "http://[::1]/p"} {
		f.Add(s, "/dir/c")
	}
	f.Fuzz(func(t *testing.T, ref, base string) {
		if len(base) == 0 || base[0] != '/' {
			return // the base is a request path: normalised, origin-form
		}
		path, _, ok := sameHostTarget([]byte(ref), []byte("example.test"), []byte(base))
		if !ok {
			return
		}
		again, err := normalPath(nil, path)
		if err != nil || string(again) != string(path) {
			t.Fatalf("sameHostTarget(%q, base %q) = path %q, not normal (%q, %v)", ref, base, path, again, err)
		}
	})
}
