package normalizewat

import (
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// TestVectors runs testdata/vectors.json, the file `flowcache policy test`
// takes, through the gateway's host: the same vectors as the Go normalize
// example, since the two must derive the same keys.
func TestVectors(t *testing.T) {
	t.Parallel()
	policytest.RunVectors(t, policytest.Load(t, normalizeWasm, nil), policytest.VectorsFile)
}
