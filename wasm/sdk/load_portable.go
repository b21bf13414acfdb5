//go:build !(wasm || amd64 || arm64 || 386)

package sdk

import "encoding/binary"

// load64 returns the first 8 bytes of b as a little-endian word.
func load64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// store64 writes x to the first 8 bytes of b, little-endian.
func store64(b []byte, x uint64) { binary.LittleEndian.PutUint64(b, x) }
