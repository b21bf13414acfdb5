//go:build wasm || amd64 || arm64 || 386

package sdk

import "unsafe"

// load64 returns the first 8 bytes of b as a little-endian word, with a
// single load: in a wasm guest, encoding/binary reads byte by byte.
// WebAssembly, amd64, arm64 and 386 are little-endian and allow unaligned
// access; other hosts use load_portable.go. b must hold 8 bytes.
func load64(b []byte) uint64 {
	_ = b[7]
	return *(*uint64)(unsafe.Pointer(unsafe.SliceData(b))) //nolint:gosec // G103: in bounds (checked above), unaligned loads are allowed on these GOARCHes
}

// store64 writes x to the first 8 bytes of b, little-endian.
func store64(b []byte, x uint64) {
	_ = b[7]
	*(*uint64)(unsafe.Pointer(unsafe.SliceData(b))) = x //nolint:gosec // G103: as in load64
}
