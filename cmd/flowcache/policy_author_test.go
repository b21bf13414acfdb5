package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// normalizeWAT is the WAT normalize example, with its vectors.
const (
	normalizeWAT     = "../../examples/normalize-wat/normalize.wasm"
	normalizeVectors = "../../examples/normalize-wat/testdata/vectors.json"
)

func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(t.Context(), args, &out, &errb)
	return out.String() + errb.String(), err
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func Test_run_policyTest(t *testing.T) {
	t.Parallel()
	out, err := cli(t, "policy", "test", normalizeWAT, normalizeVectors)
	if err != nil || !strings.HasPrefix(out, "PASS "+normalizeVectors+": 11 vectors") {
		t.Errorf("policy test (passing) = %v, %q", err, out)
	}
	failing := writeFile(t, "v.json", `[
 {"name": "ok", "request": {"host": "h", "path": "/p", "query": "b=1&a=2"}, "key": {"host": "h", "target": "/p?a=2&b=1"}},
 {"name": "wrong", "request": {"host": "h", "path": "/p", "query": "utm_source=x"}, "key": {"host": "h", "target": "/p?utm_source=x"}}
]`)
	out, err = cli(t, "policy", "test", "-v", normalizeWAT, failing)
	want := `ok   case 0 "ok": ok
FAIL case 1 "wrong":
    key.target: want "/p?utm_source=x", got "/p"
FAIL ` + failing + `: 1 of 2 vectors failed (` + normalizeWAT + ")\n"
	if err == nil || out != want {
		t.Errorf("policy test (failing) = %v,\n%s\nwant\n%s", err, out, want)
	}
	bad := writeFile(t, "bad.json", `[{"name": "x", "request": {"host": "H", "path": "p"}, "key": "bypass"}]`)
	if _, err := cli(t, "policy", "test", normalizeWAT, bad); err == nil || !strings.Contains(err.Error(), `bad.json: case 0 "x": request.path: "p": want an origin-form path`) {
		t.Errorf("policy test (bad vectors) = %v", err)
	}
	if _, err := cli(t, "policy", "test", "-config", "[1]", normalizeWAT, normalizeVectors); err == nil || !strings.Contains(err.Error(), "-config: want a JSON object") {
		t.Errorf("policy test -config [1] = %v", err)
	}
	if _, err := cli(t, "policy", "test", normalizeVectors, normalizeVectors); err == nil || !strings.Contains(err.Error(), "malformed module") {
		t.Errorf("policy test on a JSON file as module = %v", err)
	}
}

func Test_run_policyBench(t *testing.T) {
	t.Parallel()
	out, err := cli(t, "policy", "bench", "-n", "1000", normalizeWAT, normalizeVectors)
	if err != nil {
		t.Fatalf("policy bench = %v\n%s", err, out)
	}
	for _, want := range []string{"11 requests from vectors.json", "key    wasm", "key  native", "decide    wasm", "instances ", "wasm/native at p50: key "} {
		if !strings.Contains(out, want) {
			t.Errorf("policy bench output lacks %q:\n%s", want, out)
		}
	}
	if _, err := cli(t, "policy", "bench", "-n", "5", normalizeWAT); err == nil {
		t.Error("policy bench -n 5 succeeded")
	}
}

func Test_run_policyReplay(t *testing.T) {
	t.Parallel()
	log := writeFile(t, "access.log", `{"time":"2026-12-04T18:40:00.123Z","client":"192.0.2.1","method":"GET","host":"example.com","target":"/p?utm_source=x&b=2&a=1","status":200,"bytes":512,"duration":0.000081,"upstream_duration":null,"cache":"MISS","route":"api","policy":"default"}
192.0.2.1 - - [04/Dec/2026:18:40:00 +0000] "GET /p?a=1&b=2 HTTP/1.1" 200 512 "-" "curl/8.5.0" host=example.com cache=HIT route=api policy=default duration=0.000081 upstream_duration=-
192.0.2.1 - - [04/Dec/2026:18:40:00 +0000] "POST /p HTTP/1.1" 200 5 "-" "curl/8.5.0" host=example.com cache=- route=api policy=default duration=0.000081 upstream_duration=-
10.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326
10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "\x16\x03" 400 0 "-" "-"
`)
	out, err := cli(t, "policy", "replay", "-host", "www.example.com", normalizeWAT, "-against", "testdata/policies/tagged.wasm", log)
	if err != nil {
		t.Fatalf("policy replay = %v\n%s", err, out)
	}
	for _, want := range []string{
		"5 lines, 4 requests, 1 not GET/HEAD (not keyed), 1 lines skipped (first: line 5: no request line",
		"normalize " + normalizeWAT + ": 2 distinct keys from 3 keyed requests (0 bypassed, 0 errors); an infinite cache would hit 33.3% (1)",
		"default   native default policy: 3 distinct keys from 3 keyed requests",
		"differ    3 of 3 GET and HEAD requests (100.0%)",
		`normalize: host "example.com" target "/p?a=1&b=2" variant ""`,
		`tagged:    host "example.com" target "/p?tag=v0000000" variant ""`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("policy replay output lacks %q:\n%s", want, out)
		}
	}
	if _, err := cli(t, "policy", "replay", normalizeWAT, writeFile(t, "empty.log", "garbage\n")); err == nil || !strings.Contains(err.Error(), "no request in 1 lines") {
		t.Errorf("policy replay of garbage = %v", err)
	}
}

func TestParseAccessLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     logEntry
		err      string
	}{
		{"json", `{"method":"GET","host":"a.com","target":"/x?y=1","status":200,"route":"api"}`, logEntry{Method: "GET", Host: "a.com", Target: "/x?y=1", Route: "api", Status: 200}, ""},
		{"json no route", `{"method":"HEAD","host":"a.com","target":"/","route":"-"}`, logEntry{Method: "HEAD", Host: "a.com", Target: "/"}, ""},
		{"combined", `1.2.3.4 - - [04/Dec/2026:18:40:00 +0000] "GET /a\x20b HTTP/1.1" 304 - "https://r/" "Mozilla \"x\"" host=h.com cache=HIT route=r1`,
			logEntry{Method: "GET", Host: "h.com", Target: "/a b", Route: "r1", Status: 304, Referer: "https://r/", UserAgent: `Mozilla "x"`}, ""},
		{"common", `1.2.3.4 - u [10/Oct/2000:13:55:36 -0700] "GET /x HTTP/1.0" 200 2326`, logEntry{Method: "GET", Target: "/x", Status: 200}, ""},
		{"absolute", `1.2.3.4 - - [t] "GET http://Proxy.example:8080?q=1 HTTP/1.1" 200 1`, logEntry{Method: "GET", Host: "Proxy.example:8080", Target: "/?q=1", Status: 200}, ""},
		{"empty", "  \r\n", logEntry{}, "empty line"},
		{"no time", `1.2.3.4 - - "GET / HTTP/1.1" 200 1`, logEntry{}, "no [time]"},
		{"tls garbage", `1.2.3.4 - - [t] "\x16\x03\x01" 400 0 "-" "-"`, logEntry{}, "no request line"},
		{"asterisk", `1.2.3.4 - - [t] "OPTIONS * HTTP/1.1" 200 0`, logEntry{}, `target "*" is not origin-form`},
		{"bad json", `{"method":`, logEntry{}, "JSON line"},
	}
	for _, tt := range tests {
		got, err := parseAccessLine([]byte(tt.in))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: parseAccessLine(%q) = %+v, %v; want error %q", tt.name, tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: parseAccessLine(%q) = %+v, %v; want %+v", tt.name, tt.in, got, err, tt.want)
		}
	}
}

// FuzzParseAccessLine: any line parses or fails without panicking; a
// parsed line has a token method and an origin-form target.
func FuzzParseAccessLine(f *testing.F) {
	f.Add([]byte(`{"method":"GET","host":"a.com","target":"/x?y=1","status":200,"route":"api"}`))
	f.Add([]byte(`1.2.3.4 - - [04/Dec/2026:18:40:00 +0000] "GET /a\x20b HTTP/1.1" 304 - "https://r/" "Mozilla \"x\"" host=h.com cache=HIT route=r1`))
	f.Add([]byte(`1.2.3.4 - - [t] "GET https://h?x HTTP/1.1" 200 1`))
	f.Add([]byte(`[] "\`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := parseAccessLine(line)
		if err != nil {
			return
		}
		if !isToken(e.Method) || !strings.HasPrefix(e.Target, "/") || strings.Contains(e.Target, "#") {
			t.Fatalf("parseAccessLine(%q) = %+v", line, e)
		}
	})
}

func Test_run_policyKey(t *testing.T) {
	t.Parallel()
	_, _, admin := servePolicies(t, "")
	adminURL := "http://" + admin
	out, err := cli(t, "policy", "key", "-admin", adminURL, "tagged", "https://Example.COM/a/../p?x=1", "-H", "User-Agent: t", "-R", "Cache-Control: max-age=5")
	if err != nil {
		t.Fatalf("policy key = %v\n%s", err, out)
	}
	for _, want := range []string{
		"policy    tagged version ", ", route api\n",
		"request   GET https://example.com/p?x=1\n",
		`key       host "example.com" target "/p?tag=v0000000" variant ""`,
		"response  200, body 0 bytes\n",
		"decision  store=true admit=true tier=both ttl=1m0s swr=0s sie=0s must_revalidate=false no_cache=false\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("policy key output lacks %q:\n%s", want, out)
		}
	}
	out, err = cli(t, "policy", "key", "-admin", adminURL, "-json", "tagged", "http://h/")
	if err != nil || !strings.HasPrefix(out, `{"policy":"tagged","version":"`) {
		t.Errorf("policy key -json = %v, %q", err, out)
	}
	for _, tt := range []struct{ args []string }{
		{[]string{"nope", "http://h/"}},
		{[]string{"tagged", "/relative"}},
		{[]string{"-version", "ffffffff", "tagged", "http://h/"}},
		{[]string{"-H", "no colon", "tagged", "http://h/"}},
	} {
		if out, err := cli(t, append([]string{"policy", "key", "-admin", adminURL}, tt.args...)...); err == nil {
			t.Errorf("policy key %q succeeded: %s", tt.args, out)
		}
	}
}

// Test_run_policyTest_fromConfig: -c and -policy take the limits of a
// [policies.NAME] section (here a fuel budget too small for a key call),
// and -fuel overrides it.
func Test_run_policyTest_fromConfig(t *testing.T) {
	t.Parallel()
	cfg := writeFile(t, "config.toml", `[[routes]]
name = "api"
upstreams = ["http://127.0.0.1:9"]
policy = "n"
[policies.n]
module = "n.wasm"
fuel = 40
`)
	out, err := cli(t, "policy", "test", "-c", cfg, "-policy", "n", normalizeWAT, normalizeVectors)
	if err == nil || !strings.Contains(out, "got error: plugins: policy \"normalize\": key: fuel exhausted (budget 40 units") {
		t.Errorf("policy test with fuel = 40: %v\n%s", err, out)
	}
	out, err = cli(t, "policy", "test", "-c", cfg, "-policy", "n", "-fuel", "2000000", normalizeWAT, normalizeVectors)
	if err != nil || !strings.HasPrefix(out, "PASS ") {
		t.Errorf("policy test with -fuel 2000000: %v\n%s", err, out)
	}
	if _, err := cli(t, "policy", "test", "-policy", "n", normalizeWAT, normalizeVectors); err == nil || err.Error() != "-c and -policy go together" {
		t.Errorf("-policy without -c = %v", err)
	}
	if _, err := cli(t, "policy", "test", "-c", cfg, "-policy", "m", normalizeWAT, normalizeVectors); err == nil || !strings.Contains(err.Error(), "has no [policies.m]") {
		t.Errorf("-policy m = %v", err)
	}
}

// Test_run_policyPush_guestMessage: an upload whose flowcache_init refuses
// its config is answered 422 with the module's own message (through
// flowcache_error), which policy push prints.
func Test_run_policyPush_guestMessage(t *testing.T) {
	t.Parallel()
	_, _, admin := servePolicies(t, "")
	_, err := cli(t, "policy", "push", "-admin", "http://"+admin, "-config", `{"rules": 1}`, "tagged", "testdata/policyload/initmsg.wasm")
	want := `422 Unprocessable Entity: plugins: policy "tagged": initialisation failed: flowcache_init: rules[0].ttl: "1 minute" is not a duration; rules[2]: unknown key "tll" (code 7)`
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("policy push = %v, want ...%s", err, want)
	}
}
