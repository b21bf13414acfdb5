package sdk

import (
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
	host    []byte
	path    []byte
	variant []byte
	pbuf    []byte // bytes of AddParam parameters
	np      int
	params  [MaxParams]param
	out     []byte // the key result, see abi.AppendKey
}

// newKeyBuilder returns a KeyBuilder with its buffers allocated.
func newKeyBuilder() *KeyBuilder {
	return &KeyBuilder{
		host:    make([]byte, 0, 256),
		path:    make([]byte, 0, 2048),
		variant: make([]byte, 0, 256),
		pbuf:    make([]byte, 0, 1024),
		out:     make([]byte, 0, 8192),
	}
}

// reset clears k for the next call, keeping its buffers.
func (k *KeyBuilder) reset() {
	for i := range k.np {
		k.params[i] = param{} // drop references to the previous input
	}
	k.bypass, k.sorted, k.err, k.np = false, false, nil, 0
	k.host, k.path, k.variant, k.pbuf = k.host[:0], k.path[:0], k.variant[:0], k.pbuf[:0]
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
	start := len(k.host)
	k.host = append(k.host, h...)
	if !lowerHost(k.host[start:]) {
		k.fail(ErrHost)
	}
}

// Path appends p to the target's path. The path must start with '/'; an
// empty path is written as "/". Use the request's path ([Request.Path]) as
// sent: it is what the upstream receives.
func (k *KeyBuilder) Path(p []byte) { k.path = append(k.path, p...) }

// PathString is [KeyBuilder.Path] for a string.
func (k *KeyBuilder) PathString(p string) { k.path = append(k.path, p...) }

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
func (k *KeyBuilder) Query(q []byte, drop *ParamFilter) {
	for len(q) > 0 {
		end, eq := nextParam(q)
		raw := q[:end:end]
		if end < len(q) {
			q = q[end+1:]
		} else {
			q = nil
		}
		if end == 0 {
			continue
		}
		if eq < 0 {
			eq = end
		}
		if drop.Match(raw[:eq]) {
			continue
		}
		if k.np == MaxParams {
			k.fail(ErrTooManyParams)
			return
		}
		k.params[k.np] = param{raw: raw, nameLen: eq}
		k.np++
	}
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

// sortParams sorts k.params[:k.np] by name, stably: an insertion sort, which
// needs no allocation and is fast for the few parameters of a real query.
func (k *KeyBuilder) sortParams() {
	ps := k.params[:k.np]
	for i := 1; i < len(ps); i++ {
		p := ps[i]
		name := p.raw[:p.nameLen]
		j := i
		for j > 0 {
			// name < previous name, byte-wise, written out: names
			// usually differ in their first bytes, and a call to the
			// runtime's string compare costs more in a wasm guest.
			prev := ps[j-1].raw[:ps[j-1].nameLen]
			n := 0
			for n < len(name) && n < len(prev) && name[n] == prev[n] {
				n++
			}
			if n < len(name) && n < len(prev) {
				if name[n] > prev[n] {
					break
				}
			} else if len(name) >= len(prev) {
				break
			}
			ps[j] = ps[j-1]
			j--
		}
		ps[j] = p
	}
}

// finish writes the key result into k.out and returns it; nil means bypass.
func (k *KeyBuilder) finish() ([]byte, error) {
	if k.bypass {
		return nil, nil
	}
	if k.err != nil {
		return nil, k.err
	}
	if k.sorted {
		k.sortParams()
	}
	path := k.path
	if len(path) == 0 {
		path = slash
	}
	tl := len(path)
	for _, p := range k.params[:k.np] {
		tl += 1 + len(p.raw)
	}
	n := abi.KeyHeaderSize + len(k.host) + tl + len(k.variant)
	if cap(k.out) < n {
		k.out = make([]byte, 0, 2*n)
	}
	out := k.out[:abi.KeyHeaderSize]
	// The fixed part (abi.PutKeyHeader): flags 0 and the three lengths.
	store64(out, uint64(len(k.host))<<32)
	store64(out[8:], uint64(tl)|uint64(len(k.variant))<<32)
	out = append(out, k.host...)
	ts := len(out)
	out = append(out, path...)
	for i, p := range k.params[:k.np] {
		sep := byte('&')
		if i == 0 {
			sep = '?'
		}
		out = append(out, sep)
		out = append(out, p.raw...)
	}
	if !validTarget(out[ts:]) {
		return nil, ErrTarget
	}
	out = append(out, k.variant...)
	return out, nil
}

var slash = []byte("/")
