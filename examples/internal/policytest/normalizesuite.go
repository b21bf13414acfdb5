package policytest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// Request returns a GET request for host, path and query through route "r",
// with headers given as name, value pairs.
func Request(host, path, query string, headers ...string) *policy.Request {
	r := &policy.Request{Method: []byte("GET"), Scheme: []byte("http"), Host: []byte(host), Path: []byte(path), Query: []byte(query), Route: []byte("r")}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, policy.Header{Name: []byte(headers[i]), Value: []byte(headers[i+1])})
	}
	return r
}

// ReadConfig reads a JSON policy configuration file.
func ReadConfig(t testing.TB, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path) //nolint:gosec // G304: a test's own testdata file
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// The files every version of the normalize policy shares, relative to its
// example's directory: examples/normalize's, copied by the others.
const (
	DropConfigFile  = "testdata/drop-config.json"
	DropVectorsFile = "testdata/drop-vectors.json"
)

// CheckNormalize holds a port of the normalize policy (examples/normalize-c,
// examples/normalize-as) to the Go version's behaviour: its vectors with
// and without a "drop" list, the configurations it refuses, testdata that
// is a copy of the Go example's, the edges the vectors do not cover, and
// the same keys as the Go module on random requests. module returns the
// port's bytes (built once per test binary).
func CheckNormalize(t *testing.T, module func(testing.TB) []byte) {
	t.Run("vectors", func(t *testing.T) {
		t.Parallel()
		RunVectors(t, Load(t, module(t), nil), VectorsFile)
	})
	t.Run("drop config", func(t *testing.T) {
		t.Parallel()
		RunVectors(t, Load(t, module(t), ReadConfig(t, DropConfigFile)), DropVectorsFile)
	})
	t.Run("bad config", func(t *testing.T) {
		t.Parallel()
		CheckBadConfigs(t, module(t), NormalizeBadConfigs)
	})
	t.Run("testdata is normalize's", func(t *testing.T) {
		t.Parallel()
		for _, f := range []string{VectorsFile, DropConfigFile, DropVectorsFile} {
			mine, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := os.ReadFile(filepath.Join("..", "normalize", f))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mine, theirs) {
				t.Errorf("%s differs from ../normalize/%s: copy it", f, f)
			}
		}
	})
	t.Run("key edges", func(t *testing.T) {
		t.Parallel()
		checkNormalizeEdges(t, Load(t, module(t), nil))
	})
	t.Run("same as Go", func(t *testing.T) {
		t.Parallel()
		for _, config := range []map[string]any{nil, ReadConfig(t, DropConfigFile)} {
			SameKeys(t, Load(t, module(t), config), Load(t, Build(t, "../normalize"), config), 2000)
		}
	})
}

// KeyCase is a request and the key a policy must give it: a bypass, a
// failed call, or a host and target with no variant.
type KeyCase struct {
	Name                 string
	Req                  *policy.Request
	Bypass, Fails        bool
	WantHost, WantTarget string
}

// CheckKeys runs each case's request through m's key function, then checks
// that no instance was discarded (a malformed result or a trap).
func CheckKeys(t *testing.T, m *plugins.Module, cases []KeyCase) {
	t.Helper()
	for _, tt := range cases {
		var k policy.Key
		err := m.Key(tt.Req, &k)
		if tt.Fails {
			if err == nil {
				t.Errorf("%s: Key = %+v, want an error", tt.Name, k)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Key: %v", tt.Name, err)
			continue
		}
		if k.Bypass != tt.Bypass || string(k.Host) != tt.WantHost || string(k.Target) != tt.WantTarget || len(k.Variant) != 0 {
			t.Errorf("%s: Key(%s %s?%s) = {%v %q %q %q}, want {%v %q %q}", tt.Name, tt.Req.Host, tt.Req.Path, tt.Req.Query,
				k.Bypass, k.Host, k.Target, k.Variant, tt.Bypass, tt.WantHost, tt.WantTarget)
		}
	}
	if s := m.Stats(); s.InstancesDiscarded != 0 {
		t.Errorf("instances discarded: %+v (a malformed result or a trap)", s)
	}
}

// checkNormalizeEdges checks the edges the vectors do not: failures, the
// empty path, the trailing dot, the parameter limit.
func checkNormalizeEdges(t *testing.T, m *plugins.Module) {
	CheckKeys(t, m, []KeyCase{
		{Name: "look-alikes kept", Req: Request("h", "/", "fbclid2=1&gclids=2&utm=3&UTM_x=4"), WantHost: "h", WantTarget: "/?UTM_x=4&fbclid2=1&gclids=2&utm=3"},
		{Name: "prefix sorts first", Req: Request("h", "/", "ab=1&a=2&a-=3"), WantHost: "h", WantTarget: "/?a=2&a-=3&ab=1"},
		{Name: "empty path", Req: Request("H.", "", ""), WantHost: "h", WantTarget: "/"},
		{Name: "empty path with a query", Req: Request("h", "", "b&a"), WantHost: "h", WantTarget: "/?a&b"},
		{Name: "64 parameters", Req: Request("h", "/", strings.Repeat("a&", 64)), WantHost: "h", WantTarget: "/?" + strings.Repeat("a&", 63) + "a"},
		{Name: "65 parameters", Req: Request("h", "/", strings.Repeat("a&", 65)), Fails: true},
		{Name: "65 with one dropped", Req: Request("h", "/", strings.Repeat("a&", 64)+"utm_x"), WantHost: "h", WantTarget: "/?" + strings.Repeat("a&", 63) + "a"},
		{Name: "bad host", Req: Request("a@b", "/", ""), Fails: true},
		{Name: "bad target", Req: Request("h", "/a b", ""), Fails: true},
		{Name: "key over 32 KiB", Req: Request("h", "/"+strings.Repeat("p", 32768), ""), Fails: true},
	})
}

// CheckNormalizeGateway runs a normalize module in a real gateway: tracking
// parameters and parameter order do not split the cache, and the origin
// receives the normalised target.
func CheckNormalizeGateway(t *testing.T, wasm []byte) {
	t.Helper()
	g, origin := StartGateway(t, wasm, nil, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBody(ctx.RequestURI())
	})
	for i, path := range []string{"/p?utm_source=x&b=2&a=1", "/p?a=1&b=2", "/p?gclid=1&b=2&a=1"} {
		resp := g.Do(t, "GET", path, "Host: Example.TEST")
		want := map[bool]string{true: "MISS", false: "HIT"}[i == 0]
		if resp.Status != 200 || resp.Get("X-Cache") != want || string(resp.Body) != "/p?a=1&b=2" {
			t.Errorf("GET %s = %d, X-Cache %q, origin saw %q; want 200, %s, /p?a=1&b=2", path, resp.Status, resp.Get("X-Cache"), resp.Body, want)
		}
	}
	if n := origin.Requests(); n != 1 {
		t.Errorf("origin requests = %d, want 1", n)
	}
}
