package policytest

import (
	"os"
	"testing"

	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// VectorsFile is where an example keeps its golden vectors, relative to its
// package directory: the file `flowcache policy test MODULE VECTORS.json`
// runs.
const VectorsFile = "testdata/vectors.json"

// RunVectors reads the vectors file path (the format of
// plugins.ParseVectors; usually [VectorsFile]) and runs every case through
// p with plugins.RunVectors, the runner behind `flowcache policy test` and
// upload vectors. Each failing case is a test error with its diff; a file
// that does not parse or holds no case fails the test. p is any policy: a
// module from [Load] (the gateway's host, limits and fuel), a [Host], or a
// native policy.
//
// An example written in another language uses it the same way:
//
//	m := policytest.Load(t, wasm, nil)
//	policytest.RunVectors(t, m, policytest.VectorsFile)
func RunVectors(t testing.TB, p policy.Policy, path string) {
	t.Helper()
	data, err := os.ReadFile(path) //nolint:gosec // G304: a path given by the test
	if err != nil {
		t.Fatalf("vectors: %v", err)
	}
	vs, err := plugins.ParseVectors(path, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatalf("%s: no vectors", path)
	}
	rs := plugins.RunVectors(p, vs)
	for i := range rs {
		if !rs[i].Passed() {
			t.Errorf("%s: %s", path, rs[i].String())
		}
	}
}
