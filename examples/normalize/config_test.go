//go:build !wasip1

package main

import (
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// TestNormalize_DropConfig runs the vectors of a "drop" configuration: the
// list replaces the tracking parameters.
func TestNormalize_DropConfig(t *testing.T) {
	t.Parallel()
	m := policytest.Load(t, policytest.Build(t, "."), policytest.ReadConfig(t, policytest.DropConfigFile))
	policytest.RunVectors(t, m, policytest.DropVectorsFile)
}

// TestNormalize_BadConfig checks that a configuration the policy cannot
// read refuses the module, with the reason.
func TestNormalize_BadConfig(t *testing.T) {
	t.Parallel()
	policytest.CheckBadConfigs(t, policytest.Build(t, "."), policytest.NormalizeBadConfigs)
}
