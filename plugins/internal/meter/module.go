package meter

import "fmt"

// Module is what decoding a module learns that a host checks before it compiles the module:
// its imports, the memories it defines, its exports. [Inspect] returns it; every slice is in
// the order of the module and holds copies (nothing points into the binary).
type Module struct {
	// Imports lists the module's imports.
	Imports []Import
	// Memories lists the limits of the memories the module defines (its memory section), not
	// the imported ones (those are in Imports, with their limits).
	Memories []Limits
	// Exports lists the module's exports (without the fuel globals Instrument adds).
	Exports []Export
}

// Import is one import of a module.
type Import struct {
	Module, Name string
	Kind         Kind
	// Limits are those of an imported memory or table; zero for other kinds.
	Limits Limits
}

// Export is one export of a module: Index is in the index space of Kind.
type Export struct {
	Name  string
	Kind  Kind
	Index uint32
}

// Limits are the limits of a memory (in 64KiB pages) or a table (in elements). Max is
// meaningful only when HasMax is set.
type Limits struct {
	Min, Max uint32
	HasMax   bool
}

// Kind is the kind of an import or export (an external kind of the binary format).
type Kind byte

// The external kinds.
const (
	KindFunction Kind = externFunc
	KindTable    Kind = externTable
	KindMemory   Kind = externMemory
	KindGlobal   Kind = externGlobal
	KindTag      Kind = externTag
)

// String returns the kind's name as the specification writes it ("function", "memory"...).
func (k Kind) String() string {
	switch k {
	case KindFunction:
		return "function"
	case KindTable:
		return "table"
	case KindMemory:
		return "memory"
	case KindGlobal:
		return "global"
	case KindTag:
		return "tag"
	}
	return fmt.Sprintf("kind %#x", byte(k))
}

// Inspect decodes the WebAssembly binary module wasm as [Instrument] does, but for the
// instructions of function bodies, and returns its imports, memories and exports. It fails,
// with an error wrapping ErrMalformed or ErrUnsupported that names the section and offset, on
// what Instrument would refuse before reading instructions; a module exporting GlobalName or
// StopName is not an error here. It does not modify wasm and is safe for concurrent use; its
// cost is linear in the size of the module's sections other than code.
func Inspect(wasm []byte) (*Module, error) {
	in := instrumenter{
		d:    decoder{b: wasm, section: noSection, fn: -1},
		opts: mustDefaults(),
	}
	in.rw.skipCode, in.inspect = true, true
	if _, err := in.run(); err != nil {
		return nil, err
	}
	return &in.mod, nil
}

// mustDefaults returns the default options, which are valid.
func mustDefaults() Options {
	o, _ := Options{}.withDefaults() // the zero Options are valid: only negative values fail
	return o
}
