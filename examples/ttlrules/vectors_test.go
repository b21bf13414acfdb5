//go:build !wasip1

package main

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
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
