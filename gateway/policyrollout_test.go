package gateway_test

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
	"github.com/flowcache/flowcache/plugins"
)

var (
	//go:embed testdata/policies/planted.wasm
	plantedWasm []byte
	//go:embed testdata/policies/failing.wasm
	failingWasm []byte
)

// retag patches the tag of a tagged-like module.
func retag(t testing.TB, wasm []byte, tag string) []byte {
	t.Helper()
	if len(tag) != 8 || bytes.Count(wasm, []byte("v0000000")) != 1 {
		t.Fatalf("retag(%q): bad tag or module", tag)
	}
	return bytes.Replace(wasm, []byte("v0000000"), []byte(tag), 1)
}

// rolloutInfo is GET /policies/NAME with the rollout fields.
type rolloutInfo struct {
	Active    string
	Seq       uint64
	Candidate *struct {
		Version struct{ ID string }
		Mode    string
		Share   string
		Calls   uint64
	}
	LastRollback *struct {
		Version, Stage, Kind, Reason string
	} `json:"last_rollback"`
}

func (g *policyGateway) rollout(t testing.TB, name string) (rolloutInfo, bool) {
	t.Helper()
	status, body := g.admin(t, http.MethodGet, "/policies/"+name, nil)
	if status == http.StatusNotFound {
		return rolloutInfo{}, false
	}
	if status != http.StatusOK {
		t.Fatalf("GET /policies/%s = %d %s", name, status, body)
	}
	var in rolloutInfo
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	return in, true
}

// stage uploads wasm to g as name's candidate with query (mode=...).
func (g *policyGateway) stage(t testing.TB, name, query string, wasm []byte) string {
	t.Helper()
	status, body := g.admin(t, http.MethodPut, "/policies/"+name+"?"+query, wasm)
	if status != http.StatusCreated {
		t.Fatalf("PUT /policies/%s?%s = %d %s, want 201", name, query, status, body)
	}
	var r putResult
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return r.Version
}

// TestPolicyRollout_ShadowFindsPlantedKey: a shadow version with a planted
// key bug (it drops the tag of "/ac..." paths) runs on live traffic beside
// the active version: the report finds the differences on those paths only,
// with the header values redacted, while every answer comes from the active
// version. Discard ends the run.
func TestPolicyRollout_ShadowFindsPlantedKey(t *testing.T) {
	t.Parallel()
	c := newSyncCluster(t, "standalone", []string{gatewaytest.StartRedis(t).Addr})
	a := c.node(t, nil)
	v0 := a.info(t, "tagged").Active
	cand := a.stage(t, "tagged", "mode=shadow&sample=100%", retag(t, plantedWasm, tagName(0)))
	if in, _ := a.rollout(t, "tagged"); in.Candidate == nil || in.Candidate.Mode != "shadow" || in.Candidate.Version.ID != cand {
		t.Fatalf("after the shadow upload: candidate %+v, want %s in shadow mode", in.Candidate, cand[:12])
	}

	type report struct {
		Calls       uint64
		KeyDiffs    uint64  `json:"key_diffs"`
		FuelPerCall float64 `json:"fuel_per_call"`
		Errors      uint64
		Samples     []struct {
			Kind, Path   string
			Headers      map[string]string
			ActiveKey    struct{ Target string } `json:"active_key"`
			CandidateKey struct{ Target string } `json:"candidate_key"`
		}
	}
	var rep report
	round := 0
	gatewaytest.WaitFor(t, "the shadow's key differences on /acct", func() bool {
		round++
		for i := range 5 {
			for _, path := range []string{fmt.Sprintf("/item/%d-%d?page=2", round, i), fmt.Sprintf("/acct/%d-%d", round, i)} {
				resp := a.Do(t, http.MethodGet, path, "Cookie: session=secret", "X-Device: phone")
				if resp.Status != http.StatusOK || string(resp.Body) != tagName(0) || resp.Get("Flowcache-Policy") != "tagged@"+v0[:12] {
					t.Fatalf("GET %s = %d %q policy %q, want 200 %q from the active version", path, resp.Status, resp.Body, resp.Get("Flowcache-Policy"), tagName(0))
				}
			}
		}
		status, body := a.admin(t, http.MethodGet, "/policies/tagged/shadow", nil)
		if status != http.StatusOK {
			t.Fatalf("GET /policies/tagged/shadow = %d %s", status, body)
		}
		rep = report{}
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatal(err)
		}
		return rep.KeyDiffs >= 5 && rep.Calls >= 20
	})
	if rep.Errors != 0 {
		t.Errorf("shadow errors = %d, want 0", rep.Errors)
	}
	if rep.FuelPerCall <= 0 {
		t.Errorf("shadow fuel per call = %v, want it measured", rep.FuelPerCall)
	}
	if len(rep.Samples) == 0 {
		t.Fatal("no sample of a differing request")
	}
	for _, s := range rep.Samples {
		if s.Kind != "key" || !strings.HasPrefix(s.Path, "/acct/") {
			t.Errorf("sample %s %s: only the planted paths (/acct/) differ", s.Kind, s.Path)
		}
		if !strings.HasSuffix(s.ActiveKey.Target, "?tag="+tagName(0)) || strings.Contains(s.CandidateKey.Target, "tag=") {
			t.Errorf("sample keys %q (active) and %q (shadow), want the tag in the active one only", s.ActiveKey.Target, s.CandidateKey.Target)
		}
		if v := s.Headers["cookie"]; v != "(redacted)" {
			t.Errorf("sample's Cookie = %q, want it redacted", v)
		}
		if v := s.Headers["x-device"]; v != "phone" {
			t.Errorf("sample's X-Device = %q, want its value (the versions read every header: no flowcache_headers)", v)
		}
	}
	if n := a.Metric(t, `flowcache_policy_shadow_key_diffs_total{policy="tagged"}`); n < 5 {
		t.Errorf("flowcache_policy_shadow_key_diffs_total = %v, want >= 5", n)
	}

	if status, body := a.admin(t, http.MethodPost, "/policies/tagged/discard", nil); status != http.StatusOK {
		t.Fatalf("POST discard = %d %s", status, body)
	}
	if in, _ := a.rollout(t, "tagged"); in.Candidate != nil || in.Active != v0 {
		t.Errorf("after discard: active %s candidate %+v, want %s and none", in.Active[:12], in.Candidate, v0[:12])
	}
	if status, _ := a.admin(t, http.MethodGet, "/policies/tagged/shadow", nil); status != http.StatusNotFound {
		t.Errorf("GET shadow after discard = %d, want 404", status)
	}
}

// TestPolicyRollout_CanaryRollback: two nodes sharing Redis (standalone,
// then a 3-master cluster). A canary at
// 10% is staged on A: both nodes send the same requests to the same side.
// It is stepped to 25% from B. Its version traps on "/z" paths: traffic
// on B makes it fail, B rolls it back automatically, and A follows; both
// report the reason, count it and log it. No request fails.
func TestPolicyRollout_CanaryRollback(t *testing.T) {
	t.Parallel()
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		canaryRollback(t, newSyncCluster(t, "standalone", []string{gatewaytest.StartRedis(t).Addr}))
	})
	t.Run("cluster", func(t *testing.T) {
		if testing.Short() {
			t.Skip("cluster: not in -short")
		}
		t.Parallel()
		canaryRollback(t, newSyncCluster(t, "cluster", gatewaytest.StartRedisCluster(t, 3).Addrs))
	})
}

func canaryRollback(t *testing.T, c *syncCluster) {
	logsA, logsB := &logBuffer{}, &logBuffer{}
	// The failing version's failed key calls are also fallbacks: with the
	// fallback threshold out of reach, the failure rate alone decides (which
	// of the two crossed first otherwise depends on how the monitor's ticks
	// fall between requests).
	edit := func(cfg *gateway.Config) { cfg.Rollout.MinCalls, cfg.Rollout.MaxFallbackRate = 20, 1 }
	a := c.nodeWith(t, gateway.Options{Logger: slog.New(slog.NewTextHandler(logsA, nil))}, edit)
	b := c.nodeWith(t, gateway.Options{Logger: slog.New(slog.NewTextHandler(logsB, nil))}, edit)
	v0 := a.info(t, "tagged").Active
	waitServes(t, b, v0, tagName(0))

	start := time.Now()
	v1 := a.stage(t, "tagged", "mode=canary&share=10%", retag(t, failingWasm, tagName(1)))
	for _, g := range []*policyGateway{a, b} {
		gatewaytest.WaitFor(t, "the canary staged", func() bool {
			in, _ := g.rollout(t, "tagged")
			return in.Candidate != nil && in.Candidate.Version.ID == v1 && in.Candidate.Share == "10%"
		})
	}
	t.Logf("canary staged on A, running on B %v after the upload began", time.Since(start))
	// The same request lands on the same side on both nodes; about 10% on
	// the canary, which serves with its own tag.
	onCanary := 0
	const paths = 400
	for i := range paths {
		p := fmt.Sprintf("/item/%d", i)
		ra, rb := a.Do(t, http.MethodGet, p), b.Do(t, http.MethodGet, p)
		la, lb := ra.Get("Flowcache-Policy"), rb.Get("Flowcache-Policy")
		if la != lb || string(ra.Body) != string(rb.Body) {
			t.Fatalf("GET %s: A served %s %q, B %s %q: want the same side", p, la, ra.Body, lb, rb.Body)
		}
		if la == "tagged@"+v1[:12] {
			onCanary++
			if string(ra.Body) != tagName(1) {
				t.Errorf("GET %s on the canary = %q, want its tag %q", p, ra.Body, tagName(1))
			}
		}
	}
	if onCanary < paths*5/100 || onCanary > paths*15/100 {
		t.Errorf("%d of %d paths on the 10%% canary, want about 40", onCanary, paths)
	}
	if n := b.Metric(t, `flowcache_policy_canary_share_ratio{policy="tagged"}`); n != 0.1 {
		t.Errorf("flowcache_policy_canary_share_ratio on B = %v, want 0.1", n)
	}

	if status, body := b.admin(t, http.MethodPost, "/policies/tagged/canary", []byte(`{"share": "25%"}`)); status != http.StatusOK {
		t.Fatalf("POST /policies/tagged/canary on B = %d %s", status, body)
	}
	start = time.Now()
	gatewaytest.WaitFor(t, "A at 25%", func() bool {
		in, _ := a.rollout(t, "tagged")
		return in.Candidate != nil && in.Candidate.Share == "25%"
	})
	t.Logf("step to 25%% on B seen on A after %v", time.Since(start))

	// The failing paths, on B only: B judges, rolls back, A follows.
	i := 0
	gatewaytest.WaitFor(t, "the canary rolled back on B", func() bool {
		for range 20 {
			p := fmt.Sprintf("/z/%d", i)
			i++
			if resp := b.Do(t, http.MethodGet, p); resp.Status != http.StatusOK {
				t.Fatalf("GET %s = %d %s: a failing canary must not fail a request", p, resp.Status, resp.Body)
			}
		}
		in, _ := b.rollout(t, "tagged")
		return in.Candidate == nil
	})
	start = time.Now()
	gatewaytest.WaitFor(t, "A following B's rollback", func() bool {
		in, _ := a.rollout(t, "tagged")
		return in.Candidate == nil
	})
	t.Logf("B's automatic rollback applied on A after %v", time.Since(start))
	for name, g := range map[string]*policyGateway{"A": a, "B": b} {
		gatewaytest.WaitFor(t, name+" without the canary", func() bool {
			in, _ := g.rollout(t, "tagged")
			return in.Candidate == nil && in.LastRollback != nil
		})
		in, _ := g.rollout(t, "tagged")
		rb := in.LastRollback
		if in.Active != v0 || rb.Version != v1 || rb.Stage != "canary" || rb.Kind != "failure_rate" || !strings.Contains(rb.Reason, "max_failure_rate") {
			t.Errorf("%s after the rollback: active %.12s, last_rollback %+v; want %.12s, and %.12s rolled back for its failure rate", name, in.Active, rb, v0, v1)
		}
		if n := g.Metric(t, `flowcache_policy_rollbacks_total{policy="tagged",reason="failure_rate"}`); n != 1 {
			t.Errorf("%s: flowcache_policy_rollbacks_total = %v, want 1", name, n)
		}
	}
	for name, logs := range map[string]*logBuffer{"A": logsA, "B": logsB} {
		if logs.count("policy_rolled_back") != 1 {
			t.Errorf("%s logged policy_rolled_back %d times, want once", name, logs.count("policy_rolled_back"))
		}
	}
	t.Logf("rolled back after %d requests to /z on B", i)
}

// TestPolicyRollout_DeleteStaysDeleted: a policy uploaded on A reaches B.
// B is cut off from Redis while A deletes it: B keeps it meanwhile; once B
// is let back in, B deletes it instead of bringing it back, a node started
// afterwards never has it, and its module key is collected from Redis.
func TestPolicyRollout_DeleteStaysDeleted(t *testing.T) {
	t.Parallel()
	gateway.SetPolicyGC(200*time.Millisecond, time.Second)
	r := gatewaytest.StartRedis(t)
	if _, err := r.Do("ACL", "SETUSER", "nodeb", "on", ">secret-b", "~*", "&*", "+@all"); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	c := newSyncCluster(t, "standalone", []string{r.Addr})
	a := c.node(t, nil)
	b := c.node(t, func(cfg *gateway.Config) {
		cfg.Redis.Username, cfg.Redis.Password = "nodeb", "secret-b"
	})
	extra := a.put(t, "extra", tagged(t, tagName(7)))
	gatewaytest.WaitFor(t, "B has the policy", func() bool {
		_, ok := b.rollout(t, "extra")
		return ok
	})
	sha := extra.Version // no config: the version id is the module's sha256

	if _, err := r.Do("ACL", "SETUSER", "nodeb", "off"); err != nil {
		t.Fatalf("ACL SETUSER off: %v", err)
	}
	if _, err := r.Do("CLIENT", "KILL", "USER", "nodeb"); err != nil {
		t.Fatalf("CLIENT KILL USER: %v", err)
	}
	if status, body := a.admin(t, http.MethodDelete, "/policies/extra", nil); status != http.StatusOK {
		t.Fatalf("DELETE /policies/extra = %d %s", status, body)
	}
	if _, ok := a.rollout(t, "extra"); ok {
		t.Fatal("A still has the policy after its DELETE")
	}
	if _, ok := b.rollout(t, "extra"); !ok {
		t.Fatal("B cut off from Redis lost the policy")
	}
	if _, err := r.Do("ACL", "SETUSER", "nodeb", "on"); err != nil {
		t.Fatalf("ACL SETUSER on: %v", err)
	}
	gatewaytest.WaitFor(t, "B applies the tombstone", func() bool {
		_, ok := b.rollout(t, "extra")
		return !ok
	})
	// A resync more on both: nobody publishes the policy again.
	ra, rb := a.Metric(t, "flowcache_policy_sync_resyncs_total"), b.Metric(t, "flowcache_policy_sync_resyncs_total")
	gatewaytest.WaitFor(t, "a resync on A and B", func() bool {
		return a.Metric(t, "flowcache_policy_sync_resyncs_total") >= ra+1 && b.Metric(t, "flowcache_policy_sync_resyncs_total") >= rb+1
	})
	for name, g := range map[string]*policyGateway{"A": a, "B": b, "late": c.node(t, nil)} {
		if _, ok := g.rollout(t, "extra"); ok {
			t.Errorf("%s has the deleted policy again", name)
		}
	}
	gatewaytest.WaitFor(t, "the module key collected", func() bool {
		n, err := r.Do("EXISTS", "psync:policy:module:"+sha)
		return err == nil && n == "0"
	})
	// A new upload after the delete is a newer change: it is served again.
	again := b.put(t, "extra", tagged(t, tagName(8)))
	gatewaytest.WaitFor(t, "A has the new upload", func() bool {
		in, ok := a.rollout(t, "extra")
		return ok && in.Active == again.Version
	})
}

// TestPolicyRollout_Errors: the admin API's answers to bad rollout
// requests.
func TestPolicyRollout_Errors(t *testing.T) {
	t.Parallel()
	origin := echoOrigin(t)
	cfg := policyConfig(origin.URL, writeModule(t, t.TempDir(), "tagged.wasm", tagged(t, tagName(0))))
	g := startPolicyGateway(t, cfg, "", gateway.Options{})
	v0 := g.info(t, "tagged").Active
	tests := []struct {
		name, method, path string
		body               []byte
		status             int
		msg                string
	}{
		{"bad mode", http.MethodPut, "/policies/tagged?mode=blue", tagged(t, tagName(1)), 400, "want shadow or canary"},
		{"bad share", http.MethodPut, "/policies/tagged?mode=canary&share=120%25", tagged(t, tagName(1)), 400, "more than 100%"},
		{"share without mode", http.MethodPut, "/policies/tagged?share=10%25", tagged(t, tagName(1)), 400, "without mode"},
		{"active version staged", http.MethodPut, "/policies/tagged?mode=canary", tagged(t, tagName(0)), 409, "is the active version"},
		{"no active version", http.MethodPut, "/policies/other?mode=shadow", tagged(t, tagName(1)), 409, "no active version"},
		{"promote without candidate", http.MethodPost, "/policies/tagged/promote", nil, 409, "no staged version"},
		{"discard without candidate", http.MethodPost, "/policies/tagged/discard", nil, 409, "no staged version"},
		{"step without candidate", http.MethodPost, "/policies/tagged/canary", []byte(`{"share":"5%"}`), 409, "no staged version"},
		{"step bad body", http.MethodPost, "/policies/tagged/canary", []byte(`{"percent":5}`), 400, "unknown field"},
		{"shadow report without shadow", http.MethodGet, "/policies/tagged/shadow", nil, 404, "no shadow run"},
		{"promote by GET", http.MethodGet, "/policies/tagged/promote", nil, 405, "not allowed"},
		{"unknown policy", http.MethodPost, "/policies/nope/promote", nil, 404, "not found"},
	}
	for _, tt := range tests {
		status, body := g.admin(t, tt.method, tt.path, tt.body)
		if status != tt.status || !strings.Contains(body, tt.msg) {
			t.Errorf("%s: %s %s = %d %s, want %d with %q", tt.name, tt.method, tt.path, status, body, tt.status, tt.msg)
		}
	}
	// Promote: the canary becomes the active version under its own
	// activation (what it cached stays valid).
	v1 := g.stage(t, "tagged", "mode=canary&share=100%", tagged(t, tagName(1)))
	if resp := g.Do(t, http.MethodGet, "/item/1"); resp.Get("Flowcache-Policy") != "tagged@"+v1[:12] || resp.Get("X-Cache") != "MISS" {
		t.Fatalf("a 100%% canary serves %s (%s), want tagged@%s", resp.Get("Flowcache-Policy"), resp.Get("X-Cache"), v1[:12])
	}
	// A PURGE of the URL reaches the side that cached it (the canary's key
	// space): the next GET is a miss.
	if resp := g.Do(t, http.MethodGet, "/item/1"); resp.Get("X-Cache") != "HIT" {
		t.Fatalf("second GET on the canary: %s, want HIT", resp.Get("X-Cache"))
	}
	if resp := g.Do(t, "PURGE", "/item/1"); resp.Status != http.StatusOK {
		t.Fatalf("PURGE /item/1 = %d %s", resp.Status, resp.Body)
	}
	if resp := g.Do(t, http.MethodGet, "/item/1"); resp.Get("X-Cache") != "MISS" || resp.Get("Flowcache-Policy") != "tagged@"+v1[:12] {
		t.Fatalf("GET after PURGE: %s from %s, want a MISS on the canary", resp.Get("X-Cache"), resp.Get("Flowcache-Policy"))
	}
	if status, body := g.admin(t, http.MethodPost, "/policies/tagged/promote", nil); status != http.StatusOK {
		t.Fatalf("promote = %d %s", status, body)
	}
	in := g.info(t, "tagged")
	if in.Active != v1 || in.Previous != v0 {
		t.Errorf("after promote: active %.12s previous %.12s, want %.12s and %.12s", in.Active, in.Previous, v1, v0)
	}
	if resp := g.Do(t, http.MethodGet, "/item/1"); resp.Get("X-Cache") != "HIT" || string(resp.Body) != tagName(1) {
		t.Errorf("after promote: %s %q, want a HIT on what the canary cached", resp.Get("X-Cache"), resp.Body)
	}
	_ = plugins.FullShare
}

// TestPolicyRollout_Vectors: an upload whose golden vectors fail is
// refused with a 422 listing each failing case, expected vs got, and
// changes nothing; with passing vectors it is activated, and the vectors
// are stored with the version (and reach another node, which runs them
// before it activates the version).
func TestPolicyRollout_Vectors(t *testing.T) {
	t.Parallel()
	c := newSyncCluster(t, "standalone", []string{gatewaytest.StartRedis(t).Addr})
	a, b := c.node(t, nil), c.node(t, nil)
	v0 := a.info(t, "tagged").Active
	upload := func(vectors string) (int, string) {
		body, err := json.Marshal(map[string]any{"module": tagged(t, tagName(1)), "vectors": json.RawMessage(vectors)})
		if err != nil {
			t.Fatal(err)
		}
		return a.admin(t, http.MethodPut, "/policies/tagged", body)
	}
	const failing = `[
	  {"name": "item", "request": {"host": "example.test", "path": "/item/1"}, "key": {"host": "example.test", "target": "/item/1?tag=v0000001"}},
	  {"name": "query kept", "request": {"host": "example.test", "path": "/item/2", "query": "page=2"}, "key": {"host": "example.test", "target": "/item/2?page=2"}},
	  {"name": "bypass", "request": {"host": "example.test", "path": "/private"}, "key": "bypass"}
	]`
	status, body := upload(failing)
	var refused struct {
		Error  string
		Total  int
		Failed []struct {
			Case       int
			Name, Diff string
		}
	}
	if err := json.Unmarshal([]byte(body), &refused); err != nil {
		t.Fatalf("refused upload's answer %q: %v", body, err)
	}
	if status != http.StatusUnprocessableEntity || refused.Total != 3 || len(refused.Failed) != 2 {
		t.Fatalf("upload with failing vectors = %d %s, want 422 with 2 of 3 cases failed", status, body)
	}
	if f := refused.Failed[0]; f.Case != 1 || f.Name != "query kept" || !strings.Contains(f.Diff, `key.target: want "/item/2?page=2", got "/item/2?tag=v0000001"`) {
		t.Errorf("first failure %+v, want case 1 with the target's expected vs got", f)
	}
	if f := refused.Failed[1]; f.Case != 2 || !strings.Contains(f.Diff, "want bypass") {
		t.Errorf("second failure %+v, want case 2, bypass expected", f)
	}
	if in := a.info(t, "tagged"); in.Active != v0 || len(in.Versions) != 1 {
		t.Errorf("after the refused upload: active %.12s, %d versions; want %.12s alone", in.Active, len(in.Versions), v0)
	}
	if status, body := upload(`[{"name": "x", "request": {"path": "/item/1"}, "key": 5}]`); status != http.StatusBadRequest || !strings.Contains(body, "case 0") {
		t.Errorf("upload with malformed vectors = %d %s, want 400 naming the case", status, body)
	}

	status, body = upload(`[{"name": "item", "request": {"host": "example.test", "path": "/item/1"}, "key": {"host": "example.test", "target": "/item/1?tag=v0000001"}}]`)
	if status != http.StatusCreated {
		t.Fatalf("upload with passing vectors = %d %s, want 201", status, body)
	}
	var res putResult
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	waitServes(t, b, res.Version, tagName(1))
	status, body = b.admin(t, http.MethodGet, "/policies/tagged", nil)
	if status != http.StatusOK || !strings.Contains(body, `"vectors_sha256":"`) {
		t.Errorf("GET /policies/tagged on B = %d %s, want the version's vectors", status, body)
	}
}

// TestPolicyRollout_CanaryPurgeAcrossNodes: a PURGE on A of a URL that B
// cached on the canary's side drops B's L1 copy too (the invalidation
// walks both key spaces).
func TestPolicyRollout_CanaryPurgeAcrossNodes(t *testing.T) {
	t.Parallel()
	c := newSyncCluster(t, "standalone", []string{gatewaytest.StartRedis(t).Addr})
	a, b := c.node(t, nil), c.node(t, nil)
	waitServes(t, b, a.info(t, "tagged").Active, tagName(0))
	v1 := a.stage(t, "tagged", "mode=canary&share=100%", tagged(t, tagName(1)))
	gatewaytest.WaitFor(t, "B running the canary", func() bool {
		in, _ := b.rollout(t, "tagged")
		return in.Candidate != nil && in.Candidate.Version.ID == v1
	})
	b.Do(t, http.MethodGet, "/item/5")
	if resp := b.Do(t, http.MethodGet, "/item/5"); resp.Get("X-Cache") != "HIT" || resp.Get("Flowcache-Policy") != "tagged@"+v1[:12] {
		t.Fatalf("B's second GET: %s from %s, want a HIT on the canary", resp.Get("X-Cache"), resp.Get("Flowcache-Policy"))
	}
	if resp := a.Do(t, "PURGE", "/item/5"); resp.Status != http.StatusOK {
		t.Fatalf("PURGE on A = %d %s", resp.Status, resp.Body)
	}
	gatewaytest.WaitFor(t, "B's copy dropped", func() bool {
		return b.Do(t, http.MethodGet, "/item/5").Get("X-Cache") == "MISS"
	})
}

// TestPolicyRollout_SwapRollback: a version uploaded on A (a full swap, no
// canary) fails on B's traffic within its watch window: B puts the
// previous version back, A follows, and the restored version is not
// watched. No request fails.
func TestPolicyRollout_SwapRollback(t *testing.T) {
	t.Parallel()
	c := newSyncCluster(t, "standalone", []string{gatewaytest.StartRedis(t).Addr})
	edit := func(cfg *gateway.Config) { cfg.Rollout.MinCalls = 20 }
	a, b := c.nodeWith(t, gateway.Options{}, edit), c.nodeWith(t, gateway.Options{}, edit)
	v0 := a.info(t, "tagged").Active
	waitServes(t, b, v0, tagName(0))
	v1 := a.put(t, "tagged", retag(t, failingWasm, tagName(1)))
	waitServes(t, b, v1.Version, tagName(1))
	i := 0
	gatewaytest.WaitFor(t, "B back on the previous version", func() bool {
		for range 10 {
			p := fmt.Sprintf("/z/%d", i)
			i++
			if resp := b.Do(t, http.MethodGet, p); resp.Status != http.StatusOK {
				t.Fatalf("GET %s = %d %s", p, resp.Status, resp.Body)
			}
		}
		return b.info(t, "tagged").Active == v0
	})
	gatewaytest.WaitFor(t, "A back on the previous version", func() bool { return a.info(t, "tagged").Active == v0 })
	for name, g := range map[string]*policyGateway{"A": a, "B": b} {
		status, body := g.admin(t, http.MethodGet, "/policies/tagged", nil)
		if status != http.StatusOK || !strings.Contains(body, `"stage":"swap"`) || !strings.Contains(body, v1.Version) || strings.Contains(body, "watched_until") {
			t.Errorf("%s: GET /policies/tagged = %d %s, want the swap's rollback of %.12s and no watch", name, status, body, v1.Version)
		}
	}
	waitServes(t, a, v0, tagName(0))
}

// TestPolicyRollout_ShadowCluster: a shadow staged on A runs on both
// nodes; ?scope=cluster on A sums what each node found.
func TestPolicyRollout_ShadowCluster(t *testing.T) {
	t.Parallel()
	c := newSyncCluster(t, "standalone", []string{gatewaytest.StartRedis(t).Addr})
	a, b := c.node(t, nil), c.node(t, nil)
	waitServes(t, b, a.info(t, "tagged").Active, tagName(0))
	cand := a.stage(t, "tagged", "mode=shadow&sample=100%", retag(t, plantedWasm, tagName(0)))
	gatewaytest.WaitFor(t, "B running the shadow", func() bool {
		in, _ := b.rollout(t, "tagged")
		return in.Candidate != nil && in.Candidate.Version.ID == cand
	})
	for i := range 5 {
		a.Do(t, http.MethodGet, fmt.Sprintf("/acct/a%d", i))
		b.Do(t, http.MethodGet, fmt.Sprintf("/acct/b%d", i))
		b.Do(t, http.MethodGet, fmt.Sprintf("/item/b%d", i))
	}
	type summary struct {
		Node     string
		Calls    uint64
		KeyDiffs uint64 `json:"key_diffs"`
	}
	var rep struct {
		Cluster struct {
			Nodes []summary
			Total summary
		}
	}
	gatewaytest.WaitFor(t, "both nodes' counters on A", func() bool {
		status, body := a.admin(t, http.MethodGet, "/policies/tagged/shadow?scope=cluster", nil)
		if status != http.StatusOK {
			t.Fatalf("GET shadow?scope=cluster = %d %s", status, body)
		}
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatal(err)
		}
		return len(rep.Cluster.Nodes) == 2 && rep.Cluster.Total.KeyDiffs == 10
	})
	if n := rep.Cluster.Nodes; n[0].Node == n[1].Node || n[0].Calls+n[1].Calls != rep.Cluster.Total.Calls {
		t.Errorf("cluster report %+v, want two nodes and their sum", rep.Cluster)
	}
	if status, body := a.admin(t, http.MethodGet, "/policies/tagged/shadow?scope=galaxy", nil); status != http.StatusBadRequest {
		t.Errorf("scope=galaxy = %d %s, want 400", status, body)
	}
}
