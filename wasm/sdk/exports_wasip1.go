//go:build wasip1

//lint:file-ignore U1000 the functions are called by the host, through //go:wasmexport

// gosec G115: lengths and addresses fit in 32 bits in a wasm32 module.

package sdk

import (
	"unsafe"

	"github.com/flowcache/flowcache/wasm/abi"
)

// The module's exports (ABI.md, section 1). They are declared here, in the
// SDK, and the Go toolchain exports them from any package linked into a
// -buildmode=c-shared module: a policy's main package only calls Register.

//go:wasmexport flowcache_abi_version
func exportABIVersion() int32 { return abi.Version }

//go:wasmexport flowcache_alloc
func exportAlloc(size uint32) uint32 {
	b := g.alloc(size)
	if b == nil {
		return 0
	}
	return addr(b)
}

//go:wasmexport flowcache_init
func exportInit(ptr, n uint32) int32 {
	in, ok := g.input(ptr-addr(g.in), n) // a ptr below the buffer wraps around and fails
	if !ok {
		g.fail("flowcache_init: the configuration is not in the buffer flowcache_alloc gave", nil)
		return initBadInput
	}
	return g.init(in)
}

// exportError explains the last error result (ABI.md, section 11): the
// error of Init, Key or Decide, or why the SDK refused a call.
//
//go:wasmexport flowcache_error
func exportError() uint64 {
	if len(g.errMsg) == 0 {
		return 0
	}
	return abi.Pack(addr(g.errMsg), uint32(len(g.errMsg))) //nolint:gosec // G115: wasm32
}

//go:wasmexport flowcache_headers
func exportHeaders() uint64 {
	if len(g.headers) == 0 {
		return 0
	}
	return abi.Pack(addr(g.headers), uint32(len(g.headers))) //nolint:gosec // G115: wasm32
}

//go:wasmexport flowcache_key
func exportKey(ptr, n uint32) uint64 {
	in, ok := g.input(ptr-addr(g.in), n)
	if !ok {
		g.fail("flowcache_key: the input is not in the buffer flowcache_alloc gave", nil)
		return abi.ResultError
	}
	res, ok := g.key(in)
	switch {
	case !ok:
		return abi.ResultError
	case res == nil:
		return abi.ResultBypass
	}
	return abi.Pack(addr(res), uint32(len(res))) //nolint:gosec // G115: wasm32
}

//go:wasmexport flowcache_decide
func exportDecide(ptr, n uint32) uint64 {
	in, ok := g.input(ptr-addr(g.in), n)
	if !ok {
		g.fail("flowcache_decide: the input is not in the buffer flowcache_alloc gave", nil)
		return abi.ResultError
	}
	res, ok := g.decide(in)
	switch {
	case !ok:
		return abi.ResultError
	case res == nil:
		return abi.ResultDefault
	}
	return abi.Pack(addr(res), uint32(len(res))) //nolint:gosec // G115: wasm32
}

// addr returns the linear-memory address of b's first byte. Go's heap does
// not move, and b stays reachable from g while the host uses the address.
func addr(b []byte) uint32 {
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) //nolint:gosec // G103: an address for the host; the Go heap does not move
}
