package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

type auditAnswer struct {
	Node   string               `json:"node"`
	Source string               `json:"source"`
	Error  string               `json:"error"`
	Events []gateway.AuditEvent `json:"events"`
}

// adminRequest sends method path with a JSON body and the bearer token to
// g's admin listener and returns the status and body.
func adminRequest(t *testing.T, g *gatewaytest.Gateway, method, path, token, body string) (int, string) {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://" + g.AdminAddr + path)
	req.Header.SetHost("localhost")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method != http.MethodGet {
		req.Header.SetContentType("application/json")
		req.SetBodyString(body)
	}
	var resp fasthttp.Response
	if err := fasthttp.Do(req, &resp); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode(), string(resp.Body())
}

func getAudit(t *testing.T, g *gatewaytest.Gateway, token, query string) auditAnswer {
	t.Helper()
	status, body := adminRequest(t, g, http.MethodGet, "/audit"+query, token, "")
	if status != 200 {
		t.Fatalf("GET /audit%s = %d %s", query, status, body)
	}
	var a auditAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("GET /audit: %v: %s", err, body)
	}
	return a
}

func cachedOrigin(t *testing.T) *gatewaytest.Origin {
	t.Helper()
	return gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.Response.Header.Set("Surrogate-Key", "red")
		ctx.SetBodyString("x")
	})
}

// TestAudit_Node: every purge form, a reload and a refused change are in
// GET /audit, newest first, with who (peer and how it was allowed), what,
// the result and the count; a PURGE without the token is not.
func TestAudit_Node(t *testing.T) {
	t.Parallel()
	const tok = "s3cret"
	o := cachedOrigin(t)
	cfg := gatewaytest.Config(o.URL)
	cfg.Admin.Token = tok
	reload := func(context.Context) (*gateway.Config, error) { c := *cfg; return &c, nil }
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{Reload: reload})
	g.Do(t, "GET", "/a")
	g.Do(t, "GET", "/b")
	g.Do(t, "PURGE", "/a") // no token: refused, not recorded
	if r := g.Do(t, "PURGE", "/a", "Authorization: Bearer "+tok); r.Status != 200 {
		t.Fatalf("PURGE /a = %d", r.Status)
	}
	g.Do(t, "PURGE", "/b?soft=1", "Authorization: Bearer "+tok)
	g.Do(t, "PURGE", "/", "Authorization: Bearer "+tok, "Surrogate-Key: red")
	if status, body := adminRequest(t, g, "POST", "/purge", tok, `{"tags":["red"]}`); status != 200 {
		t.Fatalf("POST /purge = %d %s", status, body)
	}
	adminRequest(t, g, "POST", "/purge", tok, `{"bogus":1}`)
	adminRequest(t, g, "POST", "/reload", tok, "")
	if err := g.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := getAudit(t, g, tok, "")
	if a.Source != "node" || a.Node == "" {
		t.Errorf("source %q node %q, want node and this node's name", a.Source, a.Node)
	}
	type want struct {
		action, target, auth, result string
		status, count                int
	}
	wants := []want{
		{"reload", "", "process", "ok", 200, 0},
		{"reload", "", "token", "ok", 200, 0},
		{"purge", `{"bogus":1}`, "token", "", 400, 0},
		{"purge", `{"tags":["red"]}`, "token", "ok", 200, 0},
		{"purge_tags", "red", "token", "ok", 200, 1},
		{"purge_url_soft", "example.test/b?soft=1", "token", "ok", 200, 1},
		{"purge_url", "example.test/a", "token", "ok", 200, 1},
	}
	if len(a.Events) != len(wants) {
		t.Fatalf("%d events, want %d: %+v", len(a.Events), len(wants), a.Events)
	}
	for i, w := range wants {
		e := a.Events[i]
		if e.Action != w.action || (w.target != "" && e.Target != w.target) ||
			e.Auth != w.auth || e.Status != w.status || e.Count != w.count || (w.result != "" && e.Result != w.result) {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
		if w.auth != "process" && e.Peer != "127.0.0.1" {
			t.Errorf("event %d: peer %q, want 127.0.0.1", i, e.Peer)
		}
		if e.Time.IsZero() || e.Node != a.Node {
			t.Errorf("event %d: time %v node %q", i, e.Time, e.Node)
		}
	}
	if !strings.Contains(a.Events[2].Result, "bogus") {
		t.Errorf("bad purge result = %q, want the parse error", a.Events[2].Result)
	}
	if got := getAudit(t, g, tok, "?n=2"); len(got.Events) != 2 || got.Events[0].Auth != "process" {
		t.Errorf("?n=2 = %+v, want the 2 newest", got.Events)
	}
	for _, q := range []string{"?n=0", "?n=1001", "?n=x", "?scope=world"} {
		if status, body := adminRequest(t, g, "GET", "/audit"+q, tok, ""); status != 400 || !strings.Contains(body, "error") {
			t.Errorf("GET /audit%s = %d %s, want 400", q, status, body)
		}
	}
	if _, m := adminRequest(t, g, "GET", "/metrics", tok, ""); !strings.Contains(m, "\nflowcache_audit_events_total 7\n") {
		t.Errorf("/metrics lacks flowcache_audit_events_total 7:\n%s", grepLines(m, "audit"))
	}
}

// TestAudit_Fleet: with Redis, GET /audit on one node lists what another
// node did, from the capped stream; scope=node lists this node's own. An
// entry written to the stream without the [redis] secret is not shown.
func TestAudit_Fleet(t *testing.T) {
	t.Parallel()
	rd := gatewaytest.StartRedis(t)
	o := cachedOrigin(t)
	node := func() *gatewaytest.Gateway {
		cfg := gatewaytest.Config(o.URL)
		cfg.Redis.Addrs = []string{rd.Addr}
		cfg.Redis.Secret = "0123456789abcdef0123456789abcdef"
		return gatewaytest.StartGateway(t, cfg, gateway.Options{})
	}
	a, b := node(), node()
	if status, body := adminRequest(t, a, "POST", "/purge", "", `{"all":true}`); status != 200 {
		t.Fatalf("POST /purge on a = %d %s", status, body)
	}
	c := redis.NewClient(&redis.Options{Addr: rd.Addr})
	defer c.Close()
	gatewaytest.WaitFor(t, "the purge in the stream", func() bool {
		n, err := c.XLen(context.Background(), "flowcache:audit").Result()
		return err == nil && n == 1
	})
	forged := `{"time":"2026-01-01T00:00:00Z","node":"x","auth":"token","action":"purge","status":200,"result":"ok","count":0}`
	if err := c.XAdd(context.Background(), &redis.XAddArgs{Stream: "flowcache:audit", Values: []string{"e", forged}}).Err(); err != nil {
		t.Fatal(err)
	}
	fleet := getAudit(t, b, "", "")
	if fleet.Source != "fleet" || len(fleet.Events) != 1 {
		t.Fatalf("GET /audit on b = %+v, want a's purge only, from the stream", fleet)
	}
	an := getAudit(t, a, "", "?scope=node")
	if e := fleet.Events[0]; e.Action != "purge" || e.Node != an.Node || e.Node == fleet.Node || e.Auth != "loopback" {
		t.Errorf("b sees %+v, want a's (%s) purge", e, an.Node)
	}
	if own := getAudit(t, b, "", "?scope=node"); own.Source != "node" || len(own.Events) != 0 {
		t.Errorf("GET /audit?scope=node on b = %+v, want nothing", own)
	}
	if v := b.Metric(t, "flowcache_audit_rejected_total"); v != 1 {
		t.Errorf("flowcache_audit_rejected_total = %v, want 1 (the forged entry)", v)
	}
}

// TestAudit_Policies: an upload, a rollback and a delete are recorded
// with the policy and the version they made active.
func TestAudit_Policies(t *testing.T) {
	t.Parallel()
	origin := echoOrigin(t)
	dir := t.TempDir()
	g := startPolicyGateway(t, policyConfig(origin.URL, writeModule(t, dir, "tagged.wasm", tagged(t, tagName(0)))), "", gateway.Options{})
	up := g.put(t, "tagged", tagged(t, tagName(1)))
	if status, body := g.admin(t, http.MethodPost, "/policies/tagged/rollback", nil); status != 200 {
		t.Fatalf("rollback = %d %s", status, body)
	}
	other := g.put(t, "other", tagged(t, tagName(2)))
	if status, body := g.admin(t, http.MethodDelete, "/policies/other", nil); status != 200 {
		t.Fatalf("delete = %d %s", status, body)
	}
	if status, _ := g.admin(t, http.MethodDelete, "/policies/tagged", nil); status != http.StatusConflict {
		t.Fatalf("delete of a policy in use = %d, want 409", status)
	}
	a := getAudit(t, g.Gateway, "", "")
	var got []string
	for _, e := range a.Events {
		got = append(got, e.Action+" "+e.Target+" "+e.Result)
	}
	in := g.info(t, "tagged")
	want := []string{
		"policy_delete tagged policy \"tagged\" is used by routes api",
		"policy_delete other ok",
		"policy_upload other@" + other.Version + " ok",
		"policy_rollback tagged@" + in.Active + " ok",
		"policy_upload tagged@" + up.Version + " ok",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
