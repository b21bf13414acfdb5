//go:build !wasip1

package main

import (
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
	"github.com/flowcache/flowcache/plugins"
)

func load(b *testing.B) *plugins.Module { return policytest.Load(b, policytest.Build(b, "."), nil) }

// BenchmarkAdmission_Key measures the key call, which also counts the
// request in the sketch, through the gateway's host.
func BenchmarkAdmission_Key(b *testing.B) { policytest.BenchKey(b, load(b)) }

// BenchmarkAdmission_Decide measures the decide call (a sketch estimate).
func BenchmarkAdmission_Decide(b *testing.B) { policytest.BenchDecide(b, load(b)) }
