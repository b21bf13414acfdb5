package plugins

import (
	"bytes"
	"errors"
	"testing"

	"github.com/flowcache/flowcache/policy"
)

// FuzzModule_Key sends arbitrary requests through the WAT policy: the host
// must never panic, and whatever it returns must be a valid key or a
// *CallError the gateway can fall back on.
func FuzzModule_Key(f *testing.F) {
	rt := newTestRuntime(f, Options{})
	m := mustLoad(f, rt, "minimal", minimalWasm, nil)
	f.Add([]byte("GET"), []byte("Example.COM"), []byte("/a/b"), []byte("x=1"), []byte("X-Device"), []byte("mobile"))
	f.Add([]byte("GET"), []byte("h"), []byte("/!"), []byte(""), []byte("x-device"), []byte(""))
	f.Add([]byte("HEAD"), []byte("h"), []byte("/a b\r\n"), []byte("#"), []byte("Cookie"), []byte("a"))
	f.Fuzz(func(t *testing.T, method, host, path, query, hname, hvalue []byte) {
		r := &policy.Request{
			Method: method, Scheme: []byte("https"), Host: host, Path: path, Query: query,
			Headers: policy.Headers{{Name: hname, Value: hvalue}},
		}
		var k policy.Key
		err := m.Key(r, &k)
		if err != nil {
			var ce *CallError
			if !errors.As(err, &ce) || (!errors.Is(err, ErrResult) && !errors.Is(err, ErrGuest)) {
				t.Fatalf("Key = %v, want a result or guest *CallError", err)
			}
			return
		}
		if k.Bypass {
			return
		}
		if len(k.Target) == 0 || k.Target[0] != '/' || bytes.ContainsAny(k.Target, "\r\n #") {
			t.Fatalf("Key target %q is not a safe origin-form target", k.Target)
		}
		if !bytes.HasPrefix(k.Target, path) {
			t.Fatalf("Key target %q does not start with the path %q", k.Target, path)
		}
	})
}
