//go:build !(wasm || amd64 || arm64 || 386)

package sdk

import "encoding/binary"

// load64 returns the first 8 bytes of b as one word. b must hold 8 bytes.
func load64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
