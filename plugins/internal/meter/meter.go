package meter

import (
	"bytes"
	"errors"
	"fmt"
)

// GlobalName is the export name of the mutable i64 global that holds the remaining fuel of an
// instrumented module. The host sets it to a non-negative budget before a call, and reads it after:
// a trap with a negative fuel means the budget ran out.
const GlobalName = "flowcache_fuel"

// Defaults used by [Options] fields left at zero.
const (
	// DefaultEntryCost is the fuel charged at each function entry.
	DefaultEntryCost = 1
	// DefaultLoopCost is the fuel charged at each loop header, that is once per iteration.
	DefaultLoopCost = 1
	// DefaultGrowCost is the fuel charged for each memory.grow and table.grow.
	DefaultGrowCost = 1000
	// DefaultInitialFuel is the initial value of the fuel global: the budget of the module's
	// start function and of any call made before the host first sets the global.
	DefaultInitialFuel = 1 << 32
)

// Errors returned by [Instrument], wrapped with the place where decoding failed. Test them with
// errors.Is.
var (
	// ErrMalformed reports a module that does not follow the binary format.
	ErrMalformed = errors.New("meter: malformed module")
	// ErrUnsupported reports a well-formed construct this package does not know: a binary
	// version other than 1, an unknown section or opcode, memory64.
	ErrUnsupported = errors.New("meter: unsupported module")
	// ErrNameTaken reports a module that already exports GlobalName.
	ErrNameTaken = errors.New("meter: export name " + GlobalName + " already used")
	// ErrOptions reports a negative cost or fuel in Options.
	ErrOptions = errors.New("meter: invalid options")
)

// Options configures [Instrument]. The zero value selects the defaults.
type Options struct {
	// EntryCost is the fuel charged at every function entry; 0 means DefaultEntryCost.
	EntryCost int64
	// LoopCost is the fuel charged at every loop header, each iteration; 0 means
	// DefaultLoopCost.
	LoopCost int64
	// GrowCost is the fuel charged for each memory.grow and table.grow, which can take the
	// runtime much longer than an instruction (a failing memory.grow leaves the compiled code);
	// 0 means DefaultGrowCost.
	GrowCost int64
	// InitialFuel is the initial value of the fuel global; 0 means DefaultInitialFuel.
	InitialFuel int64
}

func (o Options) withDefaults() (Options, error) {
	if o.EntryCost < 0 || o.LoopCost < 0 || o.GrowCost < 0 || o.InitialFuel < 0 {
		return o, fmt.Errorf("%w: EntryCost %d, LoopCost %d, GrowCost %d, InitialFuel %d: must not be negative",
			ErrOptions, o.EntryCost, o.LoopCost, o.GrowCost, o.InitialFuel)
	}
	if o.EntryCost == 0 {
		o.EntryCost = DefaultEntryCost
	}
	if o.LoopCost == 0 {
		o.LoopCost = DefaultLoopCost
	}
	if o.GrowCost == 0 {
		o.GrowCost = DefaultGrowCost
	}
	if o.InitialFuel == 0 {
		o.InitialFuel = DefaultInitialFuel
	}
	return o, nil
}

// Section ids. See https://webassembly.github.io/spec/core/binary/modules.html#sections.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13 // exception handling

	noSection = 0xff
)

// sectionOrder gives the position a non-custom section must respect: the data count section
// sits between element and code, the tag section between memory and global.
var sectionOrder = [...]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6,
	secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCount: 11, secCode: 12,
	secData: 13,
}

func sectionName(id byte) string {
	switch id {
	case secCustom:
		return "custom"
	case secType:
		return "type"
	case secImport:
		return "import"
	case secFunction:
		return "function"
	case secTable:
		return "table"
	case secMemory:
		return "memory"
	case secGlobal:
		return "global"
	case secExport:
		return "export"
	case secStart:
		return "start"
	case secElement:
		return "element"
	case secCode:
		return "code"
	case secData:
		return "data"
	case secDataCount:
		return "data count"
	case secTag:
		return "tag"
	}
	return fmt.Sprintf("unknown(%d)", id)
}

var header = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// Instrument returns a copy of the WebAssembly binary module wasm in which every function entry
// and every loop header charges fuel from an exported mutable i64 global named GlobalName, and
// traps with unreachable when the fuel goes below zero. memory.grow and table.grow charge
// opts.GrowCost; memory.fill, memory.copy and memory.init charge 1 per 64 bytes, and table.fill,
// table.copy and table.init 1 per element. See the package documentation for where the fuel is
// kept.
//
// The new global is the last one in the global index space, and is exported as GlobalName; its
// initial value is opts.InitialFuel. Everything else keeps its index. Instrument does not modify
// wasm and is safe for concurrent use. It fails with an error wrapping ErrMalformed,
// ErrUnsupported, ErrNameTaken or ErrOptions. Its cost is linear in len(wasm), and it checks every
// count and size against the bytes that hold it before it allocates.
func Instrument(wasm []byte, opts Options) ([]byte, error) {
	return instrument(wasm, opts, false)
}

// instrument is Instrument; globalOnly keeps the fuel of every function in the global, to
// measure what the local saves.
func instrument(wasm []byte, opts Options, globalOnly bool) ([]byte, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	in := instrumenter{
		d:    decoder{b: wasm, section: noSection, fn: -1},
		opts: opts,
	}
	in.rw.globalOnly = globalOnly
	return in.run()
}

// instrumenter holds the state of one Instrument call. It decodes the module section by section
// and writes the output as it goes: every section but global, export and code is copied verbatim.
type instrumenter struct {
	d    decoder
	opts Options
	out  []byte

	numTypes       uint32
	importedGlobal uint32 // imported globals, which come first in the global index space
	definedGlobal  uint32 // globals of the global section
	numFuncs       uint32 // entries of the function section
	haveCode       bool
	globalDone     bool // the fuel global has been written
	exportDone     bool // its export has been written

	typeParams []uint32 // number of parameters of each type
	funcTypes  []uint32 // type index of each function of the function section
	rw         rewrite
}

func (in *instrumenter) run() ([]byte, error) {
	d := &in.d
	if len(d.b) < len(header) || !bytes.Equal(d.b[:4], header[:4]) {
		return nil, fmt.Errorf("%w: not a WebAssembly binary (no \\0asm magic)", ErrMalformed)
	}
	if !bytes.Equal(d.b[4:8], header[4:8]) {
		return nil, fmt.Errorf("%w: binary version % x, want 01 00 00 00", ErrUnsupported, d.b[4:8])
	}
	in.out = make([]byte, 0, len(d.b)+len(d.b)/4+64)
	in.out = append(in.out, header...)
	d.pos = len(header)

	last := 0 // order of the last non-custom section
	for d.pos < len(d.b) && d.err == nil {
		start := d.pos
		id := d.b[d.pos]
		d.pos++
		d.section = id
		size := d.u32(len(d.b), "section size")
		if d.err != nil {
			break
		}
		if int64(size) > int64(len(d.b)-d.pos) {
			d.fail(ErrMalformed, start, "section size %d beyond the end of the module", size)
			break
		}
		end := d.pos + int(size)
		if id != secCustom {
			if int(id) >= len(sectionOrder) || sectionOrder[id] == 0 {
				d.fail(ErrUnsupported, start, "unknown section id %d", id)
				break
			}
			if sectionOrder[id] <= last {
				d.fail(ErrMalformed, start, "section out of order or repeated")
				break
			}
			last = sectionOrder[id]
			in.flushBefore(id)
		}
		switch id {
		case secCustom:
			d.name(end, "custom section name")
			d.pos = end
		case secType:
			in.decodeTypes(end)
		case secImport:
			in.decodeImports(end)
		case secFunction:
			in.decodeFunctions(end)
		case secTable:
			in.decodeTables(end)
		case secMemory:
			in.decodeMemories(end)
		case secTag:
			in.decodeTags(end)
		case secGlobal:
			in.instrumentGlobals(end)
		case secExport:
			in.instrumentExports(end)
		case secStart:
			d.u32(end, "start function index")
		case secElement:
			in.decodeElements(end)
		case secDataCount:
			d.u32(end, "data count")
		case secCode:
			in.instrumentCode(end)
		case secData:
			in.decodeData(end)
		}
		if d.err != nil {
			break
		}
		if d.pos != end {
			d.fail(ErrMalformed, d.pos, "%d bytes left over at the end of the section", end-d.pos)
			break
		}
		if id != secGlobal && id != secExport && id != secCode {
			in.out = append(in.out, d.b[start:end]...)
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if !in.haveCode && in.numFuncs != 0 {
		d.section = secCode
		d.fail(ErrMalformed, len(d.b), "function section declares %d functions but there is no code section", in.numFuncs)
		return nil, d.err
	}
	in.flushBefore(noSection)
	return in.out, nil
}

// flushBefore writes the fuel global and its export if the next section, id, comes after the
// place they belong and they have not been written yet (the module has no global or export
// section of its own).
func (in *instrumenter) flushBefore(id byte) {
	order := 1 << 30
	if id != noSection {
		order = sectionOrder[id]
	}
	if !in.globalDone && order > sectionOrder[secGlobal] {
		body := appendU32(nil, 1)
		body = in.appendFuelGlobal(body)
		in.out = appendSection(in.out, secGlobal, body)
		in.globalDone = true
	}
	if !in.exportDone && order > sectionOrder[secExport] {
		body := appendU32(nil, 1)
		body = in.appendFuelExport(body)
		in.out = appendSection(in.out, secExport, body)
		in.exportDone = true
	}
}

func appendSection(dst []byte, id byte, body []byte) []byte {
	dst = append(dst, id)
	dst = appendU32(dst, uint32(len(body)))
	return append(dst, body...)
}

// fuelIndex is the index of the fuel global: after the imported and the defined ones.
func (in *instrumenter) fuelIndex() uint32 { return in.importedGlobal + in.definedGlobal }

func (in *instrumenter) appendFuelGlobal(dst []byte) []byte {
	dst = append(dst, valI64, 0x01, opI64Const) // i64, mutable, init expr
	dst = appendS64(dst, in.opts.InitialFuel)
	return append(dst, opEnd)
}

func (in *instrumenter) appendFuelExport(dst []byte) []byte {
	dst = appendU32(dst, uint32(len(GlobalName)))
	dst = append(dst, GlobalName...)
	dst = append(dst, externGlobal)
	return appendU32(dst, in.fuelIndex())
}

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
func (d *decoder) limits(end int, memory bool) {
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
	d.u32(end, "limits minimum")
	if flags&1 != 0 {
		d.u32(end, "limits maximum")
	}
}

func (d *decoder) tableType(end int) {
	d.refType(end, "table element type")
	d.limits(end, false)
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
	in.numTypes = d.count(end, 3, "type count")
	in.typeParams = make([]uint32, 0, in.numTypes)
	for i := uint32(0); i < in.numTypes && d.err == nil; i++ {
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
	for i := uint32(0); i < n && d.err == nil; i++ {
		d.name(end, "import module name")
		d.name(end, "import name")
		start := d.pos
		switch kind := d.byte(end, "import kind"); kind {
		case externFunc:
			d.u32(end, "import type index")
		case externTable:
			d.tableType(end)
		case externMemory:
			d.limits(end, true)
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

func (in *instrumenter) decodeTables(end int) {
	d := &in.d
	n := d.count(end, 2, "table count")
	for i := uint32(0); i < n && d.err == nil; i++ {
		if d.pos+1 < end && d.b[d.pos] == 0x40 && d.b[d.pos+1] == 0x00 {
			// Table with an initializer (typed function references).
			d.pos += 2
			d.tableType(end)
			d.constExpr(end)
			continue
		}
		d.tableType(end)
	}
}

func (in *instrumenter) decodeMemories(end int) {
	d := &in.d
	n := d.count(end, 2, "memory count")
	for i := uint32(0); i < n && d.err == nil; i++ {
		d.limits(end, true)
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
	if in.importedGlobal+in.definedGlobal == 1<<32-1 {
		d.fail(ErrUnsupported, first, "no global index left for the fuel global")
		return
	}
	body := appendU32(make([]byte, 0, 5+end-first+32), in.definedGlobal+1)
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
		if name := d.name(end, "export name"); string(name) == GlobalName {
			d.fail(ErrNameTaken, start, "export %d", i)
			return
		}
		kstart := d.pos
		if kind := d.byte(end, "export kind"); kind > externTag && d.err == nil {
			d.fail(ErrMalformed, kstart, "export %d: invalid kind %#x", i, kind)
			return
		}
		d.u32(end, "export index")
	}
	if d.err != nil {
		return
	}
	if n == 1<<32-1 {
		d.fail(ErrUnsupported, first, "export count overflow")
		return
	}
	body := appendU32(make([]byte, 0, 5+end-first+32), n+1)
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
	in.rw.fuel = in.fuelIndex()
	in.rw.entryCost, in.rw.loopCost, in.rw.growCost = in.opts.EntryCost, in.opts.LoopCost, in.opts.GrowCost

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
