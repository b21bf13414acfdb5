package meter

import (
	"fmt"
	"unicode/utf8"
)

// decoder reads a WebAssembly binary. Errors are sticky: after the first one every read returns
// zero values, so callers check err at the points where a bad value would make them go wrong.
type decoder struct {
	b   []byte
	pos int
	err error

	section byte // id of the section being decoded, for errors
	fn      int  // index of the function body being decoded (in the code section), or -1
}

// fail records the first error, at offset off of the module.
func (d *decoder) fail(sentinel error, off int, format string, args ...any) {
	if d.err != nil {
		return
	}
	where := "module header"
	if d.section != noSection {
		where = sectionName(d.section) + " section"
	}
	if d.fn >= 0 {
		where += fmt.Sprintf(": function body %d", d.fn)
	}
	d.err = &Error{Err: sentinel, Detail: fmt.Sprintf("%s: offset %#x: %s", where, off, fmt.Sprintf(format, args...))}
}

// truncated records that the module ends (or a section or body ends) before a complete item.
func (d *decoder) truncated(what string) {
	d.fail(ErrMalformed, d.pos, "unexpected end of %s", what)
}

func (d *decoder) byte(end int, what string) byte {
	if d.pos >= end {
		d.truncated(what)
		return 0
	}
	c := d.b[d.pos]
	d.pos++
	return c
}

// u32 decodes an unsigned LEB128 value of at most 32 bits that must end before end.
func (d *decoder) u32(end int, what string) uint32 {
	if p := d.pos; p < end {
		if c := d.b[p]; c < 0x80 { // fast path: one byte
			d.pos = p + 1
			return uint32(c)
		}
	}
	return d.u32Long(end, what)
}

func (d *decoder) u32Long(end int, what string) uint32 {
	start := d.pos
	var v uint32
	for i := 0; ; i++ {
		if d.pos >= end {
			d.truncated(what)
			return 0
		}
		c := d.b[d.pos]
		d.pos++
		if i == 4 {
			if c&0xf0 != 0 { // continuation bit or bits beyond 32
				d.fail(ErrMalformed, start, "%s: LEB128 u32 too long or out of range", what)
				return 0
			}
			return v | uint32(c)<<28
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v
		}
	}
}

// signed decodes a signed LEB128 value of at most bits bits (32, 33 or 64) that must end before
// end.
func (d *decoder) signed(end, bits int, what string) int64 {
	if d.pos < end {
		if c := d.b[d.pos]; c < 0x80 { // fast path: one byte
			d.pos++
			return int64(int8(c<<1) >> 1)
		}
	}
	start := d.pos
	maxLen := (bits + 6) / 7
	var v int64
	for i := 0; ; i++ {
		if d.pos >= end {
			d.truncated(what)
			return 0
		}
		c := d.b[d.pos]
		d.pos++
		v |= int64(c&0x7f) << (7 * i)
		if i == maxLen-1 {
			// The unused high bits of the last byte must repeat the sign bit, and it must be
			// the last byte.
			used := bits - 7*i // meaningful bits in this byte, the sign bit included
			mask := byte(0x7f) &^ (1<<(used-1) - 1)
			if c&0x80 != 0 || (c&mask != 0 && c&mask != mask) {
				d.fail(ErrMalformed, start, "%s: LEB128 s%d too long or out of range", what, bits)
				return 0
			}
			return v << (64 - bits) >> (64 - bits)
		}
		if c < 0x80 {
			shift := 64 - 7*(i+1)
			return v << shift >> shift
		}
	}
}

// skip advances over n bytes.
func (d *decoder) skip(end, n int, what string) {
	if n > end-d.pos {
		d.pos = end
		d.truncated(what)
		return
	}
	d.pos += n
}

// name decodes a vec(byte) that must be UTF-8.
func (d *decoder) name(end int, what string) []byte {
	start := d.pos
	n := d.u32(end, what)
	if d.err != nil {
		return nil
	}
	if int64(n) > int64(end-d.pos) {
		d.pos = end
		d.truncated(what)
		return nil
	}
	s := d.b[d.pos : d.pos+int(n)]
	d.pos += int(n)
	if !utf8.Valid(s) {
		d.fail(ErrMalformed, start, "%s is not UTF-8", what)
		return nil
	}
	return s
}

// count decodes a vector length and rejects lengths that cannot fit in the remaining bytes, given
// that each element takes at least minSize bytes. This keeps a forged count from making a loop
// spin or an allocation explode.
func (d *decoder) count(end, minSize int, what string) uint32 {
	start := d.pos
	n := d.u32(end, what)
	if d.err == nil && int64(n)*int64(minSize) > int64(end-d.pos) {
		d.fail(ErrMalformed, start, "%s %d does not fit in the %d remaining bytes", what, n, end-d.pos)
		return 0
	}
	return n
}

func appendU32(dst []byte, v uint32) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

func appendS64(dst []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(dst, c)
		}
		dst = append(dst, c|0x80)
	}
}

func u32Len(v uint32) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
