//go:build !wasip1

package main

import (
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// BenchmarkTTLRules_Decide measures a decide call that goes through the five
// rules of the test configuration (the last matches) and the safety checks.
func BenchmarkTTLRules_Decide(b *testing.B) {
	policytest.BenchDecide(b, policytest.Load(b, policytest.Build(b, "."), config()))
}
