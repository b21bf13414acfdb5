package meter

import "math/bits"

// Opcodes written by the instrumenter, or that need attention while decoding.
const (
	opUnreachable   = 0x00
	opIf            = 0x04
	opElse          = 0x05
	opEnd           = 0x0b
	opLocalGet      = 0x20
	opLocalSet      = 0x21
	opLocalTee      = 0x22
	opGlobalGet     = 0x23
	opGlobalSet     = 0x24
	opI64Const      = 0x42
	opI64GeS        = 0x59
	opI64Sub        = 0x7d
	opI64ShrU       = 0x88
	opI64ExtendI32U = 0xad
)

// Immediate kinds of one-byte opcodes.
const (
	kBad           = iota // not an opcode wazero v1.12 knows
	kNone                 // no immediate
	kIdx                  // one u32 index (local, global, table, memory, function reference)
	kBlock                // block type, opens a block (block, if)
	kLoop                 // block type, opens a loop: a charge goes after it
	kEnd                  // closes a block, or the expression
	kBr                   // label (br, br_if, br_on_null, br_on_non_null)
	kBrTable              // vec(label) label
	kGrow                 // memory index (memory.grow)
	kReturn               // return
	kCall                 // function or type index (call, call_ref)
	kCallIndirect         // type and table index
	kReturnCall           // function or type index (return_call, return_call_ref)
	kReturnCallInd        // type and table index (return_call_indirect)
	kSelectT              // vec(value type)
	kMemarg               // memory alignment (and index) and offset
	kI32Const             // s32
	kI64Const             // s64
	kF32Const             // 4 bytes
	kF64Const             // 8 bytes
	kRefNull              // heap type
	kMisc                 // 0xFC prefix
	kSIMD                 // 0xFD prefix
	kAtomic               // 0xFE prefix

	// Exception handling. A function that uses it keeps its fuel in the global: an exception
	// leaves frames without running their spill, and enters catch blocks without a reload.
	kTry      // legacy try: block type, opens a block
	kTryTable // block type and catch clauses, opens a block
	kDelegate // label, closes a legacy try block
	kEHIdx    // tag or label index (legacy catch, throw, legacy rethrow)
	kEHNone   // no immediate (throw_ref, legacy catch_all)
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
	set(kNone, 0x00, 0x01, 0x05, 0x1a, 0x1b, 0xd1, 0xd4)
	set(kBlock, 0x02, 0x04)
	set(kLoop, 0x03)
	set(kIdx, 0x3f, 0xd2)
	set(kGrow, 0x40)
	span(kIdx, 0x20, 0x26) // local.get .. table.set
	set(kEnd, 0x0b)
	set(kBr, 0x0c, 0x0d, 0xd5, 0xd6)
	set(kBrTable, 0x0e)
	set(kReturn, 0x0f)
	set(kCall, 0x10, 0x14)
	set(kCallIndirect, 0x11)
	set(kReturnCall, 0x12, 0x15)
	set(kReturnCallInd, 0x13)
	set(kSelectT, 0x1c)
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
	set(kTry, 0x06)
	set(kTryTable, 0x1f)
	set(kDelegate, 0x18)
	set(kEHIdx, 0x07, 0x08, 0x09)
	set(kEHNone, 0x0a, 0x19)
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
	d.expr(nil, end, nil)
}

// maxLocals is the most parameters and locals a function may have, as in the JavaScript
// embedding of WebAssembly (and V8, SpiderMonkey). wazero v1.12 has no limit, and allocates a byte
// per declared local before it validates anything: 4 GB for a 10-byte function body.
const maxLocals = 50000

// Flags of a function's rewrite.
const (
	fuelLocal    = 1 << iota // the fuel is in a local, spilled to the global around calls and exits
	scratchLocal             // an i32 local holds the size operand of a bulk instruction
	fuelInGlobal             // the fuel stays in the global: the function handles exceptions
)

// rewrite holds the sequences inserted into one function body.
type rewrite struct {
	fuel                uint32 // the fuel global
	entryCost, loopCost int64
	growCost            int64
	globalOnly          bool // start every function with fuelInGlobal
	skipCode            bool // skip the instructions of every body

	flags   int
	local   uint32 // the fuel local, with fuelLocal
	scratch uint32 // the scratch local, with scratchLocal
	entry   []byte // after the local declarations
	loop    []byte // after the block type of each loop
	grow    []byte // before memory.grow and table.grow
	spill   []byte // fuelLocal: before calls and function exits
	reload  []byte // fuelLocal: after calls
	bulk    [2][]byte
}

// build sets the sequences for flags.
//
// Without fuelLocal, a charge is
//
//	global.get $fuel  i64.const cost  i64.sub  global.set $fuel
//	global.get $fuel  i64.const 0  i64.ge_s  if  else  unreachable  end
//
// With fuelLocal, the entry charge loads the global into the local and a loop charge works on
// the local only, so that a loop iteration does not go through memory:
//
//	global.get $fuel / local.get $f  i64.const cost  i64.sub  local.tee $f
//	i64.const 0  i64.ge_s  if  else  local.get $f  global.set $fuel  unreachable  end
//
// The empty then-branch is deliberate: wazero's compiler lays out the then-block right after the
// test, so the common case falls through and the trap is out of line. "i64.lt_s if unreachable
// end" puts a taken branch on every loop iteration, and measured twice the cost.
//
// The local is spilled (local.get $f  global.set $fuel) before every call and every way out of
// the function, and reloaded (global.get $fuel  local.set $f) after every call, so that the
// global is exact whenever another function or the host can see it, including after a fuel trap.
//
// A bulk instruction (memory.fill, copy, init; table.fill, copy, init) is charged by the size on
// top of the stack, set aside in the scratch local: size>>bulkShift for memory, size for tables.
func (rw *rewrite) build(flags int, local, scratch uint32) {
	rw.flags, rw.local, rw.scratch = flags, local, scratch
	rw.spill, rw.reload = rw.spill[:0], rw.reload[:0]
	if flags&fuelLocal != 0 {
		rw.spill = append(rw.spill, opLocalGet)
		rw.spill = appendU32(rw.spill, local)
		rw.spill = append(rw.spill, opGlobalSet)
		rw.spill = appendU32(rw.spill, rw.fuel)
		rw.reload = append(rw.reload, opGlobalGet)
		rw.reload = appendU32(rw.reload, rw.fuel)
		rw.reload = append(rw.reload, opLocalSet)
		rw.reload = appendU32(rw.reload, local)
	}
	rw.entry = rw.appendCharge(rw.entry[:0], true, func(dst []byte) []byte {
		return appendConst(dst, rw.entryCost)
	})
	rw.loop = rw.appendCharge(rw.loop[:0], false, func(dst []byte) []byte {
		return appendConst(dst, rw.loopCost)
	})
	rw.grow = rw.appendCharge(rw.grow[:0], false, func(dst []byte) []byte {
		return appendConst(dst, rw.growCost)
	})
	for i, shift := range [2]byte{bulkShift, 0} {
		size := func(dst []byte) []byte {
			dst = append(dst, opLocalGet)
			dst = appendU32(dst, scratch)
			dst = append(dst, opI64ExtendI32U)
			if shift != 0 {
				dst = append(dst, opI64Const, shift, opI64ShrU)
			}
			return dst
		}
		b := append(rw.bulk[i][:0], opLocalSet)
		b = appendU32(b, scratch)
		b = rw.appendCharge(b, false, size)
		b = append(b, opLocalGet)
		rw.bulk[i] = appendU32(b, scratch)
	}
}

// bulkShift sets the charge of memory.fill, memory.copy and memory.init: 1 fuel per 64 bytes.
const bulkShift = 6

// appendCharge appends a charge of the cost pushed by cost. The entry charge reads the global
// even with fuelLocal.
func (rw *rewrite) appendCharge(dst []byte, entry bool, cost func([]byte) []byte) []byte {
	if rw.flags&fuelLocal == 0 {
		dst = append(dst, opGlobalGet)
		dst = appendU32(dst, rw.fuel)
		dst = cost(dst)
		dst = append(dst, opI64Sub, opGlobalSet)
		dst = appendU32(dst, rw.fuel)
		dst = append(dst, opGlobalGet)
		dst = appendU32(dst, rw.fuel)
		return append(dst, opI64Const, 0x00, opI64GeS, opIf, blockEmpty, opElse, opUnreachable, opEnd)
	}
	if entry {
		dst = append(dst, opGlobalGet)
		dst = appendU32(dst, rw.fuel)
	} else {
		dst = append(dst, opLocalGet)
		dst = appendU32(dst, rw.local)
	}
	dst = cost(dst)
	dst = append(dst, opI64Sub, opLocalTee)
	dst = appendU32(dst, rw.local)
	dst = append(dst, opI64Const, 0x00, opI64GeS, opIf, blockEmpty, opElse)
	dst = append(dst, rw.spill...)
	return append(dst, opUnreachable, opEnd)
}

func appendConst(dst []byte, v int64) []byte {
	return appendS64(append(dst, opI64Const), v)
}

// instrumentBody decodes the function body that starts at d.pos and ends at end, of a function
// with params parameters, and appends it to out with the charges of rw.
//
// It starts with the fuel in the global and no scratch local, and starts over with fuelLocal at
// the first loop, with fuelInGlobal at the first exception handling instruction, and with
// scratchLocal at the first bulk instruction.
func (d *decoder) instrumentBody(out []byte, end int, params uint32, rw *rewrite) []byte {
	start, outStart := d.pos, len(out)
	flags := 0
	if rw.globalOnly {
		flags = fuelInGlobal
	}
	for {
		d.pos, out = start, out[:outStart]
		n := d.count(end, 2, "local declaration count")
		first := d.pos
		total := uint64(params)
		for i := uint32(0); i < n && d.err == nil; i++ {
			total += uint64(d.u32(end, "local count"))
			d.valType(end, "local type")
		}
		if d.err != nil {
			return out
		}
		if total > maxLocals {
			d.fail(ErrUnsupported, start, "%d parameters and locals, more than %d", total, maxLocals)
			return out
		}
		if rw.skipCode {
			d.pos = end
			return out
		}
		local, scratch := uint32(total), uint32(total)
		if flags&fuelLocal != 0 {
			scratch++
		}
		rw.build(flags, local, scratch)
		if extra := flags & (fuelLocal | scratchLocal); extra != 0 { // new locals go last
			out = appendU32(out, n+uint32(bits.OnesCount(uint(extra))))
			out = append(out, d.b[first:d.pos]...)
			if flags&fuelLocal != 0 {
				out = append(out, 0x01, valI64)
			}
			if flags&scratchLocal != 0 {
				out = append(out, 0x01, valI32)
			}
		} else {
			out = append(out, d.b[start:d.pos]...)
		}
		out = append(out, rw.entry...)
		var next int
		out, next = d.expr(out, end, rw)
		if next == flags {
			break
		}
		flags = next
	}
	if d.err == nil && d.pos != end {
		d.fail(ErrMalformed, d.pos, "%d bytes after the final end of the body", end-d.pos)
	}
	return out
}

// expr decodes instructions from d.pos up to the end that closes the expression, without going
// past end. If rw is not nil, it appends them to out with the sequences of rw inserted. It
// returns early, with flags other than rw.flags, if the function must be rewritten with them.
func (d *decoder) expr(out []byte, end int, rw *rewrite) ([]byte, int) {
	b := d.b
	emit := rw != nil
	flags, local := 0, false
	if emit {
		flags, local = rw.flags, rw.flags&fuelLocal != 0
	}
	depth := 1
	last := d.pos // start of what is not yet copied to out
	// insert inserts seq before the instruction at at.
	insert := func(at int, seq []byte) {
		out = append(out, b[last:at]...)
		out = append(out, seq...)
		last = at
	}
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
				if local {
					insert(at, rw.spill)
				}
				if emit {
					out = append(out, b[last:d.pos]...)
				}
				return out, flags
			}
		case kBlock:
			d.blockType(end)
			depth++
		case kLoop:
			d.blockType(end)
			depth++
			if emit && flags&(fuelLocal|fuelInGlobal) == 0 {
				return out, flags | fuelLocal
			}
			if emit && d.err == nil {
				insert(d.pos, rw.loop)
			}
		case kBr:
			label := d.u32(end, "label")
			if local && label == uint32(depth-1) { // leaves the function
				insert(at, rw.spill)
			}
		case kCall, kCallIndirect:
			d.u32(end, "function or type index")
			if opKinds[op] == kCallIndirect {
				d.u32(end, "table index")
			}
			if local && d.err == nil {
				insert(at, rw.spill)
				insert(d.pos, rw.reload)
			}
		case kReturn, kReturnCall, kReturnCallInd:
			if opKinds[op] != kReturn {
				d.u32(end, "function or type index")
			}
			if opKinds[op] == kReturnCallInd {
				d.u32(end, "table index")
			}
			if local {
				insert(at, rw.spill)
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
		case kBrTable:
			n := d.count(end, 1, "br_table label count")
			exits := false
			for i := uint32(0); i <= n && d.err == nil; i++ {
				exits = d.u32(end, "br_table label") == uint32(depth-1) || exits
			}
			if local && exits {
				insert(at, rw.spill)
			}
		case kGrow:
			d.u32(end, "memory index")
			if emit {
				insert(at, rw.grow)
			}
		case kSelectT:
			n := d.count(end, 1, "select type count")
			for i := uint32(0); i < n && d.err == nil; i++ {
				d.valType(end, "select type")
			}
		case kRefNull:
			d.signed(end, 33, "ref.null heap type")
		case kMisc:
			sub := d.misc(end, at)
			if !emit || d.err != nil {
				break
			}
			switch sub {
			case miscTableGrow:
				insert(at, rw.grow)
			case miscMemoryInit, miscMemoryCopy, miscMemoryFill, miscTableInit, miscTableCopy, miscTableFill:
				if flags&scratchLocal == 0 {
					return out, flags | scratchLocal
				}
				if sub <= miscMemoryFill {
					insert(at, rw.bulk[0])
				} else {
					insert(at, rw.bulk[1])
				}
			}
		case kSIMD:
			d.simd(end, at)
		case kAtomic:
			d.atomic(end, at)
		case kTry, kTryTable, kDelegate, kEHIdx, kEHNone:
			if emit && flags&fuelInGlobal == 0 {
				return out, (flags &^ fuelLocal) | fuelInGlobal
			}
			switch opKinds[op] {
			case kTry:
				d.blockType(end)
				depth++
			case kTryTable:
				d.blockType(end)
				depth++
				d.catches(end)
			case kDelegate:
				d.u32(end, "delegate label")
				depth--
				if depth == 0 {
					d.fail(ErrMalformed, at, "delegate outside try")
				}
			case kEHIdx:
				d.u32(end, "index")
			}
		default:
			d.fail(ErrUnsupported, at, "unknown opcode %#02x", op)
		}
	}
	return out, flags
}

// catches decodes the catch clauses of try_table.
func (d *decoder) catches(end int) {
	n := d.count(end, 2, "try_table catch count")
	for i := uint32(0); i < n && d.err == nil; i++ {
		start := d.pos
		switch kind := d.byte(end, "catch kind"); kind {
		case 0x00, 0x01: // catch, catch_ref
			d.u32(end, "catch tag")
			d.u32(end, "catch label")
		case 0x02, 0x03: // catch_all, catch_all_ref
			d.u32(end, "catch label")
		default:
			if d.err == nil {
				d.fail(ErrMalformed, start, "invalid catch kind %#x", kind)
			}
		}
	}
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
func (d *decoder) misc(end, at int) uint32 {
	sub := d.u32(end, "0xfc sub-opcode")
	switch sub {
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
	return sub
}

// 0xFC sub-opcodes that are charged. The memory ones come first.
const (
	miscMemoryInit = 8
	miscMemoryCopy = 10
	miscMemoryFill = 11
	miscTableInit  = 12
	miscTableCopy  = 14
	miscTableGrow  = 15
	miscTableFill  = 17
)

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
