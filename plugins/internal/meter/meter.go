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

// StopName is the export name of the mutable i64 global that every charge compares the fuel
// left with: a charge traps when the fuel falls below it. It starts at 0. Another goroutine may
// set it to math.MaxInt64 while a call runs, to stop the call at its next charge (a wall-clock
// backstop); the instance must then be discarded.
const StopName = "flowcache_fuel_stop"

// Defaults used by [Options] fields left at zero.
const (
	// DefaultEntryCost is the fuel charged at each function entry, on top of its instructions:
	// a call's frame setup and stack check, and the fresh stack a deep recursion touches.
	DefaultEntryCost = 32
	// DefaultLoopCost is the fuel charged at each loop header, that is once per iteration, on
	// top of the instructions of the iteration.
	DefaultLoopCost = 1
	// DefaultGrowCost is the fuel charged for each memory.grow and table.grow, on top of the
	// pages or elements it adds.
	DefaultGrowCost = 1000
	// DefaultPageCost is the fuel charged per 64KiB page of the memory a memory.grow asks for
	// (the pages it has and the pages it adds): the runtime allocates, zeroes and may copy the
	// whole memory, at about 4 bytes per unit (as the bulk memory instructions, see Instrument).
	DefaultPageCost = 1 << 14
	// DefaultInitialFuel is the initial value of the fuel global: the budget of the module's
	// start function and of any call made before the host first sets the global.
	DefaultInitialFuel = 1 << 32
)

// Errors returned by [Instrument] and [Inspect], in an [*Error] that says where decoding failed
// (ErrOptions: wrapped with the option). Test them with errors.Is.
var (
	// ErrMalformed reports a module that does not follow the binary format.
	ErrMalformed = errors.New("meter: malformed module")
	// ErrUnsupported reports a well-formed construct this package does not know: a binary
	// version other than 1, an unknown section or opcode, memory64.
	ErrUnsupported = errors.New("meter: unsupported module")
	// ErrNameTaken reports a module that already exports GlobalName or StopName.
	ErrNameTaken = errors.New("meter: export name " + GlobalName + " or " + StopName + " already used")
	// ErrOptions reports a negative cost or fuel in Options.
	ErrOptions = errors.New("meter: invalid options")
)

// Error is the error of a module that [Instrument] or [Inspect] cannot decode: Err is
// ErrMalformed, ErrUnsupported or ErrNameTaken, Detail says where (section, function body, byte
// offset) and what. Its Error method formats "Err: Detail"; a caller with its own word for Err
// prints Detail after it.
type Error struct {
	Err    error
	Detail string
}

// Error formats the error as "meter: malformed module: code section: offset 0x2a: ...".
func (e *Error) Error() string { return e.Err.Error() + ": " + e.Detail }

// Unwrap returns Err, for errors.Is.
func (e *Error) Unwrap() error { return e.Err }

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
	// PageCost is the fuel charged per 64KiB page of the memory size a memory.grow asks for,
	// even if it fails (a table.grow is charged 1 per element); 0 means DefaultPageCost. It must be a power of two:
	// the charge is a shift.
	PageCost int64
	// InitialFuel is the initial value of the fuel global; 0 means DefaultInitialFuel.
	InitialFuel int64
}

func (o Options) withDefaults() (Options, error) {
	if o.EntryCost < 0 || o.LoopCost < 0 || o.GrowCost < 0 || o.InitialFuel < 0 {
		return o, fmt.Errorf("%w: EntryCost %d, LoopCost %d, GrowCost %d, InitialFuel %d: must not be negative",
			ErrOptions, o.EntryCost, o.LoopCost, o.GrowCost, o.InitialFuel)
	}
	if o.PageCost < 0 || o.PageCost > 1<<20 || o.PageCost&(o.PageCost-1) != 0 {
		return o, fmt.Errorf("%w: PageCost %d: must be a power of two up to 2^20", ErrOptions, o.PageCost)
	}
	if o.PageCost == 0 {
		o.PageCost = DefaultPageCost
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
// initial value is opts.InitialFuel. Everything else keeps its index. Tables get a maximum (see
// the package documentation). Instrument does not modify
// wasm and is safe for concurrent use. It fails with an error wrapping ErrMalformed,
// ErrUnsupported, ErrNameTaken or ErrOptions. Its cost is linear in len(wasm), and it checks every
// count and size against the bytes that hold it before it allocates.
func Instrument(wasm []byte, opts Options) ([]byte, error) {
	return instrument(wasm, opts, standard)
}

// variant selects test-only behaviours of instrument.
type variant int

const (
	standard   variant = iota
	globalOnly         // keep the fuel of every function in the global, to measure the local
	skipCode           // decode everything but instructions, and write nothing useful
)

// instrument is Instrument, in variant v.
func instrument(wasm []byte, opts Options, v variant) ([]byte, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	in := instrumenter{
		d:    decoder{b: wasm, section: noSection, fn: -1},
		opts: opts,
	}
	in.rw.globalOnly = v == globalOnly
	in.rw.skipCode = v == skipCode
	return in.run()
}

// instrumenter holds the state of one Instrument call. It decodes the module section by section
// and writes the output as it goes: every section but table, global, export and code is copied
// verbatim.
type instrumenter struct {
	d    decoder
	opts Options
	out  []byte

	importedGlobal uint32 // imported globals, which come first in the global index space
	definedGlobal  uint32 // globals of the global section
	numFuncs       uint32 // entries of the function section
	haveCode       bool
	globalDone     bool // the fuel global has been written
	exportDone     bool // its export has been written

	typeParams []uint32 // number of parameters of each type
	funcTypes  []uint32 // type index of each function of the function section
	rw         rewrite

	// inspect: only decode (Inspect), filling mod; the output is not written.
	inspect bool
	mod     Module
}

func (in *instrumenter) run() ([]byte, error) {
	d := &in.d
	if len(d.b) < len(header) || !bytes.Equal(d.b[:4], header[:4]) {
		return nil, &Error{Err: ErrMalformed, Detail: "not a WebAssembly binary (no \\0asm magic)"}
	}
	if !bytes.Equal(d.b[4:8], header[4:8]) {
		return nil, &Error{Err: ErrUnsupported, Detail: fmt.Sprintf("binary version % x, want 01 00 00 00", d.b[4:8])}
	}
	if !in.inspect {
		in.out = make([]byte, 0, len(d.b)+len(d.b)/4+64)
	}
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
		switch {
		case in.inspect && (id == secCode || id == secData):
			// Inspect reports neither: it skips their bodies and segments, by far the
			// largest part of a module (Instrument reads them).
			in.haveCode = in.haveCode || id == secCode
			d.pos = end
		case id == secCustom:
			d.name(end, "custom section name")
			d.pos = end
		case id == secType:
			in.decodeTypes(end)
		case id == secImport:
			in.decodeImports(end)
		case id == secFunction:
			in.decodeFunctions(end)
		case id == secTable:
			in.instrumentTables(end)
		case id == secMemory:
			in.decodeMemories(end)
		case id == secTag:
			in.decodeTags(end)
		case id == secGlobal:
			in.instrumentGlobals(end)
		case id == secExport:
			in.instrumentExports(end)
		case id == secStart:
			d.u32(end, "start function index")
		case id == secElement:
			in.decodeElements(end)
		case id == secDataCount:
			d.u32(end, "data count")
		case id == secCode:
			in.instrumentCode(end)
		case id == secData:
			in.decodeData(end)
		}
		if d.err != nil {
			break
		}
		if d.pos != end {
			d.fail(ErrMalformed, d.pos, "%d bytes left over at the end of the section", end-d.pos)
			break
		}
		if id != secTable && id != secGlobal && id != secExport && id != secCode && !in.inspect {
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
		body := appendU32(nil, 2)
		body = in.appendFuelGlobal(body)
		in.out = appendSection(in.out, secGlobal, body)
		in.globalDone = true
	}
	if !in.exportDone && order > sectionOrder[secExport] {
		body := appendU32(nil, 2)
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

// appendFuelGlobal appends the fuel global and the stop global (its index follows).
func (in *instrumenter) appendFuelGlobal(dst []byte) []byte {
	dst = append(dst, valI64, 0x01, opI64Const) // i64, mutable, init expr
	dst = appendS64(dst, in.opts.InitialFuel)
	dst = append(dst, opEnd)
	return append(dst, valI64, 0x01, opI64Const, 0x00, opEnd)
}

// appendFuelExport appends the exports of the fuel and stop globals.
func (in *instrumenter) appendFuelExport(dst []byte) []byte {
	for i, name := range [2]string{GlobalName, StopName} {
		dst = appendU32(dst, uint32(len(name)))
		dst = append(dst, name...)
		dst = append(dst, externGlobal)
		dst = appendU32(dst, in.fuelIndex()+uint32(i)) //nolint:gosec // 0 or 1
	}
	return dst
}
