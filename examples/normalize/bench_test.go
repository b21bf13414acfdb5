//go:build !wasip1

package main

import (
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
	"github.com/flowcache/flowcache/policy"
)

// BenchmarkNormalize_Key measures one key call through the gateway's host
// (plugins: pooled instance, fuel metering) and through the bare test host
// (one instance, no metering).
func BenchmarkNormalize_Key(b *testing.B) {
	for host, p := range hosts(b) {
		b.Run(host, func(b *testing.B) { policytest.BenchKey(b, p) })
	}
}

// BenchmarkNormalize_KeyParallel runs the key call on every P through the
// gateway's host: the pool round trip under load, including the instances
// it has to create again when a GC drops them.
func BenchmarkNormalize_KeyParallel(b *testing.B) {
	policytest.BenchKeyParallel(b, policytest.Load(b, policytest.Build(b, "."), nil))
}

// BenchmarkNormalize_Decide measures a decide call that keeps the default.
func BenchmarkNormalize_Decide(b *testing.B) { policytest.BenchDecide(b, hosts(b)["plugins"]) }

// BenchmarkDefault_Key is the baseline: the native default policy.
func BenchmarkDefault_Key(b *testing.B) { policytest.BenchKey(b, policy.Default{}) }

// BenchmarkDefault_Decide is the baseline: the native default policy.
func BenchmarkDefault_Decide(b *testing.B) { policytest.BenchDecide(b, policy.Default{}) }
