//go:build !race

package plugins

import (
	"testing"

	"github.com/flowcache/flowcache/policy"
)

// TestKeyMemo_Allocs: a memo hit allocates nothing.
func TestKeyMemo_Allocs(t *testing.T) {
	m := mustLoad(t, newTestRuntime(t, Options{}), "memo", minimalWasm, memoConfig(64))
	req := benchRequest()
	k := &policy.Key{Host: make([]byte, 0, 64), Target: make([]byte, 0, 256), Variant: make([]byte, 0, 64)}
	if err := m.Key(req, k); err != nil { // the miss that fills the memo
		t.Fatal(err)
	}
	want := string(k.Host) + " " + string(k.Target) + " " + string(k.Variant)
	n := testing.AllocsPerRun(1000, func() {
		k.Reset()
		if err := m.Key(req, k); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("memo hit: %v allocs, want 0", n)
	}
	if got := string(k.Host) + " " + string(k.Target) + " " + string(k.Variant); got != want {
		t.Errorf("memo hit = %q, want %q", got, want)
	}
}
