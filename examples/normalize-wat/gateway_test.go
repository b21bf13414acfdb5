package normalizewat

import (
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
)

// TestNormalizeWAT_Gateway runs the WAT module in a real gateway: tracking
// parameters and parameter order do not split the cache, and the origin
// receives the normalised target.
func TestNormalizeWAT_Gateway(t *testing.T) {
	t.Parallel()
	policytest.CheckNormalizeGateway(t, normalizeWasm)
}
