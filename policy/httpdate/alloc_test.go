//go:build !race

package httpdate

import (
	"testing"
	"time"
)

func TestParse_noAlloc(t *testing.T) {
	ins := [][]byte{
		[]byte("Sun, 06 Nov 1994 08:49:37 GMT"),
		[]byte("Sunday, 06-Nov-94 08:49:37 GMT"),
		[]byte("Sun Nov  6 08:49:37 1994"),
		[]byte("garbage"),
	}
	buf := make([]byte, 0, 64)
	now := time.Now()
	if n := testing.AllocsPerRun(100, func() {
		for _, in := range ins {
			Parse(in)
		}
		buf = Append(buf[:0], now)
	}); n != 0 {
		t.Errorf("Parse and Append: %v allocs/op, want 0", n)
	}
}
