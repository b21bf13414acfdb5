package normalizeas

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowcache/flowcache/examples/internal/policytest"
	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// module builds assembly/index.ts with build.sh (npm ci, then asc), once
// per test binary.
func module(t testing.TB) []byte {
	t.Helper()
	return policytest.BuildScript(t, 5*time.Minute, asTools, "./build.sh")
}

// asTools are what build.sh needs: node and npm (npm ci installs asc).
var asTools = []string{"node", "npm"}

func request(host, path, query string, headers ...string) *policy.Request {
	r := &policy.Request{Method: []byte("GET"), Scheme: []byte("http"), Host: []byte(host), Path: []byte(path), Query: []byte(query), Route: []byte("r")}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, policy.Header{Name: []byte(headers[i]), Value: []byte(headers[i+1])})
	}
	return r
}

func readConfig(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// TestVectors runs testdata/vectors.json, the file `flowcache policy test`
// takes, through the gateway's host (plugins.RunVectors, the runner behind
// that command): the vectors of the Go normalize example.
func TestVectors(t *testing.T) {
	t.Parallel()
	policytest.RunVectors(t, policytest.Load(t, module(t), nil), policytest.VectorsFile)
}

// TestDropConfig runs the vectors of a "drop" configuration.
func TestDropConfig(t *testing.T) {
	t.Parallel()
	m := policytest.Load(t, module(t), readConfig(t, "testdata/drop-config.json"))
	policytest.RunVectors(t, m, "testdata/drop-vectors.json")
}

// TestBadConfig checks that the configurations the Go version refuses are
// refused, with the reason (flowcache_error).
func TestBadConfig(t *testing.T) {
	t.Parallel()
	policytest.CheckBadConfigs(t, module(t), policytest.NormalizeBadConfigs)
}

// TestTestdataIsNormalizes checks that testdata holds copies of the Go
// example's files: the two modules must behave the same.
func TestTestdataIsNormalizes(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"vectors.json", "drop-config.json", "drop-vectors.json"} {
		mine, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := os.ReadFile(filepath.Join("..", "normalize", "testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mine, theirs) {
			t.Errorf("testdata/%s differs from ../normalize/testdata/%s: copy it", f, f)
		}
	}
}

// TestNormalizeAS_Key checks the edges the vectors do not: failures, the
// empty path, the trailing dot.
func TestNormalizeAS_Key(t *testing.T) {
	t.Parallel()
	m := policytest.Load(t, module(t), nil)
	tests := []struct {
		name                 string
		req                  *policy.Request
		fails                bool
		wantHost, wantTarget string
	}{
		{name: "look-alikes kept", req: request("h", "/", "fbclid2=1&gclids=2&utm=3&UTM_x=4"), wantHost: "h", wantTarget: "/?UTM_x=4&fbclid2=1&gclids=2&utm=3"},
		{name: "prefix sorts first", req: request("h", "/", "ab=1&a=2&a-=3"), wantHost: "h", wantTarget: "/?a=2&a-=3&ab=1"},
		{name: "empty path", req: request("H.", "", ""), wantHost: "h", wantTarget: "/"},
		{name: "empty path with a query", req: request("h", "", "b&a"), wantHost: "h", wantTarget: "/?a&b"},
		{name: "64 parameters", req: request("h", "/", strings.Repeat("a&", 64)), wantHost: "h", wantTarget: "/?" + strings.Repeat("a&", 63) + "a"},
		{name: "65 parameters", req: request("h", "/", strings.Repeat("a&", 65)), fails: true},
		{name: "65 with one dropped", req: request("h", "/", strings.Repeat("a&", 64)+"utm_x"), wantHost: "h", wantTarget: "/?" + strings.Repeat("a&", 63) + "a"},
		{name: "bad host", req: request("a@b", "/", ""), fails: true},
		{name: "bad target", req: request("h", "/a b", ""), fails: true},
		{name: "key over 32 KiB", req: request("h", "/"+strings.Repeat("p", 32768), ""), fails: true},
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
		if k.Bypass || string(k.Host) != tt.wantHost || string(k.Target) != tt.wantTarget || len(k.Variant) != 0 {
			t.Errorf("%s: Key = {%v %q %q %q}, want {%q %q}", tt.name, k.Bypass, k.Host, k.Target, k.Variant, tt.wantHost, tt.wantTarget)
		}
	}
	if s := m.Stats(); s.InstancesDiscarded != 0 {
		t.Errorf("instances discarded: %+v (a malformed result or a trap)", s)
	}
}

// TestNormalizeAS_SameAsGo compares the AssemblyScript module with the Go module of
// examples/normalize on random requests, with the default configuration
// and with a "drop" list.
func TestNormalizeAS_SameAsGo(t *testing.T) {
	t.Parallel()
	for _, config := range []map[string]any{nil, readConfig(t, "testdata/drop-config.json")} {
		policytest.SameKeys(t, policytest.Load(t, module(t), config),
			policytest.Load(t, policytest.Build(t, "../normalize"), config), 2000)
	}
}

// TestNormalizeAS_NoGrowth checks that the module allocates nothing per
// call: with --runtime stub, which never frees, a policy that allocated
// would grow until its memory limit and trap. Under a 256 KiB limit (the
// module's 128 KiB and the input buffer), 20,000 calls must all succeed on
// one instance.
func TestNormalizeAS_NoGrowth(t *testing.T) {
	t.Parallel()
	cfg := plugins.DefaultConfig()
	cfg.MaxMemory = 256 << 10
	m := policytest.LoadConfig(t, module(t), &cfg)
	r := request("Example.COM", "/p", "utm_source=x&b=2&a=1&c=3")
	for i := range 20000 {
		var k policy.Key
		if err := m.Key(r, &k); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if s := m.Stats(); s.InstancesDiscarded != 0 || s.Failures() != 0 {
		t.Errorf("stats %+v: want no failure", s)
	}
}
