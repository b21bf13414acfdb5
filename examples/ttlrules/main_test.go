//go:build !wasip1

package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flowcache/flowcache/examples/internal/policytest"
	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// config is the rule set of the package documentation.
func config() map[string]any {
	return map[string]any{"rules": []any{
		map[string]any{"path": "/static/*", "ttl": "24h", "stale_while_revalidate": "1h", "stale_if_error": "24h"},
		map[string]any{"path": "/api/*", "status": []any{404, 410}, "ttl": "30s"},
		map[string]any{"path": "/api/*", "ttl": "1m", "stale_while_revalidate": "30s", "stale_if_error": "10m"},
		map[string]any{"path": "/account/*", "store": false},
		map[string]any{"path": "/v?/items", "status": []any{200, 500}, "ttl": "5s"},
	}}
}

func TestTTLRules_Decide(t *testing.T) {
	t.Parallel()
	m := policytest.Load(t, policytest.Build(t, "."), config())
	// def is what the native default policy decided: origin said max-age=5,
	// must-revalidate.
	def := policy.Decision{Store: true, Admit: true, TTL: 5 * time.Second, MustRevalidate: true}
	notStored := policy.Decision{Admit: true}
	tests := []struct {
		name     string
		path     string
		status   int
		def      policy.Decision
		respHdrs []string
		reqHdrs  []string
		want     policy.Decision
	}{
		{
			name: "static", path: "/static/app.js", status: 200, def: def,
			want: policy.Decision{Store: true, Admit: true, TTL: 24 * time.Hour, StaleWhileRevalidate: time.Hour, StaleIfError: 24 * time.Hour},
		},
		{
			name: "static nested, origin said nothing", path: "/static/img/a/b.png", status: 200, def: notStored,
			want: policy.Decision{Store: true, Admit: true, TTL: 24 * time.Hour, StaleWhileRevalidate: time.Hour, StaleIfError: 24 * time.Hour},
		},
		{
			name: "api 404 first rule", path: "/api/users/7", status: 404, def: notStored,
			want: policy.Decision{Store: true, Admit: true, TTL: 30 * time.Second},
		},
		{
			name: "api 200 second rule", path: "/api/users", status: 200, def: def,
			want: policy.Decision{Store: true, Admit: true, TTL: time.Minute, StaleWhileRevalidate: 30 * time.Second, StaleIfError: 10 * time.Minute},
		},
		{name: "api 500 not cacheable by default", path: "/api/users", status: 500, def: notStored, want: notStored},
		{name: "explicit status list", path: "/v2/items", status: 500, def: notStored, want: policy.Decision{Store: true, Admit: true, TTL: 5 * time.Second}},
		{name: "pattern ? is one byte", path: "/v10/items", status: 200, def: def, want: def},
		{name: "store false", path: "/account/me", status: 200, def: def, want: policy.Decision{Admit: true, TTL: 5 * time.Second, MustRevalidate: true}},
		{name: "no rule: default kept", path: "/other", status: 200, def: def, want: def},
		{name: "private kept out", path: "/static/a", status: 200, def: notStored, respHdrs: []string{"Cache-Control", "max-age=60, Private"}, want: notStored},
		{name: "no-store kept out", path: "/static/a", status: 200, def: notStored, respHdrs: []string{"cache-control", "no-store"}, want: notStored},
		{name: "set-cookie kept out", path: "/static/a", status: 200, def: notStored, respHdrs: []string{"Set-Cookie", "a=1"}, want: notStored},
		{name: "authorization kept out", path: "/static/a", status: 200, def: notStored, reqHdrs: []string{"Authorization", "Bearer x"}, want: notStored},
		{
			name: "public overridden", path: "/static/a", status: 200, def: def, respHdrs: []string{"Cache-Control", "public, max-age=5"},
			want: policy.Decision{Store: true, Admit: true, TTL: 24 * time.Hour, StaleWhileRevalidate: time.Hour, StaleIfError: 24 * time.Hour},
		},
	}
	for _, tt := range tests {
		r := &policy.Request{Method: []byte("GET"), Scheme: []byte("http"), Host: []byte("h"), Path: []byte(tt.path), Route: []byte("r")}
		for i := 0; i+1 < len(tt.reqHdrs); i += 2 {
			r.Headers = append(r.Headers, policy.Header{Name: []byte(tt.reqHdrs[i]), Value: []byte(tt.reqHdrs[i+1])})
		}
		resp := &policy.Response{Status: tt.status, BodySize: 10, Now: time.Unix(1700000000, 0)}
		for i := 0; i+1 < len(tt.respHdrs); i += 2 {
			resp.Headers = append(resp.Headers, policy.Header{Name: []byte(tt.respHdrs[i]), Value: []byte(tt.respHdrs[i+1])})
		}
		d := tt.def
		if err := m.Decide(r, resp, &d); err != nil {
			t.Fatalf("%s: Decide: %v", tt.name, err)
		}
		if d != tt.want {
			t.Errorf("%s: Decide(%s, %d) = %+v, want %+v", tt.name, tt.path, tt.status, d, tt.want)
		}
	}
}

// TestTTLRules_Config checks that a bad configuration fails the load, with
// the rule and key named in the error.
func TestTTLRules_Config(t *testing.T) {
	t.Parallel()
	wasm := policytest.Build(t, ".")
	rt, err := plugins.NewRuntime(plugins.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) }) // nothing left to check
	tests := []struct {
		name   string
		config map[string]any
	}{
		{"unknown top key", map[string]any{"rule": []any{}}},
		{"unknown rule key", map[string]any{"rules": []any{map[string]any{"path": "/", "ttl": "1s", "tll": "2s"}}}},
		{"bad duration", map[string]any{"rules": []any{map[string]any{"ttl": "soon"}}}},
		{"negative duration", map[string]any{"rules": []any{map[string]any{"ttl": "-1s"}}}},
		{"missing ttl", map[string]any{"rules": []any{map[string]any{"path": "/"}}}},
		{"bad status", map[string]any{"rules": []any{map[string]any{"ttl": "1s", "status": []any{99}}}}},
		{"rules not a list", map[string]any{"rules": "x"}},
	}
	for _, tt := range tests {
		cfg := plugins.DefaultConfig()
		cfg.Config = tt.config
		m, err := rt.LoadBytes(context.Background(), "ttl", wasm, &cfg)
		if err == nil {
			_ = m.Close(context.Background()) // the test already failed
			t.Errorf("%s: LoadBytes succeeded", tt.name)
			continue
		}
		if !strings.Contains(err.Error(), "init") {
			t.Errorf("%s: LoadBytes error %q does not name init", tt.name, err)
		}
	}
	cfg := plugins.DefaultConfig()
	m, err := rt.LoadBytes(context.Background(), "ttl", wasm, &cfg)
	if err != nil {
		t.Fatalf("LoadBytes with an empty config: %v", err)
	}
	_ = m.Close(context.Background()) // closed again by rt.Close
}
