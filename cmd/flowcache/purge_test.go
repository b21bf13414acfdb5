package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// Test_run_purge: flowcache purge against a gateway with an admin token
// (from $FLOWCACHE_ADMIN_TOKEN): URLs, tags, prefix, all, soft; each
// prints its count, and what it purged misses afterwards. (Not parallel:
// it sets the environment.)
func Test_run_purge(t *testing.T) {
	const token = "purge-test-token"
	t.Setenv(adminTokenEnv, token)
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		seg, _, _ := strings.Cut(strings.TrimPrefix(string(ctx.Path()), "/"), "/")
		ctx.Response.Header.Set("Surrogate-Key", "t-"+seg)
		ctx.SetBodyString("ok")
	})
	cfg := gatewaytest.Config(o.URL)
	cfg.Routes[0].Host = "api.test"
	cfg.Admin.Token = token
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	admin := "http://" + g.AdminAddr
	get := func(path string) string {
		t.Helper()
		return g.Do(t, "GET", path, "Host: api.test").Get("X-Cache")
	}
	fill := func(paths ...string) {
		t.Helper()
		for _, p := range paths {
			get(p)
			if x := get(p); x != "HIT" {
				t.Fatalf("GET %s twice: X-Cache %q, want HIT", p, x)
			}
		}
	}
	tests := []struct {
		name   string
		args   []string
		want   string
		missed []string // paths that must miss afterwards
		kept   []string // paths that must still hit
	}{
		{"urls", []string{"http://api.test/a/1", "http://api.test/a/2"}, "purged: 2\n", []string{"/a/1", "/a/2"}, []string{"/b/1"}},
		{"tag", []string{"-tag", "t-b"}, "purged: 1\n", []string{"/b/1"}, []string{"/a/1"}},
		{"prefix", []string{"-prefix", "/a/", "-host", "api.test"}, "purged: 2\n", []string{"/a/1", "/a/2"}, []string{"/b/1"}},
		{"prefix_route_hosts", []string{"-prefix", "/b/"}, "purged: 1\n", []string{"/b/1"}, []string{"/a/1"}},
		{"all", []string{"-all"}, "purged: 0\n", []string{"/a/1", "/b/1"}, nil},
		{"soft", []string{"-soft", "http://api.test/a/1"}, "marked stale: 1\n", nil, []string{"/b/1"}},
		{"soft_refresh_nothing", []string{"-soft", "-refresh", "-tag", "none"}, "marked stale: 0\nrefreshing: 0 URLs (none of them in this node's cache)\n", nil, []string{"/a/1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fill("/a/1", "/a/2", "/b/1")
			var out bytes.Buffer
			args := append([]string{"purge", "-admin", admin}, tt.args...)
			if err := run(t.Context(), args, &out, io.Discard); err != nil {
				t.Fatalf("run(%q) = %v", args, err)
			}
			if out.String() != tt.want {
				t.Errorf("run(%q) printed %q, want %q", args, out.String(), tt.want)
			}
			for _, p := range tt.missed {
				if x := get(p); x != "MISS" {
					t.Errorf("GET %s after purge: X-Cache %q, want MISS", p, x)
				}
			}
			for _, p := range tt.kept {
				if x := get(p); x != "HIT" {
					t.Errorf("GET %s after purge: X-Cache %q, want HIT", p, x)
				}
			}
		})
	}

	for _, bad := range [][]string{
		{}, {"-all", "-tag", "x"}, {"-host", "h", "-tag", "x"}, {"/relative"}, {"-bogus"}, {"-refresh", "-all"},
	} {
		args := append([]string{"purge", "-admin", admin}, bad...)
		if err := run(t.Context(), args, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "invalid usage") {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
	args := []string{"purge", "-admin", admin, "http://other.test/x"}
	if err := run(t.Context(), args, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "400 Bad Request: gateway: purge: urls[0]: no route serves") {
		t.Errorf("run(%q) = %v, want the API's 400", args, err)
	}
	t.Setenv(adminTokenEnv, "wrong")
	args = []string{"purge", "-admin", admin, "-all"}
	if err := run(t.Context(), args, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "403 Forbidden") || !strings.Contains(err.Error(), "set $"+adminTokenEnv) {
		t.Errorf("run(%q) with a wrong token = %v, want a 403 naming $%s", args, err, adminTokenEnv)
	}
}
