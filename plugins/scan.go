package plugins

import (
	"bytes"
	"errors"
	"fmt"
)

// moduleInfo is what load checks before compiling: imports and memories.
type moduleInfo struct {
	imports []importInfo
	// memories holds the minimum, in pages, of each memory the module
	// defines (not imported).
	memories []uint64
}

type importInfo struct {
	module, name string
	kind         byte // 0 function, 1 table, 2 memory, 3 global, 4 tag
}

var kindNames = [...]string{"function", "table", "memory", "global", "tag"}

func (i importInfo) kindName() string {
	if int(i.kind) < len(kindNames) {
		return kindNames[i.kind]
	}
	return fmt.Sprintf("kind 0x%x", i.kind)
}

var errTruncated = errors.New("unexpected end of module")

// scanModule walks the section headers of a binary module and decodes its
// import and memory sections, so that forbidden imports and oversized
// memories are refused before the (expensive) compilation, with a precise
// reason. Anything it does not look at is left to wazero's validation.
func scanModule(b []byte) (moduleInfo, error) {
	var info moduleInfo
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) {
		return info, errors.New("not a WebAssembly binary (no \\0asm magic)")
	}
	if !bytes.Equal(b[4:8], []byte{1, 0, 0, 0}) {
		return info, fmt.Errorf("unsupported binary version % x", b[4:8])
	}
	r := reader{b: b, off: 8}
	for r.off < len(r.b) {
		id := r.byte()
		size := r.u32()
		if r.err != nil {
			return info, r.err
		}
		if uint64(size) > uint64(len(r.b)-r.off) { //nolint:gosec // a length is non-negative
			return info, fmt.Errorf("section %d at offset %d: size %d overruns the module", id, r.off, size)
		}
		sec := reader{b: r.b[:r.off+int(size)], off: r.off}
		r.off += int(size)
		switch id {
		case 2:
			if err := sec.imports(&info); err != nil {
				return info, fmt.Errorf("import section: %w", err)
			}
		case 5:
			n := sec.u32()
			for i := uint32(0); i < n && sec.err == nil; i++ {
				lo, _ := sec.limits()
				info.memories = append(info.memories, lo)
			}
			if sec.err != nil {
				return info, fmt.Errorf("memory section: %w", sec.err)
			}
		}
	}
	return info, nil
}

type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.err = errTruncated
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

// uleb reads an unsigned LEB128 of at most bits bits.
func (r *reader) uleb(bits uint) uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		if shift >= bits || (bits-shift < 7 && c&0x7f>>(bits-shift) != 0) {
			r.err = fmt.Errorf("LEB128 at offset %d overflows %d bits", r.off-1, bits)
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
}

func (r *reader) u32() uint32 { return uint32(r.uleb(32)) } //nolint:gosec // uleb(32) returns at most 32 bits

func (r *reader) name() string {
	n := r.u32()
	if r.err != nil {
		return ""
	}
	if uint64(n) > uint64(len(r.b)-r.off) { //nolint:gosec // a length is non-negative
		r.err = errTruncated
		return ""
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s
}

// limits reads a limits type (memory or table) and returns its minimum and
// maximum (^0 if absent).
func (r *reader) limits() (lo, hi uint64) {
	flags := r.byte()
	bits := uint(32)
	if flags&4 != 0 { // memory64
		bits = 64
	}
	if flags&^7 != 0 {
		r.err = fmt.Errorf("unknown limits flags 0x%x", flags)
		return 0, 0
	}
	lo, hi = r.uleb(bits), ^uint64(0)
	if flags&1 != 0 {
		hi = r.uleb(bits)
	}
	return lo, hi
}

func (r *reader) imports(info *moduleInfo) error {
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		imp := importInfo{module: r.name(), name: r.name(), kind: r.byte()}
		if imp.kind != 0 {
			// Only functions may be imported: stop here, load refuses it.
			info.imports = append(info.imports, imp)
			return r.err
		}
		r.u32() // type index
		info.imports = append(info.imports, imp)
	}
	return r.err
}
