package meter

import (
	"errors"
	"math"
	"testing"
)

func TestDecoder_LEB128(t *testing.T) {
	t.Parallel()
	for _, v := range []int64{0, 1, 63, 64, -64, -65, 127, 128, -128, 1<<31 - 1, -1 << 31, 1 << 32, 1<<33 - 1,
		-1 << 32, math.MaxInt64, math.MinInt64, 1000, DefaultInitialFuel} {
		enc := appendS64(nil, v)
		d := decoder{b: enc, fn: -1}
		if got := d.signed(len(enc), 64, "v"); got != v || d.err != nil || d.pos != len(enc) {
			t.Errorf("signed(appendS64(%d) = % x) = %d, %v, read %d bytes", v, enc, got, d.err, d.pos)
		}
		for _, bits := range []int{32, 33} {
			fits := v >= -1<<(bits-1) && v < 1<<(bits-1)
			d := decoder{b: enc, fn: -1, section: noSection}
			got := d.signed(len(enc), bits, "v")
			switch {
			case fits && (got != v || d.err != nil):
				t.Errorf("s%d(% x) = %d, %v; want %d", bits, enc, got, d.err, v)
			case !fits && !errors.Is(d.err, ErrMalformed):
				t.Errorf("s%d(% x) = %d, %v; want ErrMalformed", bits, enc, got, d.err)
			}
		}
	}
	for _, v := range []uint32{0, 1, 127, 128, 1<<14 - 1, 1 << 14, 1<<28 - 1, 1 << 28, math.MaxUint32} {
		enc := appendU32(nil, v)
		if len(enc) != u32Len(v) {
			t.Errorf("u32Len(%d) = %d, encoding has %d bytes", v, u32Len(v), len(enc))
		}
		d := decoder{b: enc, fn: -1}
		if got := d.u32(len(enc), "v"); got != v || d.err != nil || d.pos != len(enc) {
			t.Errorf("u32(% x) = %d, %v; want %d", enc, got, d.err, v)
		}
	}
	for _, bad := range [][]byte{
		{0x80, 0x80, 0x80, 0x80, 0x10}, // 33 bits
		{0x80, 0x80, 0x80, 0x80, 0x80}, // too long
		{0x80},                         // truncated
	} {
		d := decoder{b: bad, fn: -1, section: noSection}
		if got := d.u32(len(bad), "v"); !errors.Is(d.err, ErrMalformed) {
			t.Errorf("u32(% x) = %d, %v; want ErrMalformed", bad, got, d.err)
		}
	}
}
