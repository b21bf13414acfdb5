package sdk

import (
	"bytes"
	"errors"

	"github.com/flowcache/flowcache/wasm/abi"
)

// MaxParams is the number of query parameters a [KeyBuilder] holds. A key
// with more makes Key fail with [ErrTooManyParams]: the gateway then keys the
// request with its fallback policy.
const MaxParams = 64

// Errors a [KeyBuilder] reports. Returned from a Key call, any error makes
// the host answer that request with the route's fallback policy (the native
// default policy); the instance is kept.
var (
	// ErrTooManyParams: more than MaxParams query parameters were added.
	ErrTooManyParams = errors.New("sdk: too many query parameters")
	// ErrHost: the host holds a control character, a space, or one of
	// "/?#@".
	ErrHost = errors.New("sdk: invalid byte in key host")
	// ErrTarget: the target does not start with '/' or holds a control
	// character, a space or '#'.
	ErrTarget = errors.New("sdk: invalid request target")
)

// param is one query parameter held by a KeyBuilder.
type param struct {
	raw     []byte
	nameLen int
}

// KeyBuilder builds a cache key: a host, a request target (path and query
// parameters, which is also the request URI sent to the upstream) and an
// optional variant (key material not visible in the target, e.g. a device
// class). Every method appends; nothing allocates once the builder's buffers
// have grown to the size of the largest key seen (they start at a few KiB).
//
// The SDK hands a reset KeyBuilder to [Policy].Key; it is valid only during
// that call. The parameters given to [KeyBuilder.Param] and
// [KeyBuilder.Query] are referenced, not copied, until Key returns: pass
// bytes of the request (they stay valid for the call), or use
// [KeyBuilder.AddParam], which copies.
type KeyBuilder struct {
	bypass  bool
	sorted  bool
	err     error
	hostLen int // bytes of the host in out, after the fixed part
	// out is the key result being built (abi.AppendKey's layout): the fixed
	// part, then the host and the path, written there directly; finish adds
	// the parameters and the variant and fills in the fixed part.
	out     []byte
	variant []byte
	pbuf    []byte // bytes of AddParam parameters
	np      int
	params  [MaxParams]param
}

// newKeyBuilder returns a KeyBuilder with its buffers allocated.
func newKeyBuilder() *KeyBuilder {
	k := &KeyBuilder{
		out:     make([]byte, 0, 8192),
		variant: make([]byte, 0, 256),
		pbuf:    make([]byte, 0, 1024),
	}
	k.reset()
	return k
}

// reset clears k for the next call, keeping its buffers.
func (k *KeyBuilder) reset() {
	for i := range k.np {
		k.params[i] = param{} // drop references to the previous input
	}
	k.bypass, k.sorted, k.err, k.np, k.hostLen = false, false, nil, 0, 0
	k.out, k.variant, k.pbuf = k.out[:abi.KeyHeaderSize], k.variant[:0], k.pbuf[:0]
}

// Bypass makes the request bypass the cache: the host sends it to the
// upstream unchanged and stores nothing. Whatever else was built is ignored.
func (k *KeyBuilder) Bypass() { k.bypass = true }

// Host appends h to the key's host, lower-cased, without a trailing dot
// ("Example.COM." becomes "example.com"). A host byte that is a control
// character, a space or one of "/?#@" makes Key fail with [ErrHost].
func (k *KeyBuilder) Host(h []byte) {
	if n := len(h); n > 0 && h[n-1] == '.' {
		h = h[:n-1]
	}
	at := abi.KeyHeaderSize + k.hostLen
	end := len(k.out)
	k.out = append(k.out, h...)
	if end > at { // the path is already written: move it after the host
		copy(k.out[at+len(h):], k.out[at:end])
		copy(k.out[at:], h)
	}
	k.hostLen += len(h)
	b := k.out[at : at+len(h)]
	if len(b) < 8 {
		if !lowerHost(b) {
			k.fail(ErrHost)
		}
		return
	}
	// lowerHost, written out: in a wasm guest the call costs more than the
	// two or three words of a host.
	var bad uint64
	for i := 0; ; i += 8 {
		if i+8 > len(b) {
			i = len(b) - 8 // the last word overlaps: lower-casing twice is harmless
		}
		x := load64(b[i:])
		del, hash, slash, qm, at := x^(ones*0x7f), x^(ones*'#'), x^(ones*'/'), x^(ones*'?'), x^(ones*'@')
		bad |= (x-ones*0x21)&^x | (del-ones)&^del | (hash-ones)&^hash | (slash-ones)&^slash | (qm-ones)&^qm | (at-ones)&^at
		hb := x &^ highs
		upper := (hb + ones*(0x80-'A')) &^ (hb + ones*(0x7f-'Z')) &^ x & highs
		store64(b[i:], x|upper>>2)
		if i+8 == len(b) {
			break
		}
	}
	if bad&highs != 0 {
		k.fail(ErrHost)
	}
}

// Path appends p to the target's path. The path must start with '/'; an
// empty path is written as "/". Use the request's path ([Request.Path]) as
// sent: it is what the upstream receives.
func (k *KeyBuilder) Path(p []byte) { k.out = append(k.out, p...) }

// PathString is [KeyBuilder.Path] for a string.
func (k *KeyBuilder) PathString(p string) { k.out = append(k.out, p...) }

// Param adds the query parameter p to the target, as p.Raw. p's bytes are
// referenced until Key returns.
func (k *KeyBuilder) Param(p Param) { //nolint:gocritic // hugeParam: Params.Next returns a Param by value; taking its address at every call site would be clumsier
	if k.np == MaxParams {
		k.fail(ErrTooManyParams)
		return
	}
	k.params[k.np] = param{raw: p.Raw, nameLen: len(p.Name)}
	k.np++
}

// AddParam adds the query parameter "name=value" to the target, copying
// both. Neither should hold '&', '#', a space or a control character.
func (k *KeyBuilder) AddParam(name, value []byte) {
	if k.np == MaxParams {
		k.fail(ErrTooManyParams)
		return
	}
	start := len(k.pbuf)
	k.pbuf = append(k.pbuf, name...)
	k.pbuf = append(k.pbuf, '=')
	k.pbuf = append(k.pbuf, value...)
	k.params[k.np] = param{raw: k.pbuf[start:len(k.pbuf):len(k.pbuf)], nameLen: len(name)}
	k.np++
}

// Query adds every parameter of the raw query q whose name drop does not
// match, in order. A nil drop keeps them all. Empty parameters are left out.
// q's bytes are referenced until Key returns.
//
// It finds each '&' and '=' with bytes.IndexByte, which the Go toolchain
// implements in WebAssembly directly: in a wasm guest a loop written in Go
// costs several nanoseconds per branch, more than the call.
func (k *KeyBuilder) Query(q []byte, drop *ParamFilter) {
	np := k.np
	for len(q) > 0 {
		// The first word answers for short parameters without a call
		// (the lowest flag of hasByte is exact).
		end, nl, from := -1, -1, 0 // from: where a search for '=' starts
		if len(q) >= 8 {
			from = 8
			x := load64(q)
			if m := hasByte(x, '&'); m != 0 {
				end = firstByte(m)
			}
			if m := hasByte(x, '='); m != 0 {
				nl = firstByte(m)
			}
		}
		if end < 0 {
			if end = bytes.IndexByte(q, '&'); end < 0 {
				end = len(q)
			}
		}
		if end > 0 {
			raw := q[:end:end]
			switch {
			case nl > end:
				nl = end // the '=' is the next parameter's
			case nl < 0 && end > from:
				if nl = bytes.IndexByte(raw[from:], '='); nl < 0 {
					nl = end
				} else {
					nl += from
				}
			case nl < 0:
				nl = end
			}
			// Most names start with a byte no pattern starts with.
			if drop == nil || nl > 0 && drop.first[raw[0]>>6]&(1<<(raw[0]&63)) == 0 || !dropped(drop, raw, 0, nl) {
				if np == MaxParams {
					k.np = np
					k.fail(ErrTooManyParams)
					return
				}
				k.params[np] = param{raw: raw, nameLen: nl}
				np++
			}
		}
		if end == len(q) {
			break
		}
		q = q[end+1:]
	}
	k.np = np
}

// dropped reports whether drop matches the parameter name q[s:s+n]. Query
// calls it only for names whose first byte starts a pattern; short patterns
// are compared as one masked word (nameWord, written out: a call costs more
// than the compare in a wasm guest).
func dropped(drop *ParamFilter, q []byte, s, n int) bool {
	if drop.long {
		return drop.Match(q[s : s+n])
	}
	var x uint64
	switch {
	case s+8 <= len(q):
		x = load64(q[s:])
	case len(q) >= 8:
		x = load64(q[len(q)-8:]) >> (8 * uint(s+8-len(q))) //nolint:gosec // G115: 0 < s+8-len(q) < 8
	default:
		for i, c := range q[s:] {
			x |= uint64(c) << (8 * i)
		}
	}
	if n < 8 {
		x &= 1<<(8*uint(n)) - 1 //nolint:gosec // G115: 0 <= n < 8
	}
	return drop.matchWord(x, n)
}

// SortParams makes the target list its query parameters sorted by name, so
// that "?b=2&a=1" and "?a=1&b=2" give one key (and one upstream request).
// The sort is stable: parameters with the same name keep their order, which
// may matter to the upstream ("?id=2&id=1").
func (k *KeyBuilder) SortParams() { k.sorted = true }

// Variant appends v to the key's variant: key material the target does not
// show, such as a device class or a cookie's value. Requests with different
// variants are cached apart; keep the set of variants small (a class, not a
// User-Agent).
func (k *KeyBuilder) Variant(v []byte) { k.variant = append(k.variant, v...) }

// VariantString is [KeyBuilder.Variant] for a string.
func (k *KeyBuilder) VariantString(v string) { k.variant = append(k.variant, v...) }

// Default builds the key of the native default policy: the request's host
// (lower-cased), path and query parameters, in order.
func (k *KeyBuilder) Default(r *Request) {
	k.Host(r.Host())
	k.Path(r.Path())
	k.Query(r.Query(), nil)
}

func (k *KeyBuilder) fail(err error) {
	if k.err == nil {
		k.err = err
	}
}

// finish completes the key result in k.out and returns it; nil means
// bypass.
func (k *KeyBuilder) finish() ([]byte, error) {
	if k.bypass {
		return nil, nil
	}
	if k.err != nil {
		return nil, k.err
	}
	if k.sorted {
		// Sort the parameters by name, stably: an insertion sort, which
		// needs no allocation and is fast for the few parameters of a real
		// query. Written here, not in a function of its own, and comparing
		// with bytes.Compare (WebAssembly code in the Go toolchain): in a
		// wasm guest a call to Go code or a byte loop costs more.
		ps := k.params[:k.np]
		for i := 1; i < len(ps); i++ {
			p := ps[i]
			name := p.raw[:p.nameLen]
			j := i
			for j > 0 {
				// Most names differ in their first byte: bytes.Compare
				// (a call) runs only for the others.
				prev := ps[j-1].raw[:ps[j-1].nameLen]
				if len(name) > 0 && len(prev) > 0 && name[0] != prev[0] {
					if name[0] > prev[0] {
						break
					}
				} else if bytes.Compare(name, prev) >= 0 {
					break
				}
				ps[j] = ps[j-1]
				j--
			}
			ps[j] = p
		}
	}
	out := k.out
	ts := abi.KeyHeaderSize + k.hostLen
	if len(out) == ts {
		out = append(out, '/')
	}
	for i := range k.np {
		sep := byte('&')
		if i == 0 {
			sep = '?'
		}
		out = append(out, sep)
		out = append(out, k.params[i].raw...)
	}
	// validTarget, written out for targets of 8 bytes or more.
	t := out[ts:]
	valid := len(t) > 0 && t[0] == '/'
	if valid && len(t) >= 8 {
		var bad uint64
		for i := 0; i+8 <= len(t); i += 8 {
			x := load64(t[i:])
			del, hash := x^(ones*0x7f), x^(ones*'#')
			bad |= (x-ones*0x21)&^x | (del-ones)&^del | (hash-ones)&^hash
		}
		x := load64(t[len(t)-8:])
		del, hash := x^(ones*0x7f), x^(ones*'#')
		valid = (bad|(x-ones*0x21)&^x|(del-ones)&^del|(hash-ones)&^hash)&highs == 0
	} else if valid {
		valid = validTarget(t)
	}
	if !valid {
		k.out = out[:abi.KeyHeaderSize]
		return nil, ErrTarget
	}
	tl := len(out) - ts
	if len(k.variant) > 0 {
		out = append(out, k.variant...)
	}
	// The fixed part (abi.PutKeyHeader): flags 0 and the three lengths.
	store64(out, uint64(k.hostLen)<<32)                     //nolint:gosec // G115: lengths are non-negative
	store64(out[8:], uint64(tl)|uint64(len(k.variant))<<32) //nolint:gosec // G115: lengths are non-negative
	k.out = out
	return out, nil
}
