package policytest

import (
	"testing"
	"time"

	"github.com/flowcache/flowcache/policy"
)

// sdkRequest is a GET of host, path and query with header fields (name,
// value, ...).
func sdkRequest(host, path, query string, headers ...string) *policy.Request {
	r := &policy.Request{Method: []byte("GET"), Scheme: []byte("http"), Host: []byte(host), Path: []byte(path), Query: []byte(query), Route: []byte("r")}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, policy.Header{Name: []byte(headers[i]), Value: []byte(headers[i+1])})
	}
	return r
}

// CheckSDKPolicy checks p against the behaviour of the SDK check policies
// (wasm/c/testdata/sdkcheck.c, wasm/assemblyscript/testdata/sdkcheck.ts)
// configured with {"ttl_ms": 5000, "tier": 2, "name": "cfg"}: what their
// example policies do not reach in each SDK (header lookup in any case, a
// parameter's name and value, method, scheme and route, the configuration
// reader, the decide view and a decision written over the default).
func CheckSDKPolicy(t *testing.T, p policy.Policy) {
	t.Helper()
	r := sdkRequest("Example.COM", "/p", "b=2&&a&c=x=y&d=", "Accept", "*/*", "x-KEY-host", "Other.Host.")
	r.Method, r.Scheme, r.Route = []byte("HEAD"), []byte("https"), []byte("api")
	var k policy.Key
	if err := p.Key(r, &k); err != nil {
		t.Fatalf("Key: %v", err)
	}
	if string(k.Host) != "other.host" || string(k.Target) != "/p?b=2&a&c=x=y&d=" || string(k.Variant) != "HEAD|https|api|cfg|2" {
		t.Errorf("Key = {%q %q %q}, want {other.host /p?b=2&a&c=x=y&d= HEAD|https|api|cfg|2}", k.Host, k.Target, k.Variant)
	}
	k.Reset()
	if err := p.Key(sdkRequest("h", "/", "", "X-Bypass", "1"), &k); err != nil || !k.Bypass {
		t.Errorf("Key with X-Bypass = %+v, %v; want a bypass", k, err)
	}

	resp := &policy.Response{
		Status: 200, BodySize: 100, Now: time.UnixMilli(1_700_000_000_123),
		Headers: policy.Headers{
			{Name: []byte("Cache-Control"), Value: []byte("max-age=30, must-revalidate")},
			{Name: []byte("X-Policy-TTL"), Value: []byte("1")},
		},
	}
	var d policy.Decision
	req := sdkRequest("h", "/p", "")
	if err := (policy.Default{}).Decide(req, resp, &d); err != nil {
		t.Fatal(err)
	}
	if err := p.Decide(req, resp, &d); err != nil {
		t.Fatalf("Decide: %v", err)
	}
	want := policy.Decision{
		Store: true, Admit: true, MustRevalidate: true, Tier: policy.TierL2,
		TTL: 5100 * time.Millisecond, StaleWhileRevalidate: 123 * time.Millisecond, StaleIfError: 30 * time.Second,
	}
	if d != want {
		t.Errorf("Decide = %+v,\nwant %+v", d, want)
	}

	// A request field in the decide blob: not stored.
	req = sdkRequest("h", "/p", "", "x-no-store", "1")
	d = policy.Decision{}
	if err := (policy.Default{}).Decide(req, resp, &d); err != nil {
		t.Fatal(err)
	}
	if err := p.Decide(req, resp, &d); err != nil || d.Store {
		t.Errorf("Decide with X-No-Store = %+v, %v; want not stored", d, err)
	}

	// Neither: the default decision, unchanged.
	resp.Headers = resp.Headers[:1]
	req = sdkRequest("h", "/p", "")
	var dflt policy.Decision
	if err := (policy.Default{}).Decide(req, resp, &dflt); err != nil {
		t.Fatal(err)
	}
	d = dflt
	if err := p.Decide(req, resp, &d); err != nil || d != dflt {
		t.Errorf("Decide without X-Policy-TTL = %+v, %v; want the default %+v", d, err, dflt)
	}
}
