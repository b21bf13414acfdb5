//go:build !race

package entry

import "testing"

func TestEntry_noAlloc(t *testing.T) {
	e := sample()
	buf := make([]byte, 0, 1024)
	block := make([]byte, 0, 256)
	var got Entry
	n := testing.AllocsPerRun(100, func() {
		b := e.AppendEncode(buf[:0])
		if err := Decode(b, &got); err != nil {
			t.Fatal(err)
		}
		if err := Verify(b); err != nil {
			t.Fatal(err)
		}
		block = AppendHeader(block[:0], []byte("Content-Type"), []byte("text/plain"))
		for _, _, rest, ok := NextHeader(got.Header); ok; _, _, rest, ok = NextHeader(rest) {
		}
	})
	if n != 0 {
		t.Errorf("AppendEncode, Decode, Verify, AppendHeader, NextHeader: %v allocs/op, want 0", n)
	}
}
