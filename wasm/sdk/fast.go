package sdk

import (
	"bytes"

	"github.com/flowcache/flowcache/wasm/abi"
)

// The key builder's inner loops, in Go. A wasm guest runs the WebAssembly
// assembly of fast_wasm.s instead (see fast_wasm.go for why); other
// platforms, where the SDK's tests run, use these through fast_other.go. The
// tests run on both (wasm_test.go in examples/internal/wasmtest runs this
// package's tests inside a wasm guest), so the two are held to the same
// cases.

// scanQueryGo adds to k.params the parameters of q (all of source src)
// whose name drop does not match, and returns how many; -1, adding none, if
// they do not fit.
func scanQueryGo(k *KeyBuilder, q []byte, src uint32, drop *ParamFilter) int {
	np := k.np
	for off := 0; off < len(q); {
		end, eq := nextParam(q[off:])
		if end > 0 {
			nl := end
			if eq >= 0 {
				nl = eq
			}
			if drop == nil || !drop.Match(q[off:off+nl]) {
				if np == MaxParams {
					return -1
				}
				k.params[np] = ent{src: src, off: uint32(off), n: uint32(end), name: uint32(nl)} //nolint:gosec // G115: a query is far below 4 GiB
				np++
			}
		}
		off += end + 1
	}
	n := np - k.np
	k.np, k.srcLen = np, k.srcLen+len(q)
	return n
}

// writeParamsGo sorts k.params[:k.np] by name if k.sorted (stably), then
// writes them into dst ('?' before the first, '&' between) and returns the
// number of bytes written. k.srcs[0] must be k.pbuf; dst must have room.
func writeParamsGo(k *KeyBuilder, dst []byte) int {
	ps := k.params[:k.np]
	name := func(e ent) []byte { return k.srcs[e.src][e.off : e.off+e.name] }
	if k.sorted {
		// An insertion sort: stable, no allocation, and fast for the few
		// parameters of a real query.
		for i := 1; i < len(ps); i++ {
			p := ps[i]
			j := i
			for j > 0 && bytes.Compare(name(p), name(ps[j-1])) < 0 {
				ps[j] = ps[j-1]
				j--
			}
			ps[j] = p
		}
	}
	n := 0
	for i, e := range ps {
		dst[n] = '&'
		if i == 0 {
			dst[n] = '?'
		}
		n++
		n += copy(dst[n:], k.srcs[e.src][e.off:e.off+e.n])
	}
	return n
}

// finishKeyGo completes the key result in out (k.out, whose capacity
// leaves room for what it adds): it copies the recorded host and path
// (KeyBuilder.hostRec and pathRec, the host without a trailing dot), lower-cases and checks the host in
// out[abi.KeyHeaderSize:][:k.hostLen], makes an empty target "/", writes the
// parameters (sorted if k.sorted), checks the target, appends the variant
// and fills in the fixed part. It returns the result's length, or -1 for a
// bad host, -2 for a bad target.
func finishKeyGo(k *KeyBuilder, out []byte) int {
	k.flush() // appends within out's capacity: finish made room
	out = out[:len(k.out)]
	ts := abi.KeyHeaderSize + k.hostLen
	if !lowerHostGo(out[abi.KeyHeaderSize:ts]) {
		return -1
	}
	if len(out) == ts {
		out = append(out, '/')
	}
	if k.np > 0 {
		k.srcs[srcParams] = k.pbuf
		out = out[:len(out)+writeParamsGo(k, out[len(out):cap(out)])]
	}
	if !validTargetGo(out[ts:]) {
		return -2
	}
	tl := len(out) - ts
	out = append(out, k.variant...)
	store64(out, uint64(k.hostLen)<<32)                     //nolint:gosec // G115: lengths are non-negative
	store64(out[8:], uint64(tl)|uint64(len(k.variant))<<32) //nolint:gosec // G115: lengths are non-negative
	return len(out)
}

// Results of checkSlots.
const (
	slotsBad       = 0 // a field lies outside the blob, or the blob is short
	slotsNoHeaders = 1 // the blob holds no header field
	slotsHeaders   = 2 // the blob holds header fields: abi.ParseRequest checks them
)

// checkSlotsGo reports whether in is a request blob whose six (offset,
// length) fields lie inside it (ABI.md, section 3), and whether it holds
// header fields. abi.ParseRequest checks more, including the header list;
// the guest calls it only when the blob holds header fields.
func checkSlotsGo(in []byte) int {
	if len(in) < abi.RequestFixedSize {
		return slotsBad
	}
	for slot := 0; slot < abi.RequestFixedSize-8; slot += 8 {
		x := load64(in[slot:])
		if uint64(uint32(x))+x>>32 > uint64(len(in)) {
			return slotsBad
		}
	}
	if load64(in[abi.RequestFixedSize-8:])&0xffffffff == 0 {
		return slotsNoHeaders
	}
	return slotsHeaders
}
