//go:build !wasip1

package main

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// The configuration files of the "drop" list: the same in every version of
// this policy (examples/normalize-c and examples/normalize-as copy them).
const (
	dropConfigFile  = "testdata/drop-config.json"
	dropVectorsFile = "testdata/drop-vectors.json"
)

// readConfig reads a JSON configuration file.
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

// TestNormalize_DropConfig runs the vectors of a "drop" configuration: the
// list replaces the tracking parameters.
func TestNormalize_DropConfig(t *testing.T) {
	t.Parallel()
	m := policytest.Load(t, policytest.Build(t, "."), readConfig(t, dropConfigFile))
	policytest.RunVectors(t, m, dropVectorsFile)
}

// TestNormalize_BadConfig checks that a configuration the policy cannot
// read refuses the module, with the reason.
func TestNormalize_BadConfig(t *testing.T) {
	t.Parallel()
	policytest.CheckBadConfigs(t, policytest.Build(t, "."), policytest.NormalizeBadConfigs)
}
