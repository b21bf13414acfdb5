package meter

import "math"

// Opcodes written by the instrumenter, or that need attention while decoding.
const (
	opUnreachable = 0x00
	opIf          = 0x04
	opEnd         = 0x0b
	opGlobalGet   = 0x23
	opGlobalSet   = 0x24
	opI64Const    = 0x42
	opI64LtS      = 0x53
	opI64Sub      = 0x7d
)

// Immediate kinds of one-byte opcodes.
const (
	kBad      = iota // not an opcode wazero v1.12 knows
	kNone            // no immediate
	kIdx             // one u32 index (label, function, local, global, table, memory, tag, type)
	kIdx2            // two u32 indices (call_indirect: type, table)
	kBlock           // block type, opens a block (block, if, legacy try)
	kLoop            // block type, opens a loop: a charge goes after it
	kTryTable        // block type and catch clauses, opens a block
	kEnd             // closes a block, or the expression
	kDelegate        // label, closes a legacy try block
	kBrTable         // vec(label) label
	kSelectT         // vec(value type)
	kMemarg          // memory alignment (and index) and offset
	kI32Const        // s32
	kI64Const        // s64
	kF32Const        // 4 bytes
	kF64Const        // 8 bytes
	kRefNull         // heap type
	kMisc            // 0xFC prefix
	kSIMD            // 0xFD prefix
	kAtomic          // 0xFE prefix
)

// opKinds gives the immediate kind of each one-byte opcode. See
// https://webassembly.github.io/spec/core/binary/instructions.html and the proposals listed in
// the package documentation.
var opKinds = func() (k [256]uint8) {
	set := func(kind uint8, ops ...int) {
		for _, op := range ops {
			k[op] = kind
		}
	}
	span := func(kind uint8, from, to int) {
		for op := from; op <= to; op++ {
			k[op] = kind
		}
	}
	set(kNone, 0x00, 0x01, 0x05, 0x0a, 0x0f, 0x19, 0x1a, 0x1b, 0xd1, 0xd4)
	set(kBlock, 0x02, 0x04, 0x06)
	set(kLoop, 0x03)
	set(kIdx, 0x07, 0x08, 0x09, 0x0c, 0x0d, 0x10, 0x12, 0x14, 0x15, 0x3f, 0x40, 0xd2, 0xd5, 0xd6)
	span(kIdx, 0x20, 0x26) // local.get .. table.set
	set(kIdx2, 0x11, 0x13)
	set(kEnd, 0x0b)
	set(kDelegate, 0x18)
	set(kBrTable, 0x0e)
	set(kSelectT, 0x1c)
	set(kTryTable, 0x1f)
	span(kMemarg, 0x28, 0x3e)
	set(kI32Const, 0x41)
	set(kI64Const, 0x42)
	set(kF32Const, 0x43)
	set(kF64Const, 0x44)
	span(kNone, 0x45, 0xc4) // numeric instructions, sign extension
	set(kRefNull, 0xd0)
	set(kMisc, 0xfc)
	set(kSIMD, 0xfd)
	set(kAtomic, 0xfe)
	return k
}()

// SIMD (0xFD) sub-opcode kinds.
const (
	vBad    = iota
	vNone   // no immediate
	vMemarg // v128.load*, v128.store
	vBytes  // v128.const, i8x16.shuffle: 16 bytes
	vLane   // extract_lane, replace_lane: lane index byte
	vMemLn  // v128.load*_lane, v128.store*_lane: memarg and lane index
)

var simdKinds = func() (k [256]uint8) {
	for op := range k {
		k[op] = vNone
	}
	for op := 0x00; op <= 0x0b; op++ {
		k[op] = vMemarg
	}
	k[0x0c], k[0x0d] = vBytes, vBytes
	for op := 0x15; op <= 0x22; op++ {
		k[op] = vLane
	}
	for op := 0x54; op <= 0x5b; op++ {
		k[op] = vMemLn
	}
	k[0x5c], k[0x5d] = vMemarg, vMemarg
	// Holes in the SIMD opcode space (reserved, or removed from the proposal).
	for _, op := range []int{0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb, 0xc2,
		0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee} {
		k[op] = vBad
	}
	return k
}()

// constExpr decodes a constant expression (global, element, data and table initializers). They
// are decoded with the same code as function bodies, and written nowhere.
func (d *decoder) constExpr(end int) {
	d.expr(nil, end, nil, false)
}

// instrumentBody decodes the function body that starts at d.pos and ends at end, and appends it
// to out with entry after its local declarations and loop after every loop's block type.
func (d *decoder) instrumentBody(out []byte, end int, entry, loop []byte) []byte {
	start := d.pos
	n := d.count(end, 2, "local declaration count")
	var total uint64
	for i := uint32(0); i < n && d.err == nil; i++ {
		total += uint64(d.u32(end, "local count"))
		d.valType(end, "local type")
	}
	if d.err != nil {
		return out
	}
	if total > math.MaxUint32 {
		d.fail(ErrMalformed, start, "%d locals", total)
		return out
	}
	out = append(out, d.b[start:d.pos]...)
	out = append(out, entry...)
	out = d.expr(out, end, loop, true)
	if d.err == nil && d.pos != end {
		d.fail(ErrMalformed, d.pos, "%d bytes after the final end of the body", end-d.pos)
	}
	return out
}

// expr decodes instructions from d.pos up to the end that closes the expression, without going
// past end. If emit is set, it appends them to out with loop after every loop's block type.
func (d *decoder) expr(out []byte, end int, loop []byte, emit bool) []byte {
	b := d.b
	depth := 1
	last := d.pos // start of what is not yet copied to out
	for d.err == nil {
		if d.pos >= end {
			d.truncated("expression (no final end)")
			break
		}
		at := d.pos
		op := b[at]
		d.pos++
		switch opKinds[op] {
		case kNone:
		case kIdx:
			d.u32(end, "index")
		case kEnd:
			depth--
			if depth == 0 {
				if emit {
					out = append(out, b[last:d.pos]...)
				}
				return out
			}
		case kBlock:
			d.blockType(end)
			depth++
		case kLoop:
			d.blockType(end)
			depth++
			if emit && d.err == nil {
				out = append(out, b[last:d.pos]...)
				out = append(out, loop...)
				last = d.pos
			}
		case kMemarg:
			d.memarg(end)
		case kI32Const:
			d.signed(end, 32, "i32.const")
		case kI64Const:
			d.signed(end, 64, "i64.const")
		case kF32Const:
			d.skip(end, 4, "f32.const")
		case kF64Const:
			d.skip(end, 8, "f64.const")
		case kIdx2:
			d.u32(end, "type index")
			d.u32(end, "table index")
		case kBrTable:
			n := d.count(end, 1, "br_table label count")
			for i := uint32(0); i <= n && d.err == nil; i++ {
				d.u32(end, "br_table label")
			}
		case kSelectT:
			n := d.count(end, 1, "select type count")
			for i := uint32(0); i < n && d.err == nil; i++ {
				d.valType(end, "select type")
			}
		case kRefNull:
			d.signed(end, 33, "ref.null heap type")
		case kTryTable:
			d.blockType(end)
			depth++
			n := d.count(end, 2, "try_table catch count")
			for i := uint32(0); i < n && d.err == nil; i++ {
				cstart := d.pos
				switch kind := d.byte(end, "catch kind"); kind {
				case 0x00, 0x01: // catch, catch_ref
					d.u32(end, "catch tag")
					d.u32(end, "catch label")
				case 0x02, 0x03: // catch_all, catch_all_ref
					d.u32(end, "catch label")
				default:
					if d.err == nil {
						d.fail(ErrMalformed, cstart, "invalid catch kind %#x", kind)
					}
				}
			}
		case kDelegate:
			d.u32(end, "delegate label")
			depth--
			if depth == 0 {
				d.fail(ErrMalformed, at, "delegate outside try")
			}
		case kMisc:
			d.misc(end, at)
		case kSIMD:
			d.simd(end, at)
		case kAtomic:
			d.atomic(end, at)
		default:
			d.fail(ErrUnsupported, at, "unknown opcode %#02x", op)
		}
	}
	return out
}

// blockType decodes the block type of block, loop, if, try and try_table: empty, one value type,
// or a type index (multi-value).
func (d *decoder) blockType(end int) {
	if d.pos >= end {
		d.truncated("block type")
		return
	}
	switch c := d.b[d.pos]; c {
	case blockEmpty, valI32, valI64, valF32, valF64, valV128, valFuncref, valExternref, valExnref:
		d.pos++
	case refNullable, refNonNull:
		d.pos++
		d.signed(end, 33, "block heap type")
	default:
		start := d.pos
		if v := d.signed(end, 33, "block type"); v < 0 && d.err == nil {
			d.fail(ErrUnsupported, start, "unknown block type %#x", c)
		}
	}
}

// memarg decodes the alignment (with the multi-memory flag, the memory index) and the offset of
// a memory access.
func (d *decoder) memarg(end int) {
	if align := d.u32(end, "memory alignment"); align&0x40 != 0 {
		d.u32(end, "memory index")
	}
	d.u32(end, "memory offset")
}

// misc decodes the instruction after a 0xFC prefix at at: saturating truncation, bulk memory and
// table instructions.
func (d *decoder) misc(end, at int) {
	switch sub := d.u32(end, "0xfc sub-opcode"); sub {
	case 0, 1, 2, 3, 4, 5, 6, 7: // i32/i64.trunc_sat_f32/f64_s/u
	case 8, 12, 10, 14: // memory.init data mem, table.init elem table, memory.copy, table.copy
		d.u32(end, "index")
		d.u32(end, "index")
	case 9, 11, 13, 15, 16, 17: // data.drop, memory.fill, elem.drop, table.grow/size/fill
		d.u32(end, "index")
	default:
		if d.err == nil {
			d.fail(ErrUnsupported, at, "unknown opcode 0xfc %d", sub)
		}
	}
}

// simd decodes the instruction after a 0xFD prefix at at.
func (d *decoder) simd(end, at int) {
	sub := d.u32(end, "0xfd sub-opcode")
	if d.err != nil {
		return
	}
	kind := uint8(vBad)
	if sub < uint32(len(simdKinds)) {
		kind = simdKinds[sub]
	}
	switch kind {
	case vNone:
	case vMemarg:
		d.memarg(end)
	case vBytes:
		d.skip(end, 16, "v128 immediate")
	case vLane:
		d.skip(end, 1, "lane index")
	case vMemLn:
		d.memarg(end)
		d.skip(end, 1, "lane index")
	default:
		d.fail(ErrUnsupported, at, "unknown opcode 0xfd %d", sub)
	}
}

// atomic decodes the instruction after a 0xFE prefix at at (threads).
func (d *decoder) atomic(end, at int) {
	switch sub := d.u32(end, "0xfe sub-opcode"); {
	case d.err != nil:
	case sub == 0x03: // atomic.fence
		fstart := d.pos
		if c := d.byte(end, "atomic.fence"); c != 0 && d.err == nil {
			d.fail(ErrMalformed, fstart, "atomic.fence: reserved byte %#x", c)
		}
	case sub <= 0x02, sub >= 0x10 && sub <= 0x4e: // notify, wait, loads, stores, rmw
		d.memarg(end)
	default:
		d.fail(ErrUnsupported, at, "unknown opcode 0xfe %d", sub)
	}
}
