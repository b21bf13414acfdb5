//go:build !wasip1

package main

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
	"github.com/flowcache/flowcache/plugins"
)

// TestVectors runs testdata/vectors.json with testdata/config.json, the
// files of `flowcache policy test -config @testdata/config.json`, through
// the gateway's host.
func TestVectors(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/config.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("testdata/config.json: %v", err)
	}
	// The file is the rule set the other tests use, in JSON: keep them one.
	var want map[string]any
	wb, _ := json.Marshal(config()) // a map of JSON values always marshals
	_ = json.Unmarshal(wb, &want)   // just marshalled
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("testdata/config.json = %v, want the rules of config(): %v", cfg, want)
	}
	policytest.RunVectors(t, policytest.Load(t, policytest.Build(t, "."), cfg), policytest.VectorsFile)
}

// TestTTLRules_InitMessage: the SDK returns Init's error text to the host
// (flowcache_error), so the load error names the rule, the field and the
// value, not only "flowcache_init returned 1".
func TestTTLRules_InitMessage(t *testing.T) {
	t.Parallel()
	wasm := policytest.Build(t, ".")
	rt, err := plugins.NewRuntime(plugins.Options{CacheDir: policytest.CacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) }) // nothing loaded is left open
	cfg := plugins.DefaultConfig()
	cfg.Config = map[string]any{"rules": []any{map[string]any{"path": "/a", "ttl": "1 minute"}, map[string]any{"tll": "1m"}}}
	_, err = rt.LoadBytes(context.Background(), "ttl", wasm, &cfg)
	want := `flowcache_init: Init: rules[0].ttl: want a duration >= 0 such as "90s", not "1 minute"; rules[1].tll: unknown key; rules[1].ttl: required unless store = false (code 1)`
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("LoadBytes = %v,\nwant ...%s", err, want)
	}
}
