//go:build !wasip1

package main

import (
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// BenchmarkDevice_Key measures the key call (classifying an iPhone
// User-Agent) through the gateway's host.
func BenchmarkDevice_Key(b *testing.B) { policytest.BenchKey(b, newHost(b)) }
