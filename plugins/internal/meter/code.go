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
	opI64Add        = 0x7c
	opI64Sub        = 0x7d
	opI64Shl        = 0x86
	opI64ShrU       = 0x88
	opI64ExtendI32U = 0xad
	opMemorySize    = 0x3f
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
	scratchLocal             // an i32 local holds the size operand of a grow or bulk instruction
	fuelInGlobal             // the fuel stays in the global: the function handles exceptions
)

// Instruction weights, in fuel units. A unit is about the time of one simple instruction of
// wazero's optimizing compiler on amd64 (0.3 to 0.5 ns); instructions that take much longer
// (multiplication, division, square root, calls through a table, atomics) weigh more. Structural
// instructions (block, loop, else, end, nop) weigh nothing. A call weighs its call site; the
// callee's entry is charged at the callee (entryCost plus its instructions).
var opWeights = func() (w [256]uint8) {
	for i := range w {
		w[i] = 1
	}
	for _, op := range []int{0x01, 0x02, 0x03, 0x05, 0x0b} { // nop, block, loop, else, end
		w[op] = 0
	}
	w[0x10], w[0x12] = 4, 4                             // call, return_call
	w[0x11], w[0x13], w[0x14], w[0x15] = 12, 12, 12, 12 // call_indirect, call_ref and their tail forms
	w[0x6c], w[0x7e] = 2, 2                             // i32.mul, i64.mul
	for op := 0x6d; op <= 0x70; op++ {                  // i32.div_s/u, rem_s/u
		w[op] = 6
	}
	for op := 0x7f; op <= 0x82; op++ { // i64.div_s/u, rem_s/u
		w[op] = 10
	}
	for op := 0x8b; op <= 0xbf; op++ { // float arithmetic and conversions
		w[op] = 2
	}
	w[0x91], w[0x95] = 6, 6                                                    // f32.sqrt, f32.div
	w[0x9f], w[0xa3] = 10, 10                                                  // f64.sqrt, f64.div
	for _, op := range []int{0xa8, 0xa9, 0xaa, 0xab, 0xae, 0xaf, 0xb0, 0xb1} { // trapping truncations
		w[op] = 4
	}
	return w
}()

// Weights of prefixed instructions: saturating truncations, atomics, and SIMD (its divisions and
// square roots weigh more).
const (
	weightTruncSat   = 4
	weightAtomic     = 4
	weightSIMD       = 2
	weightSIMDDivide = 20
)

func simdWeight(sub uint32) int64 {
	switch sub {
	case 0xe3, 0xe7, 0xef, 0xf3: // f32x4.sqrt, f32x4.div, f64x2.sqrt, f64x2.div
		return weightSIMDDivide
	}
	return weightSIMD
}

// mergeLimit is the largest cost of an optional segment (an arm of an if, the code after a block
// a branch targets) that is charged with the segment that dominates it rather than on its own:
// a charge costs about 3 units, so a smaller segment is cheaper to pay for in advance, even when
// it does not run.
const mergeLimit = 6

// segment is a run of instructions charged at one place, its start: a function entry, a loop
// header (mandatory), the start of an arm of an if, or the code after a block that a branch
// targets (optional).
type segment struct {
	pos    int   // input offset where the charge goes
	cost   int64 // the weights of its instructions, plus the base cost of an entry or loop
	dom    int32 // the segment that dominates it within one loop iteration; -1 if mandatory
	merged bool  // charged with dom
}

// frame is an open block, loop, if or try while decoding a body.
type frame struct {
	loop     bool
	targeted bool  // a branch goes to the end of this block (not a loop)
	seg      int32 // the segment that pays for the instructions at this level now
	outer    int32 // the segment of the enclosing level when the block began
}

// rewrite holds the state of one function body's rewrite: two passes over the instructions,
// measuring then emitting.
type rewrite struct {
	fuel, stop          uint32 // the fuel and stop globals
	entryCost, loopCost int64
	growCost            int64
	pageShift           byte   // log2 of the fuel per page of memory.grow
	memory              uint32 // the memory of the memory.grow being charged
	globalOnly          bool   // start every function with fuelInGlobal
	skipCode            bool   // skip the instructions of every body

	measuring bool // the first pass: build segs and need, emit nothing
	need      int  // the flags the body needs, found by the first pass
	segs      []segment
	next      int // the second pass: the next segment
	frames    []frame

	flags   int
	local   uint32 // the fuel local, with fuelLocal
	scratch uint32 // the scratch local, with scratchLocal
	spill   []byte // fuelLocal: before calls and function exits
	reload  []byte // fuelLocal: after calls
	grow    [2][]byte
	bulk    [2][]byte
	tmp     []byte
}

// build sets the sequences for flags.
//
// Without fuelLocal, a charge is
//
//	global.get $fuel  i64.const cost  i64.sub  global.set $fuel
//	global.get $fuel  global.get $stop  i64.ge_s  if  else  unreachable  end
//
// With fuelLocal, the entry charge loads the global into the local and the other charges work
// on the local only, so that a loop iteration does not write memory:
//
//	global.get $fuel / local.get $f  i64.const cost  i64.sub  local.tee $f
//	global.get $stop  i64.ge_s  if  else  local.get $f  global.set $fuel  unreachable  end
//
// The stop global is 0 unless the host stops the call (see StopName). The empty then-branch is
// deliberate: wazero's compiler lays out the then-block right after the test, so the common case
// falls through and the trap is out of line. "i64.lt_s if unreachable end" puts a taken branch on
// every loop iteration, and measured twice the cost.
//
// The local is spilled (local.get $f  global.set $fuel) before every call and every way out of
// the function, and reloaded (global.get $fuel  local.set $f) after every call, so that the
// global is exact whenever another function or the host can see it, including after a fuel trap.
//
// A grow or bulk instruction (memory.grow, table.grow; memory.fill, copy, init; table.fill,
// copy, init) is charged by the size on top of the stack, set aside in the scratch local:
// growCost + (pages+memory.size)<<pageShift for memory.grow (the runtime may copy the whole
// memory to grow it), growCost + elements for table.grow,
// size>>bulkShift for bulk memory, size for bulk tables.
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
	size := func(dst []byte) []byte {
		dst = append(dst, opLocalGet)
		dst = appendU32(dst, scratch)
		return append(dst, opI64ExtendI32U)
	}
	sized := func(dst []byte, cost func([]byte) []byte) []byte {
		dst = append(dst[:0], opLocalSet)
		dst = appendU32(dst, scratch)
		dst = rw.appendCharge(dst, false, cost)
		dst = append(dst, opLocalGet)
		return appendU32(dst, scratch)
	}
	rw.grow[0] = sized(rw.grow[0], func(dst []byte) []byte {
		dst = append(size(dst), opMemorySize)
		dst = appendU32(dst, rw.memory)
		dst = append(dst, opI64ExtendI32U, opI64Add, opI64Const, rw.pageShift, opI64Shl)
		return append(appendConst(dst, rw.growCost), opI64Add)
	})
	rw.grow[1] = sized(rw.grow[1], func(dst []byte) []byte {
		return append(appendConst(size(dst), rw.growCost), opI64Add)
	})
	rw.bulk[0] = sized(rw.bulk[0], func(dst []byte) []byte {
		return append(size(dst), opI64Const, bulkShift, opI64ShrU)
	})
	rw.bulk[1] = sized(rw.bulk[1], size)
}

// bulkShift sets the charge of memory.fill, memory.copy and memory.init: 1 fuel per 4 bytes,
// about the speed of a large copy on the reference machine.
const bulkShift = 2

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
		dst = append(dst, opGlobalGet)
		dst = appendU32(dst, rw.stop)
		return append(dst, opI64GeS, opIf, blockEmpty, opElse, opUnreachable, opEnd)
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
	dst = append(dst, opGlobalGet)
	dst = appendU32(dst, rw.stop)
	dst = append(dst, opI64GeS, opIf, blockEmpty, opElse)
	dst = append(dst, rw.spill...)
	return append(dst, opUnreachable, opEnd)
}

// charge returns the charge of a segment of the given cost.
func (rw *rewrite) charge(cost int64, entry bool) []byte {
	rw.tmp = rw.appendCharge(rw.tmp[:0], entry, func(dst []byte) []byte {
		return appendConst(dst, cost)
	})
	return rw.tmp
}

func appendConst(dst []byte, v int64) []byte {
	return appendS64(append(dst, opI64Const), v)
}

// merge lets each optional segment of at most mergeLimit be charged with its dominator, from
// the last segment to the first, so that a dominator's cost includes what merged into it before
// it is itself considered.
func (rw *rewrite) merge() {
	for i := len(rw.segs) - 1; i > 0; i-- {
		s := &rw.segs[i]
		if s.dom >= 0 && s.cost <= mergeLimit {
			rw.segs[s.dom].cost += s.cost
			s.merged = true
		}
	}
}

// instrumentBody decodes the function body that starts at d.pos and ends at end, of a function
// with params parameters, and appends it to out with the charges of rw.
//
// It decodes the body twice. The first pass measures: it splits the body into segments, each
// charged at its start with the weights of its instructions (see segment), and finds what the
// body needs: a fuel local if it has a loop, the global if it handles exceptions, a scratch
// local if it has a grow or bulk instruction. The second pass writes the body with the charges.
//
// # Why is it sound?
//
// Within one iteration of the innermost loop around it (or one call, outside loops), control
// only moves forward, so each instruction runs at most once between two charges of its loop
// header or function entry. Every segment but those is charged where control must pass before
// any of its instructions (the start of an arm of an if, the code after a block), and an
// optional segment merged into its dominator is charged earlier on the same path. So every
// instruction that runs has been paid for, once per run; a branch that skips code makes a call
// pay for code it did not run, never the reverse.
func (d *decoder) instrumentBody(out []byte, end int, params uint32, rw *rewrite) []byte {
	start, outStart := d.pos, len(out)
	for pass := 0; pass < 2; pass++ {
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
		if pass == 0 {
			rw.measuring, rw.need, rw.segs = true, 0, rw.segs[:0]
			d.expr(nil, end, rw)
			rw.measuring = false
			if d.err != nil {
				return out
			}
			rw.merge()
			continue
		}
		flags := rw.need
		if rw.globalOnly || flags&fuelInGlobal != 0 {
			flags = flags&^fuelLocal | fuelInGlobal
		}
		local, scratch := uint32(total), uint32(total) //nolint:gosec // total <= maxLocals
		if flags&fuelLocal != 0 {
			scratch++
		}
		rw.build(flags, local, scratch)
		rw.next = 0
		if extra := flags & (fuelLocal | scratchLocal); extra != 0 { // new locals go last
			out = appendU32(out, n+uint32(bits.OnesCount(uint(extra)))) //nolint:gosec // at most 2
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
		out = d.expr(out, end, rw)
	}
	if d.err == nil && d.pos != end {
		d.fail(ErrMalformed, d.pos, "%d bytes after the final end of the body", end-d.pos)
	}
	return out
}

// expr decodes instructions from d.pos up to the end that closes the expression, without going
// past end. If rw is not nil, it tracks the body's segments: the first pass (rw.measuring)
// records them, the second appends the instructions to out with the sequences of rw inserted.
func (d *decoder) expr(out []byte, end int, rw *rewrite) []byte {
	b := d.b
	track := rw != nil
	measure := track && rw.measuring
	emit := track && !measure
	local := emit && rw.flags&fuelLocal != 0
	depth := 1
	last := d.pos // start of what is not yet copied to out
	// insert inserts seq before the instruction at at.
	insert := func(at int, seq []byte) {
		out = append(out, b[last:at]...)
		out = append(out, seq...)
		last = at
	}
	// open starts a segment at pos, dominated by dom (-1: mandatory), with a base cost.
	open := func(pos int, dom int32, base int64) int32 {
		if measure {
			rw.segs = append(rw.segs, segment{pos: pos, cost: base, dom: dom})
			return int32(len(rw.segs) - 1) //nolint:gosec // at most one segment per body byte
		}
		i := rw.next
		rw.next++
		if s := &rw.segs[i]; !s.merged {
			insert(pos, rw.charge(s.cost, i == 0))
		}
		return int32(i) //nolint:gosec // at most one segment per body byte
	}
	// add charges w to the segment of the innermost block.
	add := func(w int64) {
		if measure {
			rw.segs[rw.frames[len(rw.frames)-1].seg].cost += w
		}
	}
	// target notes a branch to label.
	target := func(label uint32) {
		if track && label < uint32(len(rw.frames)) { //nolint:gosec // frames are at most the body's bytes
			if f := &rw.frames[len(rw.frames)-1-int(label)]; !f.loop {
				f.targeted = true
			}
		}
	}
	if track {
		rw.frames = append(rw.frames[:0], frame{outer: -1})
		rw.frames[0].seg = open(d.pos, -1, rw.entryCost)
	}
	for d.err == nil {
		if d.pos >= end {
			d.truncated("expression (no final end)")
			break
		}
		at := d.pos
		op := b[at]
		d.pos++
		if track {
			add(int64(opWeights[op]))
		}
		switch opKinds[op] {
		case kNone:
			if op == opElse && track {
				f := &rw.frames[len(rw.frames)-1]
				f.seg = open(d.pos, f.outer, 0)
			}
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
				return out
			}
			if track && len(rw.frames) > 1 {
				f := rw.frames[len(rw.frames)-1]
				rw.frames = rw.frames[:len(rw.frames)-1]
				if p := &rw.frames[len(rw.frames)-1]; !f.loop && f.targeted {
					p.seg = open(d.pos, p.seg, 0)
				}
			}
		case kBlock:
			d.blockType(end)
			depth++
			if track {
				seg := rw.frames[len(rw.frames)-1].seg
				f := frame{outer: seg, seg: seg}
				if op == opIf {
					f.seg = open(d.pos, seg, 0)
				}
				rw.frames = append(rw.frames, f)
			}
		case kLoop:
			d.blockType(end)
			depth++
			if track {
				rw.need |= fuelLocal
				f := frame{loop: true, outer: rw.frames[len(rw.frames)-1].seg}
				f.seg = open(d.pos, -1, rw.loopCost)
				rw.frames = append(rw.frames, f)
			}
		case kBr:
			label := d.u32(end, "label")
			if local && label == uint32(depth-1) { //nolint:gosec // depth >= 1 // leaves the function
				insert(at, rw.spill)
			}
			target(label)
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
				label := d.u32(end, "br_table label")
				exits = label == uint32(depth-1) || exits //nolint:gosec // depth >= 1
				target(label)
			}
			if local && exits {
				insert(at, rw.spill)
			}
		case kGrow:
			mem := d.u32(end, "memory index")
			if measure {
				rw.need |= scratchLocal
			}
			if emit && d.err == nil {
				if mem != rw.memory {
					rw.memory = mem
					rw.build(rw.flags, rw.local, rw.scratch)
				}
				insert(at, rw.grow[0])
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
			if !track || d.err != nil {
				break
			}
			switch sub {
			case miscTableGrow:
				rw.need |= scratchLocal
				if emit {
					insert(at, rw.grow[1])
				}
			case miscMemoryInit, miscMemoryCopy, miscMemoryFill, miscTableInit, miscTableCopy, miscTableFill:
				rw.need |= scratchLocal
				if !emit {
					break
				}
				if sub <= miscMemoryFill {
					insert(at, rw.bulk[0])
				} else {
					insert(at, rw.bulk[1])
				}
			default:
				if sub < 8 { // saturating truncations
					add(weightTruncSat - 1)
				}
			}
		case kSIMD:
			sub := d.simd(end, at)
			if track {
				add(simdWeight(sub) - 1)
			}
		case kAtomic:
			d.atomic(end, at)
			if track {
				add(weightAtomic - 1)
			}
		case kTry, kTryTable, kDelegate, kEHIdx, kEHNone:
			if measure {
				rw.need |= fuelInGlobal
			}
			switch opKinds[op] {
			case kTry, kTryTable:
				d.blockType(end)
				depth++
				if opKinds[op] == kTryTable {
					d.catches(end)
				}
				if track {
					seg := rw.frames[len(rw.frames)-1].seg
					rw.frames = append(rw.frames, frame{outer: seg, seg: seg})
				}
			case kDelegate:
				d.u32(end, "delegate label")
				depth--
				if depth == 0 {
					d.fail(ErrMalformed, at, "delegate outside try")
				} else if track && len(rw.frames) > 1 {
					rw.frames = rw.frames[:len(rw.frames)-1]
				}
			case kEHIdx:
				d.u32(end, "index")
			}
		default:
			d.fail(ErrUnsupported, at, "unknown opcode %#02x", op)
		}
	}
	return out
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

// simd decodes the instruction after a 0xFD prefix at at, and returns its sub-opcode.
func (d *decoder) simd(end, at int) uint32 {
	sub := d.u32(end, "0xfd sub-opcode")
	if d.err != nil {
		return sub
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
	return sub
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
