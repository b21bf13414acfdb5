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

func TestNormalizeWAT_Key(t *testing.T) {
	t.Parallel()
	m := policytest.Load(t, normalizeWasm, nil)
	policytest.CheckKeys(t, m, []policytest.KeyCase{
		{Name: "tracking dropped, sorted", Req: policytest.Request("Example.COM", "/p", "utm_source=x&b=2&a=1"), WantHost: "example.com", WantTarget: "/p?a=1&b=2"},
		{Name: "same key", Req: policytest.Request("example.com", "/p", "a=1&b=2"), WantHost: "example.com", WantTarget: "/p?a=1&b=2"},
		{Name: "only tracking", Req: policytest.Request("example.com", "/p", "utm_medium=m&fbclid=f&gclid=g"), WantHost: "example.com", WantTarget: "/p"},
		{Name: "look-alikes kept", Req: policytest.Request("h", "/", "fbclid2=1&gclids=2&utm=3&UTM_x=4"), WantHost: "h", WantTarget: "/?UTM_x=4&fbclid2=1&gclids=2&utm=3"},
		{Name: "stable", Req: policytest.Request("h", "/s", "id=2&a=&id=1&flag"), WantHost: "h", WantTarget: "/s?a=&flag&id=2&id=1"},
		{Name: "prefix sorts first", Req: policytest.Request("h", "/", "ab=1&a=2&a-=3"), WantHost: "h", WantTarget: "/?a=2&a-=3&ab=1"},
		{Name: "empty params", Req: policytest.Request("h", "/s", "&&b=1&&a&"), WantHost: "h", WantTarget: "/s?a&b=1"},
		{Name: "empty path", Req: policytest.Request("h.", "", ""), WantHost: "h", WantTarget: "/"},
		{Name: "cookie bypasses", Req: policytest.Request("h", "/", "", "Cookie", "a=1"), Bypass: true},
		{Name: "authorization bypasses", Req: policytest.Request("h", "/", "", "Authorization", "x"), Bypass: true},
		{Name: "undeclared header ignored", Req: policytest.Request("h", "/", "", "User-Agent", "x"), WantHost: "h", WantTarget: "/"},
		{Name: "bad host", Req: policytest.Request("a@b", "/", ""), Fails: true},
		{Name: "bad target", Req: policytest.Request("h", "/a b", ""), Fails: true},
		{Name: "too many params", Req: policytest.Request("h", "/", strings.Repeat("a&", 65)), Fails: true},
	})
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
		r := policytest.Request(pick([]string{"Example.COM", "h", "x.y.", "A1-B2.test"}), pick([]string{"/", "", "/p", "/A/b%20c"}), strings.Join(q, "&"))
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
