//go:build wasm || amd64 || arm64 || 386

package sdk

import "unsafe"

// load64 returns the first 8 bytes of b as one word, with a single load: in
// a wasm guest, encoding/binary reads byte by byte. The callers' word tests do
// not depend on byte order. WebAssembly, amd64, arm64 and 386 allow unaligned
// loads; other hosts use the portable variant. b must hold 8 bytes.
func load64(b []byte) uint64 {
	_ = b[7]
	return *(*uint64)(unsafe.Pointer(unsafe.SliceData(b)))
}
