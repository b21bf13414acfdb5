package sdk

import "unsafe"

// Why assembly. The Go toolchain compiles a function for WebAssembly as a
// loop around a jump table: every branch of the Go code sets a block number
// and jumps back to the table, so that a goroutine can be suspended and
// resumed anywhere. Under wazero that makes each branch cost several
// nanoseconds, and a byte loop written in Go several nanoseconds per byte:
// the key of the design's example request took 1.8 µs in Go, most of it in
// these loops. Written in WebAssembly assembly (fast_wasm.s), with the
// structured blocks and loops WebAssembly has, they cost what a C or WAT
// guest's loops cost. They touch no Go pointer: a parameter is an ent (a
// source index and offsets), and the sources' addresses are in
// fastState.bases, so the garbage collector has nothing to track.

// fastState is what the assembly needs besides the KeyBuilder's fields: the
// linear-memory address of each source of parameters, k.srcs[i].
type fastState struct {
	bases [maxSrcs]uintptr
	inLen uintptr // the input buffer's length
}

// The layout the assembly writes an ent in: two little-endian words, src |
// off<<32 and n | name<<32.
var _ = [1]struct{}{}[unsafe.Offsetof(ent{}.off)-4+unsafe.Offsetof(ent{}.n)-8+unsafe.Offsetof(ent{}.name)-12+unsafe.Sizeof(ent{})-16]

// scanQuery is scanQueryGo in assembly, for a filter without a pattern
// longer than eight bytes; see fast_wasm.s for its results.
//
//go:noescape
func scanQuery(k *KeyBuilder, q []byte, src uint32, drop *ParamFilter) int

// setSource records the address of source src, b, for the assembly.
func setSource(k *KeyBuilder, src uint32, b []byte) {
	k.fast.bases[src] = uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if src == srcInput {
		k.fast.inLen = uintptr(len(b))
	}
}

// finishKey is finishKeyGo (fast.go).
//
//go:noescape
func finishKey(k *KeyBuilder, out []byte) int

// checkSlots is checkSlotsGo (fast.go).
//
//go:noescape
func checkSlots(in []byte) int
