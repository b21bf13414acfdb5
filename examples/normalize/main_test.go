//go:build !wasip1

package main

import (
	"context"
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
	"github.com/flowcache/flowcache/policy"
)

// hosts returns the module loaded in the gateway's host (plugins) and in
// the independent test host, by name.
func hosts(t testing.TB) map[string]policy.Policy {
	t.Helper()
	wasm := policytest.Build(t, ".")
	h, err := policytest.NewHost(context.Background(), wasm, "")
	if err != nil {
		t.Fatalf("NewHost: %v", err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) }) // a test host: nothing to report
	return map[string]policy.Policy{"plugins": policytest.Load(t, wasm, nil), "abi": h}
}

func request(host, path, query string, headers ...string) *policy.Request {
	r := &policy.Request{Method: []byte("GET"), Scheme: []byte("http"), Host: []byte(host), Path: []byte(path), Query: []byte(query), Route: []byte("r")}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, policy.Header{Name: []byte(headers[i]), Value: []byte(headers[i+1])})
	}
	return r
}

func TestNormalize_Key(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		req                  *policy.Request
		bypass               bool
		wantHost, wantTarget string
	}{
		{"tracking dropped, sorted", request("Example.COM", "/p", "utm_source=x&b=2&a=1"), false, "example.com", "/p?a=1&b=2"},
		{"already normal", request("example.com", "/p", "a=1&b=2"), false, "example.com", "/p?a=1&b=2"},
		{"only tracking", request("example.com", "/p", "utm_medium=m&fbclid=f&gclid=g"), false, "example.com", "/p"},
		{"no query", request("example.com", "/", ""), false, "example.com", "/"},
		{"stable for repeated names", request("example.com", "/s", "id=2&a=&id=1&flag"), false, "example.com", "/s?a=&flag&id=2&id=1"},
		{"empty params dropped", request("example.com", "/s", "&&b=1&&a&"), false, "example.com", "/s?a&b=1"},
		{"utm without underscore kept", request("example.com", "/s", "utmx=1"), false, "example.com", "/s?utmx=1"},
		{"trailing dot", request("example.com.", "/", ""), false, "example.com", "/"},
		{"cookie bypasses", request("example.com", "/", "", "Cookie", "sid=1"), true, "", ""},
		{"authorization bypasses", request("example.com", "/", "", "authorization", "Bearer x"), true, "", ""},
		{"other headers ignored", request("example.com", "/", "", "User-Agent", "x"), false, "example.com", "/"},
	}
	for host, p := range hosts(t) {
		for _, tt := range tests {
			var k policy.Key
			if err := p.Key(tt.req, &k); err != nil {
				t.Errorf("%s: %s: Key: %v", host, tt.name, err)
				continue
			}
			if k.Bypass != tt.bypass || string(k.Host) != tt.wantHost || string(k.Target) != tt.wantTarget || len(k.Variant) != 0 {
				t.Errorf("%s: %s: Key(%s %s?%s) = {bypass %v %q %q %q}, want {bypass %v %q %q}", host, tt.name,
					tt.req.Host, tt.req.Path, tt.req.Query, k.Bypass, k.Host, k.Target, k.Variant, tt.bypass, tt.wantHost, tt.wantTarget)
			}
		}
	}
}
