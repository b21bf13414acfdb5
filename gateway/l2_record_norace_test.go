//go:build !race

package gateway

import (
	"testing"

	"github.com/flowcache/flowcache/gateway/internal/entry"
)

// TestCheckL2Record_noAlloc: the check on every L2 hit allocates nothing.
func TestCheckL2Record_noAlloc(t *testing.T) {
	e := entry.Entry{Status: 200, Header: entry.AppendHeader(nil, []byte("A"), []byte("b")), Body: []byte("x"), BodyLen: 1}
	v := e.AppendEncode(appendRecordHead(nil, kindEntry, 0, 7))
	if n := testing.AllocsPerRun(100, func() { _ = checkL2Record(v, 1<<20) }); n != 0 {
		t.Errorf("checkL2Record allocates %v times, want 0", n)
	}
}
