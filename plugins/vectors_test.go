package plugins

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// minimalVectors hold for testdata/minimal.wat: host and target kept,
// variant = x-device, bypass unless GET/HEAD, store 60s on a 200.
const minimalVectors = `[
 {"name": "plain", "request": {"host": "example.com", "path": "/a", "query": "b=1"},
  "key": {"host": "example.com", "target": "/a?b=1"}},
 {"name": "device", "request": {"host": "example.com", "path": "/a", "headers": {"X-Device": "mobile", "Accept": "*/*"}},
  "key": {"host": "example.com", "target": "/a", "variant": "mobile"}},
 {"name": "post bypasses", "request": {"method": "POST", "host": "example.com", "path": "/a"}, "key": "bypass"},
 {"name": "200 is kept a minute", "request": {"host": "example.com", "path": "/a"},
  "response": {"status": 200, "headers": {"Cache-Control": "no-store"}, "body_size": 10},
  "decision": {"store": true, "admit": true, "ttl": "1m", "tier": "both"}},
 {"name": "404 keeps the default", "request": {"host": "example.com", "path": "/a"},
  "response": {"status": 404, "headers": {"Cache-Control": "max-age=5, stale-if-error=30"}},
  "decision": {"store": true, "ttl": 5000, "sie": "30s", "must_revalidate": false}}
]`

func TestRunVectors_minimal(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Options{})
	m := mustLoad(t, rt, "minimal", minimalWasm, nil)
	vs, err := ParseVectors("minimal.json", []byte(minimalVectors))
	if err != nil {
		t.Fatal(err)
	}
	rs := RunVectors(m, vs)
	if n := VectorsFailed(rs); n != 0 {
		for i := range rs {
			t.Error(rs[i].String())
		}
		t.Fatalf("VectorsFailed = %d, want 0", n)
	}
	if got := rs[0].String(); got != `case 0 "plain": ok` {
		t.Errorf("String() = %q", got)
	}
}

func TestRunVectors_diff(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Options{})
	m := mustLoad(t, rt, "minimal", minimalWasm, nil)
	vs, err := ParseVectors("v.json", []byte(`[
 {"name": "wrong target", "request": {"host": "example.com", "path": "/a", "query": "utm_source=x"},
  "key": {"host": "example.com", "target": "/a", "variant": "v"}},
 {"name": "wrong bypass", "request": {"host": "example.com", "path": "/a"}, "key": "bypass"},
 {"name": "guest error", "request": {"host": "example.com", "path": "/!x"}, "key": {"host": "example.com", "target": "/!x"}},
 {"name": "wrong decision", "request": {"host": "example.com", "path": "/a"},
  "response": {"status": 200}, "decision": {"ttl": "2m", "tier": "l2", "store": true}}
]`))
	if err != nil {
		t.Fatal(err)
	}
	rs := RunVectors(m, vs)
	want := []string{
		"case 0 \"wrong target\":\n    key.target: want \"/a\", got \"/a?utm_source=x\"\n    key.variant: want \"v\", got \"\"",
		"case 1 \"wrong bypass\":\n    key: want bypass, got {host \"example.com\", target \"/a\", variant \"\"}",
		"case 2 \"guest error\":\n    key: want {host \"example.com\", target \"/!x\", variant \"\"}, got error: plugins: policy \"minimal\": key: guest error: key returned -1",
		"case 3 \"wrong decision\":\n    decision.tier: want \"l2\", got \"both\"\n    decision.ttl: want 2m0s, got 1m0s",
	}
	if VectorsFailed(rs) != len(want) {
		t.Errorf("VectorsFailed = %d, want %d", VectorsFailed(rs), len(want))
	}
	for i := range rs {
		if got := rs[i].String(); got != want[i] {
			t.Errorf("result %d:\n%s\nwant\n%s", i, got, want[i])
		}
	}
	if !errors.Is(rs[2].KeyErr, ErrGuest) {
		t.Errorf("KeyErr = %v, want ErrGuest", rs[2].KeyErr)
	}
}

func TestParseVectors_errors(t *testing.T) {
	t.Parallel()
	const req = `"request": {"host": "h", "path": "/"}`
	tests := []struct{ name, in, want string }{
		{"not json", `[{`, `f.json: JSON: unexpected end of input`},
		{"object", `{}`, `f.json: want a JSON array of vectors, got an object`},
		{"trailing", `[] []`, `f.json: JSON: data after the array`},
		{"case not object", `[1]`, `f.json: case 0: want an object, got a number`},
		{"unknown field", `[{"name": "x", ` + req + `, "key": "bypass", "keys": 1}]`, `f.json: case 0 "x": keys: unknown field`},
		{"duplicate member", `[{"name": "x", "name": "y"}]`, `f.json: JSON at byte 21: duplicate member "name"`},
		{"no name", `[{` + req + `, "key": "bypass"}]`, `f.json: case 0: name: required`},
		{"empty name", `[{"name": " ", ` + req + `, "key": "bypass"}]`, `f.json: case 0 " ": name: empty`},
		{"duplicate name", `[{"name": "x", ` + req + `, "key": "bypass"}, {"name": "x", ` + req + `, "key": "bypass"}]`, `f.json: case 1 "x": name: duplicate of case 0`},
		{"no request", `[{"name": "x", "key": "bypass"}]`, `f.json: case 0 "x": request: required`},
		{"nothing expected", `[{"name": "x", ` + req + `}]`, `f.json: case 0 "x": want a key, a decision or both`},
		{"decision without response", `[{"name": "x", ` + req + `, "decision": {"store": true}}]`, `f.json: case 0 "x": response: required with decision (decide needs a response)`},
		{"response without decision", `[{"name": "x", ` + req + `, "key": "bypass", "response": {}}]`, `f.json: case 0 "x": decision: required with response (what should the policy decide?)`},
		{"no host", `[{"name": "x", "request": {"path": "/"}, "key": "bypass"}]`, `f.json: case 0 "x": request.host: required`},
		{"bad host", `[{"name": "x", "request": {"host": "a b", "path": "/"}, "key": "bypass"}]`, `f.json: case 0 "x": request.host: "a b" is not a host name or IP literal with an optional port`},
		{"bad port", `[{"name": "x", "request": {"host": "a.com:8x", "path": "/"}, "key": "bypass"}]`, `f.json: case 0 "x": request.host: "a.com:8x": bad port`},
		{"only a dot", `[{"name": "x", "request": {"host": ".", "path": "/"}, "key": "bypass"}]`, `f.json: case 0 "x": request.host: empty`},
		{"no path", `[{"name": "x", "request": {"host": "h"}, "key": "bypass"}]`, `f.json: case 0 "x": request.path: required`},
		{"path with query", `[{"name": "x", "request": {"host": "h", "path": "/a?b"}, "key": "bypass"}]`, `f.json: case 0 "x": request.path: "/a?b": want an origin-form path: starting with "/", without query, fragment, space or control characters`},
		{"query with ?", `[{"name": "x", "request": {"host": "h", "path": "/", "query": "?a"}, "key": "bypass"}]`, `f.json: case 0 "x": request.query: "?a": want the raw query without the leading "?", fragment, space or control characters`},
		{"scheme", `[{"name": "x", "request": {"host": "h", "path": "/", "scheme": "ftp"}, "key": "bypass"}]`, `f.json: case 0 "x": request.scheme: want "http" or "https", got "ftp"`},
		{"method type", `[{"name": "x", "request": {"host": "h", "path": "/", "method": 1}, "key": "bypass"}]`, `f.json: case 0 "x": request.method: want a string, got a number`},
		{"header value type", `[{"name": "x", "request": {"host": "h", "path": "/", "headers": {"A": ["b"]}}, "key": "bypass"}]`, `f.json: case 0 "x": request.headers["A"]: want a string, got an array`},
		{"header repeated", `[{"name": "x", "request": {"host": "h", "path": "/", "headers": {"A": "1", "a": "2"}}, "key": "bypass"}]`, `f.json: case 0 "x": request.headers["a"]: repeats "A" (write a list in one value)`},
		{"header name", `[{"name": "x", "request": {"host": "h", "path": "/", "headers": {"A B": "1"}}, "key": "bypass"}]`, `f.json: case 0 "x": request.headers["A B"]: not a valid header field name`},
		{"header CRLF", `[{"name": "x", "request": {"host": "h", "path": "/", "headers": {"A": "1\r\nB: 2"}}, "key": "bypass"}]`, `f.json: case 0 "x": request.headers["A"]: value holds CR, LF or NUL`},
		{"host header differs", `[{"name": "x", "request": {"host": "h", "path": "/", "headers": {"Host": "i"}}, "key": "bypass"}]`, `f.json: case 0 "x": request.headers["Host"]: "i" differs from request.host "h" (the gateway keys the Host it forwards)`},
		{"key string", `[{"name": "x", ` + req + `, "key": "pass"}]`, `f.json: case 0 "x": key: want an object or "bypass", got "pass"`},
		{"key no host", `[{"name": "x", ` + req + `, "key": {"target": "/"}}]`, `f.json: case 0 "x": key.host: required (or write "key": "bypass")`},
		{"key target", `[{"name": "x", ` + req + `, "key": {"host": "h", "target": "a"}}]`, `f.json: case 0 "x": key.target: "a": a key target starts with "/"`},
		{"key unknown", `[{"name": "x", ` + req + `, "key": {"host": "h", "target": "/", "bypass": true}}]`, `f.json: case 0 "x": key.bypass: unknown field`},
		{"status", `[{"name": "x", ` + req + `, "response": {"status": 99}, "decision": {"store": true}}]`, `f.json: case 0 "x": response.status: want an integer from 100 to 999, got 99`},
		{"status float", `[{"name": "x", ` + req + `, "response": {"status": 200.5}, "decision": {"store": true}}]`, `f.json: case 0 "x": response.status: want an integer from 100 to 999, got 200.5`},
		{"body size", `[{"name": "x", ` + req + `, "response": {"body_size": -2}, "decision": {"store": true}}]`, `f.json: case 0 "x": response.body_size: want an integer from -1 to 9007199254740992, got -2`},
		{"empty decision", `[{"name": "x", ` + req + `, "response": {}, "decision": {}}]`, `f.json: case 0 "x": decision: empty: name at least one field to compare`},
		{"ttl words", `[{"name": "x", ` + req + `, "response": {}, "decision": {"ttl": "1 minute"}}]`, `f.json: case 0 "x": decision.ttl: want a duration like "90s" or a number of milliseconds, got "1 minute"`},
		{"ttl negative", `[{"name": "x", ` + req + `, "response": {}, "decision": {"swr": -1}}]`, `f.json: case 0 "x": decision.swr: want an integer from 0 to 4611686018427, got -1`},
		{"ttl sub-ms", `[{"name": "x", ` + req + `, "response": {}, "decision": {"sie": "1.5ms"}}]`, `f.json: case 0 "x": decision.sie: "1.5ms" is not a whole number of milliseconds (the ABI's unit)`},
		{"tier", `[{"name": "x", ` + req + `, "response": {}, "decision": {"tier": "l3"}}]`, `f.json: case 0 "x": decision.tier: want "both", "l1" or "l2", got "l3"`},
		{"store type", `[{"name": "x", ` + req + `, "response": {}, "decision": {"store": "yes"}}]`, `f.json: case 0 "x": decision.store: want true or false, got a string`},
		{"decision unknown", `[{"name": "x", ` + req + `, "response": {}, "decision": {"stale_if_error": 1}}]`, `f.json: case 0 "x": decision.stale_if_error: unknown field`},
		{"deep", strings.Repeat("[", 20) + strings.Repeat("]", 20), `f.json: JSON at byte 17: nested deeper than 16`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseVectors("f.json", []byte(tt.in))
			if err == nil {
				t.Fatalf("ParseVectors(%s) = nil error, want %q", tt.in, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseVectors(%s) =\n%v\nwant\n%s", tt.in, err, tt.want)
			}
			if !errors.Is(err, ErrVectors) {
				t.Errorf("error %v does not wrap ErrVectors", err)
			}
		})
	}
}

func TestParseVectors_defaults(t *testing.T) {
	t.Parallel()
	vs, err := ParseVectors("f.json", []byte(`[{"name": "x", "request": {"host": "H.example.:8080", "path": "/p", "headers": {"B": "2", "A": "1"}},
	  "response": {"headers": {"Date": "Tue, 14 Nov 2023 22:13:20 GMT"}}, "decision": {"ttl": 1500}}]`))
	if err != nil {
		t.Fatal(err)
	}
	v := vs[0]
	r := v.Request.PolicyRequest()
	if string(r.Method) != "GET" || string(r.Scheme) != "https" || string(r.Host) != "h.example" || len(r.Headers) != 3 ||
		string(r.Headers[0].Name) != "Host" || string(r.Headers[0].Value) != "H.example.:8080" ||
		string(r.Headers[1].Name) != "B" || string(r.Headers[2].Name) != "A" {
		t.Errorf("PolicyRequest = %+v, want GET https h.example, Host as given then B, A", r)
	}
	for in, want := range map[string]string{"[::1]:443": "[::1]", "[::1]": "[::1]", "a.b.": "a.b", "A_b~c": "a_b~c"} {
		p := vectorParser{}
		if got := p.normalHost("h", in); got != want || p.err != nil {
			t.Errorf("normalHost(%q) = %q, %v; want %q", in, got, p.err, want)
		}
	}
	resp := v.Response.PolicyResponse()
	if resp.Status != 200 || !resp.Now.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("PolicyResponse = status %d now %v, want 200 at the Date", resp.Status, resp.Now)
	}
	if v.Key != nil || *v.Decision.TTL != 1500*time.Millisecond {
		t.Errorf("Key = %v, TTL = %v", v.Key, *v.Decision.TTL)
	}
}

// FuzzParseVectors: any input parses or fails with a *VectorsError; a
// parsed vector satisfies the documented invariants.
func FuzzParseVectors(f *testing.F) {
	f.Add([]byte(minimalVectors))
	f.Add([]byte(`[{"name": "x", "request": {"host": "h", "path": "/"}, "key": "bypass"}]`))
	f.Add([]byte(`[{"name":"x","request":{"host":"h","path":"/","headers":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8","i":"9","a":"0"}},"key":"bypass"}]`))
	f.Add([]byte(`[[[[{"a":null}]]]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		vs, err := ParseVectors("f", data)
		if err != nil {
			var ve *VectorsError
			if !errors.As(err, &ve) || !errors.Is(err, ErrVectors) {
				t.Fatalf("error %v is not a *VectorsError", err)
			}
			return
		}
		for _, v := range vs {
			if v.Name == "" || v.Request.Host == "" || !strings.HasPrefix(v.Request.Path, "/") ||
				(v.Key == nil && v.Decision == nil) || (v.Decision == nil) != (v.Response == nil) {
				t.Fatalf("invalid vector accepted: %+v", v)
			}
			if v.Key != nil && !v.Key.Bypass && !strings.HasPrefix(v.Key.Target, "/") {
				t.Fatalf("invalid key accepted: %+v", v.Key)
			}
			_ = v.Request.PolicyRequest() // must not panic
		}
	})
}
