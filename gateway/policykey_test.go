package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/gateway"
)

// TestPolicies_Key: POST /policies/NAME/key answers the key and decision
// of the active version, or of a stored one with ?version=, normalising
// the URL as the gateway does; bad bodies are 400s, unknown names and
// versions 404s.
func TestPolicies_Key(t *testing.T) {
	t.Parallel()
	origin := echoOrigin(t)
	cfg := policyConfig(origin.URL, writeModule(t, t.TempDir(), "tagged.wasm", tagged(t, tagName(0))))
	g := startPolicyGateway(t, cfg, "", gateway.Options{})
	v0 := g.info(t, "tagged").Active
	v1 := g.put(t, "tagged", tagged(t, tagName(1))).Version

	type answer struct {
		Policy, Version, Route string
		Request                struct{ Host, Path, Query string }
		Key                    struct {
			Bypass                bool
			Host, Target, Variant string
			Fallback              bool
		}
		Decision struct {
			Store bool
			Tier  string
			TTL   string
		}
	}
	post := func(path, body string) (int, answer, string) {
		t.Helper()
		status, text := g.admin(t, http.MethodPost, path, []byte(body))
		var a answer
		if status == 200 {
			if err := json.Unmarshal([]byte(text), &a); err != nil {
				t.Fatalf("%s: %v in %s", path, err, text)
			}
		}
		return status, a, text
	}

	status, a, text := post("/policies/tagged/key", `{"url": "https://Example.COM:8443/x/./a//b?q=1", "headers": {"User-Agent": "t"},
		"response": {"status": 200, "headers": {"Cache-Control": "max-age=5"}}}`)
	if status != 200 {
		t.Fatalf("POST key = %d %s", status, text)
	}
	if a.Version != v1 || a.Route != "api" || a.Request.Host != "example.com" || a.Request.Path != "/x/a/b" ||
		a.Key.Host != "example.com" || a.Key.Target != "/x/a/b?tag="+tagName(1) || a.Key.Fallback ||
		!a.Decision.Store || a.Decision.TTL != "1m0s" || a.Decision.Tier != "both" {
		t.Errorf("POST key = %s", text)
	}
	status, a, text = post("/policies/tagged/key?version="+v0[:8], `{"url": "http://h/p"}`)
	if status != 200 || a.Version != v0 || a.Key.Target != "/p?tag="+tagName(0) {
		t.Errorf("POST key?version=%s = %d %s", v0[:8], status, text)
	}
	// The active version is still v1: evaluating v0 activated nothing.
	if in := g.info(t, "tagged"); in.Active != v1 {
		t.Errorf("active after key?version = %s, want %s", in.Active, v1)
	}
	for _, tt := range []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"no url", "/policies/tagged/key", `{}`, 400, "url: required"},
		{"relative url", "/policies/tagged/key", `{"url": "/a"}`, 400, "want an absolute http or https URL"},
		{"unknown field", "/policies/tagged/key", `{"url": "http://h/", "uri": 1}`, 400, `unknown field \"uri\"`},
		{"bad header", "/policies/tagged/key", `{"url": "http://h/", "headers": {"a b": "c"}}`, 400, "not a valid field name"},
		{"bad status", "/policies/tagged/key", `{"url": "http://h/", "response": {"status": 42}}`, 400, "response.status"},
		{"dot-segment escape", "/policies/tagged/key", `{"url": "http://h/a/%2e%2e%2fb"}`, 400, "path"},
		{"unknown policy", "/policies/nope/key", `{"url": "http://h/"}`, 404, "nope"},
		{"unknown version", "/policies/tagged/key?version=ffffffff", `{"url": "http://h/"}`, 404, "ffffffff"},
	} {
		status, _, text := post(tt.path, tt.body)
		if status != tt.status || !strings.Contains(text, tt.want) {
			t.Errorf("%s: POST %s = %d %s, want %d with %q", tt.name, tt.path, status, text, tt.status, tt.want)
		}
	}
	if status, _ := g.admin(t, http.MethodGet, "/policies/tagged/key", nil); status != 405 {
		t.Errorf("GET key = %d, want 405", status)
	}
}
