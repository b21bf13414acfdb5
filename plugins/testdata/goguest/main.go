// Command goguest is a minimal policy written in Go, built by the plugins
// tests with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o goguest.wasm .
//
// key: host and path as sent, variant "go:" (set by package initialisation,
// so a wrong key proves _initialize did not run); path "/panic" panics.
// decide: keeps the default.
package main

import (
	"unsafe"

	"github.com/flowcache/flowcache/wasm/abi"
)

var (
	input  []byte
	out    = make([]byte, 0, 64<<10)
	prefix = variant()
)

func variant() string { return "go:" }

//go:wasmexport flowcache_abi_version
func abiVersion() int32 { return abi.Version }

//go:wasmexport flowcache_alloc
func alloc(n int32) int32 {
	if int(n) > len(input) {
		input = make([]byte, n)
	}
	return int32(uintptr(unsafe.Pointer(unsafe.SliceData(input))))
}

//go:wasmexport flowcache_key
func key(p, n int32) int64 {
	r, err := abi.ParseRequest(unsafe.Slice(unsafe.SliceData(input), n))
	if err != nil || p != int32(uintptr(unsafe.Pointer(unsafe.SliceData(input)))) {
		return -1
	}
	if string(r.Path()) == "/panic" {
		panic("boom")
	}
	out = append(out[:abi.KeyHeaderSize], r.Host()...)
	out = append(out, r.Path()...)
	out = append(out, prefix...)
	abi.PutKeyHeader(out, false, len(r.Host()), len(r.Path()), len(prefix))
	return int64(abi.Pack(uint32(uintptr(unsafe.Pointer(unsafe.SliceData(out)))), uint32(len(out))))
}

//go:wasmexport flowcache_decide
func decide(p, n int32) int64 { return 0 }

func main() {}
