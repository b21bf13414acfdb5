package meter

import "math/bits"

// Value and external kinds.
const (
	valI32       = 0x7f
	valI64       = 0x7e
	valF32       = 0x7d
	valF64       = 0x7c
	valV128      = 0x7b
	valFuncref   = 0x70
	valExternref = 0x6f
	valExnref    = 0x69
	refNullable  = 0x63 // followed by a heap type
	refNonNull   = 0x64 // followed by a heap type
	blockEmpty   = 0x40

	externFunc   = 0
	externTable  = 1
	externMemory = 2
	externGlobal = 3
	externTag    = 4
)

// valType decodes a value type.
func (d *decoder) valType(end int, what string) {
	start := d.pos
	switch c := d.byte(end, what); c {
	case valI32, valI64, valF32, valF64, valV128, valFuncref, valExternref, valExnref:
	case refNullable, refNonNull:
		d.signed(end, 33, what+" heap type")
	default:
		if d.err == nil {
			d.fail(ErrUnsupported, start, "%s: unknown value type %#x", what, c)
		}
	}
}

// refType decodes a reference type.
func (d *decoder) refType(end int, what string) {
	start := d.pos
	switch c := d.byte(end, what); c {
	case valFuncref, valExternref, valExnref:
	case refNullable, refNonNull:
		d.signed(end, 33, what+" heap type")
	default:
		if d.err == nil {
			d.fail(ErrMalformed, start, "%s: %#x is not a reference type", what, c)
		}
	}
}

// limits decodes table or memory limits.
func (d *decoder) limits(end int, memory bool) (minimum, maximum uint32, hasMax bool) {
	start := d.pos
	flags := d.byte(end, "limits")
	switch {
	case flags <= 1, memory && (flags == 2 || flags == 3): // max present; shared (threads)
	case flags&0x04 != 0:
		d.fail(ErrUnsupported, start, "64-bit limits (memory64) not supported")
		return
	default:
		d.fail(ErrMalformed, start, "invalid limits flags %#x", flags)
		return
	}
	minimum = d.u32(end, "limits minimum")
	if flags&1 != 0 {
		maximum, hasMax = d.u32(end, "limits maximum"), true
	}
	return
}

// maxTableElements bounds the tables of a module: the sum of their minimum sizes may not exceed
// it, and each defined table's maximum is lowered to its share of it (or its minimum, if larger).
// wazero v1.12 has no table limit: a table without a maximum grows to 2^32 elements (32 GB), and
// the host's memory limit covers linear memory only. 10,000,000 is the JavaScript embedding's
// limit for one table.
const maxTableElements = 10_000_000

// tableType decodes a table type and returns where its limits start and end.
func (d *decoder) tableType(end int) (minimum, maximum uint32, hasMax bool, limitsAt int) {
	d.refType(end, "table element type")
	limitsAt = d.pos
	minimum, maximum, hasMax = d.limits(end, false)
	if minimum > maxTableElements && d.err == nil {
		d.fail(ErrUnsupported, limitsAt, "table of %d elements, more than %d", minimum, maxTableElements)
	}
	return minimum, maximum, hasMax, limitsAt
}

func (d *decoder) globalType(end int) {
	d.valType(end, "global type")
	start := d.pos
	if m := d.byte(end, "global mutability"); m > 1 && d.err == nil {
		d.fail(ErrMalformed, start, "invalid global mutability %#x", m)
	}
}

func (in *instrumenter) decodeTypes(end int) {
	d := &in.d
	n := d.count(end, 3, "type count")
	in.typeParams = make([]uint32, 0, n)
	for i := uint32(0); i < n && d.err == nil; i++ {
		start := d.pos
		if form := d.byte(end, "type form"); form != 0x60 {
			if d.err == nil {
				d.fail(ErrUnsupported, start, "type %d: form %#x is not a function type", i, form)
			}
			return
		}
		for j := range 2 { // parameters, results
			n := d.count(end, 1, "value type count")
			if j == 0 {
				in.typeParams = append(in.typeParams, n)
			}
			for k := uint32(0); k < n && d.err == nil; k++ {
				d.valType(end, "function type value")
			}
		}
	}
}

func (in *instrumenter) decodeImports(end int) {
	d := &in.d
	n := d.count(end, 4, "import count")
	if in.inspect {
		in.mod.Imports = make([]Import, 0, n)
	}
	for i := uint32(0); i < n && d.err == nil; i++ {
		module := d.name(end, "import module name")
		name := d.name(end, "import name")
		start := d.pos
		kind := d.byte(end, "import kind")
		var lim Limits
		switch kind {
		case externFunc:
			d.u32(end, "import type index")
		case externTable:
			lim.Min, lim.Max, lim.HasMax, _ = d.tableType(end)
		case externMemory:
			lim.Min, lim.Max, lim.HasMax = d.limits(end, true)
		case externGlobal:
			d.globalType(end)
			in.importedGlobal++
		case externTag:
			d.tag(end)
		default:
			if d.err == nil {
				d.fail(ErrMalformed, start, "import %d: invalid kind %#x", i, kind)
			}
		}
		if in.inspect && d.err == nil {
			in.mod.Imports = append(in.mod.Imports, Import{Module: string(module), Name: string(name), Kind: Kind(kind), Limits: lim})
		}
	}
}

func (d *decoder) tag(end int) {
	start := d.pos
	if attr := d.byte(end, "tag attribute"); attr != 0 && d.err == nil {
		d.fail(ErrMalformed, start, "invalid tag attribute %#x", attr)
	}
	d.u32(end, "tag type index")
}

func (in *instrumenter) decodeFunctions(end int) {
	d := &in.d
	in.numFuncs = d.count(end, 1, "function count")
	in.funcTypes = make([]uint32, 0, in.numFuncs)
	for i := uint32(0); i < in.numFuncs && d.err == nil; i++ {
		start := d.pos
		t := d.u32(end, "function type index")
		if t >= uint32(len(in.typeParams)) && d.err == nil {
			d.fail(ErrMalformed, start, "function %d: type index %d out of range", i, t)
		}
		in.funcTypes = append(in.funcTypes, t)
	}
}

// instrumentTables copies the table section with the maximum of each table bounded (see
// maxTableElements).
func (in *instrumenter) instrumentTables(end int) {
	d := &in.d
	first := d.pos
	n := d.count(end, 3, "table count")
	type table struct {
		start, limitsAt, limitsEnd, end int
		minimum, maximum                uint32
		hasMax                          bool
	}
	tables := make([]table, 0, n)
	var sum uint64
	for i := uint32(0); i < n && d.err == nil; i++ {
		t := table{start: d.pos}
		withInit := d.pos+1 < end && d.b[d.pos] == 0x40 && d.b[d.pos+1] == 0x00
		if withInit { // table with an initializer (typed function references)
			d.pos += 2
		}
		t.minimum, t.maximum, t.hasMax, t.limitsAt = d.tableType(end)
		t.limitsEnd = d.pos
		if withInit {
			d.constExpr(end)
		}
		t.end = d.pos
		sum += uint64(t.minimum)
		tables = append(tables, t)
	}
	if d.err != nil {
		return
	}
	if sum > maxTableElements {
		d.fail(ErrUnsupported, d.pos, "tables of %d elements in all, more than %d", sum, maxTableElements)
		return
	}
	if in.inspect {
		return
	}
	body := appendU32(make([]byte, 0, end-first+10*len(tables)), n)
	for _, t := range tables {
		limit := max(uint32(maxTableElements/len(tables)), t.minimum)
		if t.hasMax {
			limit = min(limit, t.maximum)
		}
		body = append(body, d.b[t.start:t.limitsAt]...)
		body = append(body, 0x01) // minimum and maximum
		body = appendU32(body, t.minimum)
		body = appendU32(body, limit)
		body = append(body, d.b[t.limitsEnd:t.end]...)
	}
	in.out = appendSection(in.out, secTable, body)
}

func (in *instrumenter) decodeMemories(end int) {
	d := &in.d
	n := d.count(end, 2, "memory count")
	for i := uint32(0); i < n && d.err == nil; i++ {
		var lim Limits
		lim.Min, lim.Max, lim.HasMax = d.limits(end, true)
		if in.inspect && d.err == nil {
			in.mod.Memories = append(in.mod.Memories, lim)
		}
	}
}

func (in *instrumenter) decodeTags(end int) {
	d := &in.d
	n := d.count(end, 2, "tag count")
	for i := uint32(0); i < n && d.err == nil; i++ {
		d.tag(end)
	}
}

// instrumentGlobals copies the global section with the fuel global appended.
func (in *instrumenter) instrumentGlobals(end int) {
	d := &in.d
	in.definedGlobal = d.count(end, 3, "global count")
	first := d.pos
	for i := uint32(0); i < in.definedGlobal && d.err == nil; i++ {
		d.globalType(end)
		d.constExpr(end)
	}
	if d.err != nil {
		return
	}
	if in.importedGlobal+in.definedGlobal >= 1<<32-2 {
		d.fail(ErrUnsupported, first, "no global index left for the fuel globals")
		return
	}
	if in.inspect {
		return
	}
	body := appendU32(make([]byte, 0, 5+end-first+32), in.definedGlobal+2)
	body = append(body, d.b[first:end]...)
	body = in.appendFuelGlobal(body)
	in.out = appendSection(in.out, secGlobal, body)
	in.globalDone = true
}

// instrumentExports copies the export section with the fuel global's export appended.
func (in *instrumenter) instrumentExports(end int) {
	d := &in.d
	n := d.count(end, 3, "export count")
	first := d.pos
	for i := uint32(0); i < n && d.err == nil; i++ {
		start := d.pos
		name := d.name(end, "export name")
		if (string(name) == GlobalName || string(name) == StopName) && !in.inspect {
			d.fail(ErrNameTaken, start, "export %d", i)
			return
		}
		kstart := d.pos
		kind := d.byte(end, "export kind")
		if kind > externTag && d.err == nil {
			d.fail(ErrMalformed, kstart, "export %d: invalid kind %#x", i, kind)
			return
		}
		index := d.u32(end, "export index")
		if in.inspect && d.err == nil {
			in.mod.Exports = append(in.mod.Exports, Export{Name: string(name), Kind: Kind(kind), Index: index})
		}
	}
	if d.err != nil || in.inspect {
		return
	}
	if n >= 1<<32-2 {
		d.fail(ErrUnsupported, first, "export count overflow")
		return
	}
	body := appendU32(make([]byte, 0, 5+end-first+48), n+2)
	body = append(body, d.b[first:end]...)
	body = in.appendFuelExport(body)
	in.out = appendSection(in.out, secExport, body)
	in.exportDone = true
}

func (in *instrumenter) decodeElements(end int) {
	d := &in.d
	n := d.count(end, 2, "element segment count")
	for i := uint32(0); i < n && d.err == nil; i++ {
		start := d.pos
		flags := d.u32(end, "element segment flags")
		if flags > 7 {
			if d.err == nil {
				d.fail(ErrMalformed, start, "element segment %d: invalid flags %d", i, flags)
			}
			return
		}
		if flags&1 == 0 { // active
			if flags&2 != 0 {
				d.u32(end, "element table index")
			}
			d.constExpr(end)
		}
		if flags&3 != 0 { // element kind or reference type
			if flags&4 == 0 {
				kstart := d.pos
				if kind := d.byte(end, "element kind"); kind != 0 && d.err == nil {
					d.fail(ErrMalformed, kstart, "element segment %d: invalid element kind %#x", i, kind)
				}
			} else {
				d.refType(end, "element type")
			}
		}
		if flags&4 == 0 { // function indices
			m := d.count(end, 1, "element count")
			for j := uint32(0); j < m && d.err == nil; j++ {
				d.u32(end, "element function index")
			}
		} else { // expressions
			m := d.count(end, 1, "element count")
			for j := uint32(0); j < m && d.err == nil; j++ {
				d.constExpr(end)
			}
		}
	}
}

func (in *instrumenter) decodeData(end int) {
	d := &in.d
	n := d.count(end, 2, "data segment count")
	for i := uint32(0); i < n && d.err == nil; i++ {
		start := d.pos
		switch flags := d.u32(end, "data segment flags"); flags {
		case 0:
			d.constExpr(end)
		case 1:
		case 2:
			d.u32(end, "data memory index")
			d.constExpr(end)
		default:
			if d.err == nil {
				d.fail(ErrMalformed, start, "data segment %d: invalid flags %d", i, flags)
			}
			return
		}
		sstart := d.pos
		size := d.u32(end, "data segment size")
		if d.err == nil && int64(size) > int64(end-d.pos) {
			d.fail(ErrMalformed, sstart, "data segment %d: size %d beyond the end of the section", i, size)
			return
		}
		d.pos += int(size)
	}
}

// instrumentCode rewrites the code section: each body gets the entry charge after its locals, a
// loop charge after each loop's block type, and, if it keeps its fuel in a local, the spills and
// reloads around calls and exits.
func (in *instrumenter) instrumentCode(end int) {
	d := &in.d
	in.haveCode = true
	start := d.pos
	n := d.count(end, 2, "function body count")
	if d.err != nil {
		return
	}
	if n != in.numFuncs {
		d.fail(ErrMalformed, start, "%d function bodies for %d declared functions", n, in.numFuncs)
		return
	}
	in.rw.fuel, in.rw.stop = in.fuelIndex(), in.fuelIndex()+1
	in.rw.entryCost, in.rw.loopCost, in.rw.growCost = in.opts.EntryCost, in.opts.LoopCost, in.opts.GrowCost
	in.rw.pageShift = byte(bits.TrailingZeros64(uint64(in.opts.PageCost))) //nolint:gosec // PageCost is a power of two up to 2^20

	// The section and body sizes are only known once written: reserve the longest LEB128,
	// write, then move the content back over the unused bytes.
	in.out = append(in.out, secCode)
	secStart := len(in.out)
	in.out = append(in.out, 0, 0, 0, 0, 0)
	in.out = appendU32(in.out, n)
	for i := uint32(0); i < n && d.err == nil; i++ {
		d.fn = int(i)
		bstart := d.pos
		size := d.u32(end, "body size")
		if d.err != nil {
			return
		}
		if int64(size) > int64(end-d.pos) {
			d.fail(ErrMalformed, bstart, "body size %d beyond the end of the section", size)
			return
		}
		bodyEnd := d.pos + int(size)
		sizeAt := len(in.out)
		in.out = append(in.out, 0, 0, 0, 0, 0)
		in.out = d.instrumentBody(in.out, bodyEnd, in.typeParams[in.funcTypes[i]], &in.rw)
		if d.err != nil {
			return
		}
		if !in.shrink(sizeAt) {
			d.fail(ErrUnsupported, bstart, "instrumented body larger than 4 GiB")
			return
		}
	}
	d.fn = -1
	if d.err == nil && !in.shrink(secStart) {
		d.fail(ErrUnsupported, start, "instrumented code section larger than 4 GiB")
	}
}

// shrink writes, at at, the size of what follows the 5 bytes reserved there, and moves that
// content back to follow the size's minimal encoding.
func (in *instrumenter) shrink(at int) bool {
	size := len(in.out) - at - 5
	if uint64(size) > 1<<32-1 {
		return false
	}
	n := u32Len(uint32(size))
	appendU32(in.out[at:at], uint32(size))
	if n < 5 {
		copy(in.out[at+n:], in.out[at+5:])
		in.out = in.out[:len(in.out)-(5-n)]
	}
	return true
}
