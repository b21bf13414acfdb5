package plugins

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/flowcache/flowcache/policy"
)

// TestClocks pins the clocks a guest reads (ABI.md, section 12): a
// deterministic fake, per instance. The realtime clock starts at
// 2022-01-01T00:00:00Z and the monotonic clock at 0, and each reading
// advances the clock read by 1 ms, whatever the time; their resolutions
// are 1 µs (realtime) and 1 ns (monotonic). A policy that needs the time reads the decide blob's now.
func TestClocks(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Options{})
	cfg := DefaultConfig()
	m := mustLoad(t, rt, "clock", clockWasm, &cfg)
	epoch := uint64(time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	r := &policy.Request{Method: []byte("GET"), Scheme: []byte("http"), Host: []byte("h"), Path: []byte("/"), Route: []byte("r")}
	for call := range uint64(3) {
		var k policy.Key
		if err := m.Key(r, &k); err != nil {
			t.Fatalf("Key: %v", err)
		}
		if len(k.Variant) != 32 {
			t.Fatalf("variant of %d bytes, want 32", len(k.Variant))
		}
		wall, mono := binary.LittleEndian.Uint64(k.Variant), binary.LittleEndian.Uint64(k.Variant[8:])
		rres, mres := binary.LittleEndian.Uint64(k.Variant[16:]), binary.LittleEndian.Uint64(k.Variant[24:])
		if want := epoch + call*uint64(time.Millisecond); wall != want {
			t.Errorf("call %d: realtime %d (%v), want %d", call, wall, time.Unix(0, int64(wall)).UTC(), want)
		}
		if want := call * uint64(time.Millisecond); mono != want {
			t.Errorf("call %d: monotonic %d, want %d", call, mono, want)
		}
		if rres != uint64(time.Microsecond) || mres != 1 {
			t.Errorf("call %d: resolutions %d, %d; want 1000, 1", call, rres, mres)
		}
	}
}
