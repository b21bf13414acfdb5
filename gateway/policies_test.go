package gateway_test

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
	"github.com/flowcache/flowcache/plugins"
)

// Test policies, built from testdata/policies/*.wat (each file has its
// command):
//
//go:generate sh -c "cd testdata/policies && for f in *.wat; do wat2wasm $f -o ${f%.wat}.wasm; done"
var (
	//go:embed testdata/policies/tagged.wasm
	taggedWasm []byte
	//go:embed testdata/policies/version.wasm
	versionWasm []byte
	//go:embed testdata/policies/noexport.wasm
	noexportWasm []byte
	//go:embed testdata/policies/mistyped.wasm
	mistypedWasm []byte
	//go:embed testdata/policies/fsimport.wasm
	fsimportWasm []byte
	//go:embed testdata/policies/hugemem.wasm
	hugememWasm []byte
	//go:embed testdata/policies/trap.wasm
	trapWasm []byte
	//go:embed testdata/policies/loop.wasm
	loopWasm []byte
)

// tagged returns tagged.wasm with tag (8 bytes, e.g. "v0000003") in its
// key: a distinct version per tag.
func tagged(t testing.TB, tag string) []byte {
	t.Helper()
	if len(tag) != 8 || bytes.Count(taggedWasm, []byte("v0000000")) != 1 {
		t.Fatalf("tagged(%q): bad tag or module", tag)
	}
	return bytes.Replace(taggedWasm, []byte("v0000000"), []byte(tag), 1)
}

func tagName(i int) string { return fmt.Sprintf("v%07d", i) }

// echoOrigin answers 200 with the request's tag query value as body,
// cacheable for a minute.
func echoOrigin(t testing.TB) *gatewaytest.Origin {
	return gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBody(ctx.QueryArgs().Peek("tag"))
	})
}

// policyGateway is a gateway with a policy store, on loopback.
type policyGateway struct {
	*gatewaytest.Gateway
	store *plugins.Store
	rt    *plugins.Runtime
}

// writeModule writes wasm into dir and returns its path.
func writeModule(t testing.TB, dir, name string, wasm []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, wasm, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// policyConfig is a config with route "api" using policy "tagged" whose
// module is module.
func policyConfig(upstream, module string) *gateway.Config {
	cfg := gatewaytest.Config(upstream)
	cfg.Routes[0].Policy = "tagged"
	pc := plugins.DefaultConfig()
	pc.Module = module
	cfg.Policies = map[string]plugins.Config{"tagged": pc}
	return cfg
}

// openStore builds a runtime and a store on dataDir ("" for memory) and
// loads cfg's policies; both are closed in t.Cleanup (after the gateway,
// when started later).
func openStore(t testing.TB, cfg *gateway.Config, dataDir string) (*plugins.Runtime, *plugins.Store) {
	t.Helper()
	rt, err := plugins.NewRuntime(plugins.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := ""
	if dataDir != "" {
		dir = filepath.Join(dataDir, "policies")
	}
	store, err := plugins.OpenStore(rt, plugins.StoreOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		store.Close()
		if err := rt.Close(context.Background()); err != nil {
			t.Errorf("Runtime.Close: %v", err)
		}
	})
	ch, err := store.Prepare(context.Background(), cfg.Policies)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if err := ch.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return rt, store
}

func startPolicyGateway(t testing.TB, cfg *gateway.Config, dataDir string, opts gateway.Options) *policyGateway {
	t.Helper()
	rt, store := openStore(t, cfg, dataDir)
	opts.Store = store
	return &policyGateway{Gateway: gatewaytest.StartGateway(t, cfg, opts), store: store, rt: rt}
}

// admin sends method path with body to the admin listener (loopback, no
// token) with the Content-Type the CLI sends, and returns status and body.
func (g *policyGateway) admin(t testing.TB, method, path string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, "http://"+g.AdminAddr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	// What the CLI sends (the admin API's CSRF rule needs a media type).
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
		if bytes.HasPrefix(body, []byte("\x00asm")) {
			req.Header.Set("Content-Type", "application/wasm")
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

type putResult struct {
	Name, Version, Previous string
}

func (g *policyGateway) put(t testing.TB, name string, wasm []byte) putResult {
	t.Helper()
	status, body := g.admin(t, http.MethodPut, "/policies/"+name, wasm)
	if status != http.StatusCreated {
		t.Fatalf("PUT /policies/%s = %d %s, want 201", name, status, body)
	}
	var r putResult
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

type policyInfo struct {
	Name       string
	Active     string
	Previous   string
	Activation uint64
	Configured bool
	Versions   []struct{ ID, Source string }
	Routes     []string
	Calls      uint64
	Errors     uint64
}

func (g *policyGateway) info(t testing.TB, name string) policyInfo {
	t.Helper()
	status, body := g.admin(t, http.MethodGet, "/policies/"+name, nil)
	if status != http.StatusOK {
		t.Fatalf("GET /policies/%s = %d %s", name, status, body)
	}
	var in policyInfo
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	return in
}

// TestPolicies_SwapUnderLoad: 20 clients for 5s while 20 versions are
// uploaded one after the other, then a rollback. Every answer is a 200
// whose body (the tag the origin saw in the key's target, possibly from
// the cache) is the tag of the version named in Flowcache-Policy: no
// request fails, and no version serves an entry stored under another.
func TestPolicies_SwapUnderLoad(t *testing.T) {
	t.Parallel()
	origin := echoOrigin(t)
	dir := t.TempDir()
	cfg := policyConfig(origin.URL, writeModule(t, dir, "tagged.wasm", tagged(t, tagName(0))))
	g := startPolicyGateway(t, cfg, "", gateway.Options{})

	var (
		mu    sync.Mutex
		tagOf = map[string]string{} // Flowcache-Policy label -> tag
	)
	in := g.info(t, "tagged")
	tagOf["tagged@"+in.Active[:12]] = tagName(0)

	duration := 5 * time.Second
	if testing.Short() {
		duration = time.Second
	}
	type answer struct {
		status      int
		label, body string
	}
	const clients = 20
	answers := make([][]answer, clients)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			hc := &fasthttp.HostClient{Addr: g.Addr}
			var req fasthttp.Request
			var resp fasthttp.Response
			for i := 0; !stop.Load(); i++ {
				req.Reset()
				resp.Reset()
				req.SetRequestURI(fmt.Sprintf("/item/%d?x=%d", i%7, c))
				req.Header.SetHost("example.test")
				if err := hc.Do(&req, &resp); err != nil {
					answers[c] = append(answers[c], answer{status: -1, body: err.Error()})
					continue
				}
				answers[c] = append(answers[c], answer{resp.StatusCode(), string(resp.Header.Peek("Flowcache-Policy")), string(resp.Body())})
			}
		})
	}
	const versions = 20
	pace := duration / (versions + 2)
	var last putResult
	for i := 1; i <= versions; i++ {
		time.Sleep(pace) // pacing the uploads over the run, not an assertion
		last = g.put(t, "tagged", tagged(t, tagName(i)))
		mu.Lock()
		tagOf["tagged@"+last.Version[:12]] = tagName(i)
		mu.Unlock()
	}
	time.Sleep(pace) // load between the last upload and the rollback: the subject, not a wait
	status, body := g.admin(t, http.MethodPost, "/policies/tagged/rollback", nil)
	if status != http.StatusOK || !strings.Contains(body, `"version":"`+last.Previous+`"`) {
		t.Errorf("rollback = %d %s, want 200 to %s", status, body, last.Previous)
	}
	time.Sleep(pace) // load after the rollback, as above
	stop.Store(true)
	wg.Wait()

	total, wrong, perLabel := 0, 0, map[string]int{}
	for c := range answers {
		for _, a := range answers[c] {
			total++
			want, ok := tagOf[a.label]
			if a.status != 200 || !ok || a.body != want {
				if wrong++; wrong > 10 {
					continue
				}
				t.Errorf("client %d: status %d, Flowcache-Policy %q (tag %q), body %q", c, a.status, a.label, want, a.body)
				continue
			}
			perLabel[a.label]++
		}
	}
	if total == 0 || wrong > 0 {
		t.Fatalf("%d of %d answers wrong", wrong, total)
	}
	t.Logf("%d answers from %d versions (%v)", total, len(perLabel), perLabel)
	if got := g.Metric(t, `flowcache_policy_fallbacks_total{route="api"}`); got != 0 {
		t.Errorf("policy fallbacks = %v, want 0 (a request saw a closed or missing module)", got)
	}
	if in := g.info(t, "tagged"); in.Active != last.Previous || in.Errors != 0 {
		t.Errorf("after rollback: active %s errors %d, want %s and 0", in.Active, in.Errors, last.Previous)
	}
}

// TestPolicies_Rejected: every reason an upload is refused, with its status
// and message; GET /policies is unchanged after each.
func TestPolicies_Rejected(t *testing.T) {
	t.Parallel()
	origin := echoOrigin(t)
	dir := t.TempDir()
	cfg := policyConfig(origin.URL, writeModule(t, dir, "tagged.wasm", tagged(t, tagName(0))))
	pc := cfg.Policies["tagged"]
	pc.MaxModuleSize = 4 << 10
	pc.Fuel = 100_000
	cfg.Policies["tagged"] = pc
	g := startPolicyGateway(t, cfg, "", gateway.Options{})
	g.put(t, "tagged", tagged(t, tagName(1))) // so that a previous version exists

	wrap := func(module []byte, config string) []byte {
		return []byte(`{"module":"` + base64.StdEncoding.EncodeToString(module) + `","config":` + config + `}`)
	}
	tests := []struct {
		name   string
		path   string
		body   []byte
		status int
		msg    string
	}{
		{"not WebAssembly", "/policies/tagged", []byte("hello, world"), 400, "malformed module"},
		{"truncated", "/policies/tagged", taggedWasm[:40], 400, "malformed module"},
		{"empty", "/policies/tagged", nil, 400, "empty module"},
		{"bad JSON wrapper", "/policies/tagged", []byte(`{"module": 12}`), 400, "JSON wrapper"},
		{"config not an object", "/policies/tagged?config=%5B1%5D", tagged(t, tagName(2)), 400, "config must be a JSON object"},
		{"wrapper config not an object", "/policies/tagged", wrap(tagged(t, tagName(2)), `"x"`), 400, "config must be a JSON object"},
		{"too large", "/policies/tagged", append(tagged(t, tagName(2)), make([]byte, 5<<10)...), 413, "module too large"},
		{"wrong ABI version", "/policies/tagged", versionWasm, 422, "unsupported ABI version: flowcache_abi_version returned 2"},
		{"missing export", "/policies/tagged", noexportWasm, 422, "bad export: missing export flowcache_decide"},
		{"mistyped export", "/policies/tagged", mistypedWasm, 422, "bad export: export flowcache_key is"},
		{"forbidden import", "/policies/tagged", fsimportWasm, 422, "forbidden import: function wasi_snapshot_preview1.path_open"},
		{"memory over the limit", "/policies/tagged", hugememWasm, 422, "memory limit: minimum memory 40000 pages"},
		{"trap in the dry run", "/policies/tagged", trapWasm, 422, "dry run failed: key: trap"},
		{"fuel overrun in the dry run", "/policies/tagged", loopWasm, 422, "dry run failed: key: fuel exhausted"},
		{"invalid name", "/policies/Bad-Name", tagged(t, tagName(2)), 400, "invalid policy name"},
		{"rollback to an unknown version", "/policies/tagged/rollback", []byte(`{"version":"abcdef0123"}`), 404, "not found"},
		{"rollback of an unknown policy", "/policies/nope/rollback", nil, 404, "not found"},
		{"delete while a route uses it", "/policies/tagged", nil, 409, "used by routes api"},
	}
	// The policies as the API shows them, without the instance counters,
	// which move by themselves (the pool drops idle instances at GC).
	policies := func() string {
		_, body := g.admin(t, http.MethodGet, "/policies", nil)
		var v struct{ Policies []map[string]any }
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("GET /policies: %v: %s", err, body)
		}
		for _, p := range v.Policies {
			delete(p, "stats")
		}
		b, err := json.Marshal(v.Policies)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	before := policies()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodPut
			switch {
			case strings.HasSuffix(tt.path, "/rollback"):
				method = http.MethodPost
			case tt.status == 409:
				method = http.MethodDelete
			}
			status, body := g.admin(t, method, tt.path, tt.body)
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
				t.Errorf("%s %s: body %q is not {\"error\": ...}", method, tt.path, body)
			}
			if status != tt.status || !strings.Contains(e.Error, tt.msg) {
				t.Errorf("%s %s = %d %q, want %d and a message containing %q", method, tt.path, status, e.Error, tt.status, tt.msg)
			}
			if after := policies(); after != before {
				t.Errorf("GET /policies changed:\n%s\nwant:\n%s", after, before)
			}
		})
	}
}

// TestPolicies_Upload: the JSON wrapper and ?config= forms, the unchanged
// re-upload, rollback to a version by prefix, DELETE of an unused policy,
// and the precedence of an uploaded config over the section's.
func TestPolicies_Upload(t *testing.T) {
	t.Parallel()
	origin := echoOrigin(t)
	dir := t.TempDir()
	cfg := policyConfig(origin.URL, writeModule(t, dir, "tagged.wasm", tagged(t, tagName(0))))
	g := startPolicyGateway(t, cfg, "", gateway.Options{})
	v0 := g.info(t, "tagged").Active

	wrapped := []byte(`{"module":"` + base64.StdEncoding.EncodeToString(tagged(t, tagName(1))) + `","config":{"a":1}}`)
	status, body := g.admin(t, http.MethodPut, "/policies/tagged", wrapped)
	if status != 201 || !strings.Contains(body, `"previous":"`+v0+`"`) {
		t.Fatalf("PUT wrapper = %d %s", status, body)
	}
	if status, body := g.admin(t, http.MethodPut, "/policies/tagged", wrapped); status != 200 {
		t.Errorf("same upload again = %d %s, want 200 (unchanged)", status, body)
	}
	r := g.put(t, "other", tagged(t, tagName(2)))
	if r.Previous != "" {
		t.Errorf("first version of other: previous %q", r.Previous)
	}
	if status, body := g.admin(t, http.MethodPut, "/policies/other?config=%7B%22b%22%3A2%7D", tagged(t, tagName(2))); status != 201 {
		t.Errorf("PUT ?config = %d %s", status, body)
	}
	if status, body := g.admin(t, http.MethodPost, "/policies/tagged/rollback", []byte(`{"version":"`+v0[:8]+`"}`)); status != 200 || !strings.Contains(body, v0) {
		t.Errorf("rollback by prefix = %d %s", status, body)
	}
	if resp := g.Do(t, "GET", "/p"); resp.Get("Flowcache-Policy") != "tagged@"+v0[:12] || string(resp.Body) != tagName(0) {
		t.Errorf("after rollback: Flowcache-Policy %q body %q", resp.Get("Flowcache-Policy"), resp.Body)
	}
	in := g.info(t, "other")
	if len(in.Versions) != 2 || len(in.Routes) != 0 || in.Configured {
		t.Errorf("other = %+v, want 2 versions, no routes, not configured", in)
	}
	if status, body := g.admin(t, http.MethodDelete, "/policies/other", nil); status != 200 {
		t.Errorf("DELETE other = %d %s", status, body)
	}
	if status, _ := g.admin(t, http.MethodGet, "/policies/other", nil); status != 404 {
		t.Errorf("GET deleted policy = %d, want 404", status)
	}
	if status, _ := g.admin(t, http.MethodPatch, "/policies/tagged", nil); status != 405 {
		t.Errorf("PATCH = %d, want 405", status)
	}
}

// TestPolicies_Restart: an uploaded version stays active across a restart
// (a new runtime, store and gateway on the same data_dir), under the same
// key namespace; a changed config module then wins over it.
func TestPolicies_Restart(t *testing.T) {
	t.Parallel()
	origin := echoOrigin(t)
	dir, data := t.TempDir(), t.TempDir()
	module := writeModule(t, dir, "tagged.wasm", tagged(t, tagName(0)))
	cfg := policyConfig(origin.URL, module)

	g1 := startPolicyGateway(t, cfg, data, gateway.Options{})
	up := g1.put(t, "tagged", tagged(t, tagName(7)))
	before := g1.info(t, "tagged")
	// The first "process" ends: its store and runtime close.
	g1.store.Close()
	if err := g1.rt.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	g2 := startPolicyGateway(t, policyConfig(origin.URL, module), data, gateway.Options{})
	after := g2.info(t, "tagged")
	if after.Active != up.Version || after.Activation != before.Activation || len(after.Versions) != 2 {
		t.Errorf("after restart: active %s activation %d, %d versions; want %s, %d, 2",
			after.Active, after.Activation, len(after.Versions), up.Version, before.Activation)
	}
	resp := g2.Do(t, "GET", "/r")
	if resp.Get("Flowcache-Policy") != "tagged@"+up.Version[:12] || string(resp.Body) != tagName(7) {
		t.Errorf("after restart: Flowcache-Policy %q body %q, want the uploaded version", resp.Get("Flowcache-Policy"), resp.Body)
	}
	g2.store.Close()
	if err := g2.rt.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The config file's module changed: the newest change wins.
	changed := writeModule(t, dir, "tagged9.wasm", tagged(t, tagName(9)))
	g3 := startPolicyGateway(t, policyConfig(origin.URL, changed), data, gateway.Options{})
	if in := g3.info(t, "tagged"); in.Active == up.Version || in.Previous != up.Version {
		t.Errorf("changed config module: active %s previous %s, want a new version after %s", in.Active, in.Previous, up.Version)
	}
	if resp := g3.Do(t, "GET", "/r"); string(resp.Body) != tagName(9) {
		t.Errorf("changed config module: body %q, want %s", resp.Body, tagName(9))
	}
}

// TestPolicies_Reload: POST /reload applies new routes and policies; a bad
// configuration (an error from the reload function, a module that fails,
// a changed fixed section) leaves the running one in place, answers 400
// with the reason and sets flowcache_config_last_reload_successful to 0.
func TestPolicies_Reload(t *testing.T) {
	t.Parallel()
	origin := echoOrigin(t)
	dir := t.TempDir()
	module := writeModule(t, dir, "tagged.wasm", tagged(t, tagName(0)))
	cfg := policyConfig(origin.URL, module)

	var next atomic.Pointer[func() (*gateway.Config, error)]
	reload := func(context.Context) (*gateway.Config, error) { return (*next.Load())() }
	g := startPolicyGateway(t, cfg, "", gateway.Options{Reload: reload})

	good := func() (*gateway.Config, error) {
		c := policyConfig(origin.URL, module)
		c.Routes = append(c.Routes, gateway.RouteConfig{Name: "b", PathPrefix: "/b/", Upstreams: []string{origin.URL}, Policy: "second"})
		gateway.RouteDefaults(&c.Routes[1])
		pc := plugins.DefaultConfig()
		pc.Module = writeModule(t, dir, "second.wasm", tagged(t, tagName(2)))
		c.Policies["second"] = pc
		return c, c.Validate()
	}
	failing := func() (*gateway.Config, error) {
		return nil, errors.New("config.toml:3: routes[0].upstreams: at least one upstream is required")
	}
	badModule := func() (*gateway.Config, error) {
		c, err := good()
		pc := c.Policies["second"]
		pc.Module = writeModule(t, dir, "trap.wasm", trapWasm)
		c.Policies["second"] = pc
		return c, err
	}
	fixed := func() (*gateway.Config, error) {
		c, err := good()
		c.Cache.L1Size *= 2
		return c, err
	}
	tests := []struct {
		name   string
		next   func() (*gateway.Config, error)
		status int
		msg    string
		ok     float64
	}{
		{"good", good, 200, `"status":"reloaded"`, 1},
		{"error from the file", failing, 400, "routes[0].upstreams: at least one upstream is required", 0},
		{"module fails", badModule, 400, `trap.wasm): dry run failed: key: trap`, 0},
		{"fixed section changed", fixed, 400, "cache: changed; a reload applies [[routes]] and [policies] only", 0},
		{"good again", good, 200, `"status":"reloaded"`, 1},
	}
	for _, tt := range tests {
		next.Store(&tt.next)
		status, body := g.admin(t, http.MethodPost, "/reload", nil)
		if status != tt.status || !strings.Contains(body, tt.msg) {
			t.Errorf("%s: POST /reload = %d %s, want %d and %q", tt.name, status, body, tt.status, tt.msg)
		}
		if got := g.Metric(t, "flowcache_config_last_reload_successful"); got != tt.ok {
			t.Errorf("%s: flowcache_config_last_reload_successful = %v, want %v", tt.name, got, tt.ok)
		}
		// Whatever happened, the configuration of the last good reload
		// serves: route b with policy second.
		resp := g.Do(t, "GET", "/b/x")
		if string(resp.Body) != tagName(2) || !strings.HasPrefix(resp.Get("Flowcache-Policy"), "second@") {
			t.Errorf("%s: /b/x: body %q Flowcache-Policy %q, want route b on policy second", tt.name, resp.Body, resp.Get("Flowcache-Policy"))
		}
	}
	if status, body := g.admin(t, http.MethodDelete, "/policies/second", nil); status != 409 {
		t.Errorf("DELETE second (used by route b) = %d %s, want 409", status, body)
	}
}

// TestPolicies_Metrics: /metrics carries each policy's counters, read from
// the store at the scrape, including the key memo's hits and misses.
func TestPolicies_Metrics(t *testing.T) {
	t.Parallel()
	origin := echoOrigin(t)
	cfg := policyConfig(origin.URL, writeModule(t, t.TempDir(), "tagged.wasm", tagged(t, tagName(0))))
	pc := cfg.Policies["tagged"]
	pc.MemoizeKey = 64
	cfg.Policies["tagged"] = pc
	g := startPolicyGateway(t, cfg, "", gateway.Options{})
	for range 3 {
		if resp := g.Do(t, "GET", "/p"); resp.Status != 200 {
			t.Fatalf("GET /p = %d", resp.Status)
		}
	}
	status, body := g.admin(t, http.MethodGet, "/metrics", nil)
	if status != 200 {
		t.Fatalf("GET /metrics = %d", status)
	}
	// The first request misses the memo and calls the module; the two
	// others hit the memo.
	for _, want := range []string{
		"# TYPE flowcache_policy_calls_total counter\n",
		"\nflowcache_policy_memo_hits_total{policy=\"tagged\"} 2\n",
		"\nflowcache_policy_errors_total{policy=\"tagged\"} 0\n",
		"\nflowcache_policy_instances_created_total{policy=\"tagged\"} ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if calls := g.Metric(t, `flowcache_policy_calls_total{policy="tagged"}`); calls < 2 {
		t.Errorf("flowcache_policy_calls_total = %v, want at least 2 (a key and a decide)", calls)
	}
	if misses := g.Metric(t, `flowcache_policy_memo_misses_total{policy="tagged"}`); misses < 1 {
		t.Errorf("flowcache_policy_memo_misses_total = %v, want at least 1", misses)
	}
}
