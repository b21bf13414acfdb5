//go:build !wasip1

package main

import (
	"context"
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// TestVectors runs testdata/vectors.json, the file `flowcache policy test`
// takes, through the gateway's host and through the independent ABI host.
func TestVectors(t *testing.T) {
	t.Parallel()
	wasm := policytest.Build(t, ".")
	policytest.RunVectors(t, policytest.Load(t, wasm, nil), policytest.VectorsFile)
	h, err := policytest.NewHost(context.Background(), wasm, "")
	if err != nil {
		t.Fatalf("NewHost: %v", err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) }) // a test host: nothing to report
	policytest.RunVectors(t, h, policytest.VectorsFile)
}
