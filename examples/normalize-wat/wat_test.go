package normalizewat

import (
	"bytes"
	_ "embed"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
	"github.com/flowcache/flowcache/policy"
)

// normalizeWasm is built from normalize.wat by
//
//	wat2wasm -o normalize.wasm normalize.wat
//
//go:embed normalize.wasm
var normalizeWasm []byte

func request(host, path, query string, headers ...string) *policy.Request {
	r := &policy.Request{Method: []byte("GET"), Scheme: []byte("http"), Host: []byte(host), Path: []byte(path), Query: []byte(query), Route: []byte("r")}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, policy.Header{Name: []byte(headers[i]), Value: []byte(headers[i+1])})
	}
	return r
}

func TestNormalizeWAT_Key(t *testing.T) {
	t.Parallel()
	m := policytest.Load(t, normalizeWasm, nil)
	tests := []struct {
		name                 string
		req                  *policy.Request
		bypass, fails        bool
		wantHost, wantTarget string
	}{
		{name: "tracking dropped, sorted", req: request("Example.COM", "/p", "utm_source=x&b=2&a=1"), wantHost: "example.com", wantTarget: "/p?a=1&b=2"},
		{name: "same key", req: request("example.com", "/p", "a=1&b=2"), wantHost: "example.com", wantTarget: "/p?a=1&b=2"},
		{name: "only tracking", req: request("example.com", "/p", "utm_medium=m&fbclid=f&gclid=g"), wantHost: "example.com", wantTarget: "/p"},
		{name: "look-alikes kept", req: request("h", "/", "fbclid2=1&gclids=2&utm=3&UTM_x=4"), wantHost: "h", wantTarget: "/?UTM_x=4&fbclid2=1&gclids=2&utm=3"},
		{name: "stable", req: request("h", "/s", "id=2&a=&id=1&flag"), wantHost: "h", wantTarget: "/s?a=&flag&id=2&id=1"},
		{name: "prefix sorts first", req: request("h", "/", "ab=1&a=2&a-=3"), wantHost: "h", wantTarget: "/?a=2&a-=3&ab=1"},
		{name: "empty params", req: request("h", "/s", "&&b=1&&a&"), wantHost: "h", wantTarget: "/s?a&b=1"},
		{name: "empty path", req: request("h.", "", ""), wantHost: "h", wantTarget: "/"},
		{name: "cookie bypasses", req: request("h", "/", "", "Cookie", "a=1"), bypass: true},
		{name: "authorization bypasses", req: request("h", "/", "", "Authorization", "x"), bypass: true},
		{name: "undeclared header ignored", req: request("h", "/", "", "User-Agent", "x"), wantHost: "h", wantTarget: "/"},
		{name: "bad host", req: request("a@b", "/", ""), fails: true},
		{name: "bad target", req: request("h", "/a b", ""), fails: true},
		{name: "too many params", req: request("h", "/", strings.Repeat("a&", 65)), fails: true},
	}
	for _, tt := range tests {
		var k policy.Key
		err := m.Key(tt.req, &k)
		if tt.fails {
			if err == nil {
				t.Errorf("%s: Key = %+v, want an error", tt.name, k)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Key: %v", tt.name, err)
			continue
		}
		if k.Bypass != tt.bypass || string(k.Host) != tt.wantHost || string(k.Target) != tt.wantTarget || len(k.Variant) != 0 {
			t.Errorf("%s: Key(%s %s?%s) = {%v %q %q %q}, want {%v %q %q}", tt.name, tt.req.Host, tt.req.Path, tt.req.Query,
				k.Bypass, k.Host, k.Target, k.Variant, tt.bypass, tt.wantHost, tt.wantTarget)
		}
	}
	if s := m.Stats(); s.InstancesDiscarded != 0 {
		t.Errorf("instances discarded: %+v (a malformed result or a trap)", s)
	}
}

// TestNormalizeWAT_SameAsGo compares the WAT module with the Go module of
// examples/normalize on random requests: the ABI gives both the same
// meaning.
func TestNormalizeWAT_SameAsGo(t *testing.T) {
	t.Parallel()
	wat := policytest.Load(t, normalizeWasm, nil)
	goMod := policytest.Load(t, policytest.Build(t, "../normalize"), nil)
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "B", "ab", "utm_source", "utm_", "fbclid", "gclid", "gcl", "page", "id", "", "a-b", "z"}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	for i := range 2000 {
		q := make([]string, 0, 8)
		for range rng.IntN(8) {
			p := pick(names)
			switch rng.IntN(3) {
			case 0:
				p += "=" + pick(names)
			case 1:
				p += "="
			}
			q = append(q, p)
		}
		r := request(pick([]string{"Example.COM", "h", "x.y.", "A1-B2.test"}), pick([]string{"/", "", "/p", "/A/b%20c"}), strings.Join(q, "&"))
		if rng.IntN(10) == 0 {
			r.Headers = policy.Headers{{Name: []byte("Cookie"), Value: []byte("a")}}
		}
		var kw, kg policy.Key
		ew, eg := wat.Key(r, &kw), goMod.Key(r, &kg)
		if (ew == nil) != (eg == nil) || !kw.Equal(&kg) {
			t.Fatalf("request %d (%s %s?%s): WAT {%v %q %q} %v, Go {%v %q %q} %v", i, r.Host, r.Path, r.Query,
				kw.Bypass, kw.Host, kw.Target, ew, kg.Bypass, kg.Host, kg.Target, eg)
		}
	}
}

// TestNormalizeWAT_Committed checks that normalize.wasm is built from the
// committed normalize.wat.
func TestNormalizeWAT_Committed(t *testing.T) {
	t.Parallel()
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm (wabt) not installed")
	}
	out := filepath.Join(t.TempDir(), "normalize.wasm")
	if msg, err := exec.Command(wat2wasm, "-o", out, "normalize.wat").CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, normalizeWasm) {
		t.Error("normalize.wasm is stale: run wat2wasm -o normalize.wasm normalize.wat")
	}
}
