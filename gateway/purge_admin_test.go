package gateway_test

import (
	"strings"
	"testing"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// TestPurgeAPI_URLs: POST /purge {"urls": [...]} purges each URL as PURGE
// on the data plane does (host and path in normal form, query kept), soft
// too; a URL that is not absolute or that no route serves is a 400.
func TestPurgeAPI_URLs(t *testing.T) {
	t.Parallel()
	o := startVersionedOrigin(t)
	cfg := gatewaytest.Config(o.URL)
	cfg.Routes[0].PathPrefix = "/a/"
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	for _, p := range []string{"/a/1", "/a/2?x=1", "/a/3", "/a/4"} {
		g.Do(t, "GET", p)
	}
	status, body := adminPost(t, g, "/purge", `{"urls": ["http://Example.test:8080/a/./1#frag", "https://example.test/a/2?x=1", "http://example.test/a/none"]}`)
	if status != 200 || body != "{\"purged\":2}\n" {
		t.Errorf("POST /purge urls = %d %q, want 200 {\"purged\":2}", status, body)
	}
	for p, want := range map[string]string{"/a/1": "MISS", "/a/2?x=1": "MISS", "/a/3": "HIT"} {
		if r := g.Do(t, "GET", p); r.Get("X-Cache") != want {
			t.Errorf("GET %s after the purge: X-Cache %q, want %s", p, r.Get("X-Cache"), want)
		}
	}
	if status, body := adminPost(t, g, "/purge", `{"urls": ["http://example.test/a/4"], "soft": true}`); status != 200 || body != "{\"purged\":1}\n" {
		t.Errorf("soft POST /purge urls = %d %q", status, body)
	}
	if r := g.Do(t, "GET", "/a/4"); !strings.Contains(r.Get("Cache-Status"), "fwd=stale") {
		t.Errorf("GET /a/4 after a soft purge: Cache-Status %q, want fwd=stale (revalidated)", r.Get("Cache-Status"))
	}
	if _, cond := o.count("/a/4"); cond != 1 {
		t.Errorf("soft-purged /a/4: %d conditional requests, want 1 (revalidated)", cond)
	}
	for _, bad := range []string{
		`{"urls": ["/a/1"]}`, `{"urls": ["ftp://example.test/a/1"]}`, `{"urls": ["http://example.test/b/1"]}`,
		`{"urls": ["http://exa mple.test/a/1"]}`, `{"urls": ["http://example.test/a/%zz"]}`, `{"urls": ["http://x/a/1"], "all": true}`,
	} {
		if status, body := adminPost(t, g, "/purge", bad); status != 400 {
			t.Errorf("POST /purge %s = %d %s, want 400", bad, status, body)
		}
	}
}
