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
	// ErrTooManyParams: more than MaxParams query parameters were added,
	// or Query was given more than MaxParams non-empty queries.
	ErrTooManyParams = errors.New("sdk: too many query parameters")
	// ErrHost: the host holds a control character, a space, or one of
	// "/?#@".
	ErrHost = errors.New("sdk: invalid byte in key host")
	// ErrTarget: the target does not start with '/' or holds a control
	// character, a space or '#'.
	ErrTarget = errors.New("sdk: invalid request target")
)

// ent is one query parameter held by a KeyBuilder: where its bytes are
// (src indexes KeyBuilder.srcs), not a slice, so that the WebAssembly
// assembly of fast_wasm.s can read and write it and a reset need not clear
// references. The field offsets are read there through go_asm.h.
type ent struct {
	src  uint32 // index in KeyBuilder.srcs: 0 is pbuf, then each query given to Query
	off  uint32 // offset of "name=value" in the source
	n    uint32 // length of "name=value"
	name uint32 // length of the name
}

// KeyBuilder builds a cache key: a host, a request target (path and query
// parameters, which is also the request URI sent to the upstream) and an
// optional variant (key material not visible in the target, e.g. a device
// class). Every method appends; nothing allocates once the builder's buffers
// have grown to the size of the largest key seen (they start at a few KiB).
//
// The SDK hands a reset KeyBuilder to [Policy].Key; it is valid only during
// that call. The bytes given to [KeyBuilder.Host], [KeyBuilder.Path] and
// [KeyBuilder.Query] may be referenced, not copied, until Key returns: do
// not change them before (the request's bytes never change).
// [KeyBuilder.Param], [KeyBuilder.AddParam], [KeyBuilder.PathString] and
// [KeyBuilder.Variant] copy.
type KeyBuilder struct {
	bypass  bool
	sorted  bool
	err     error
	hostLen int // bytes of the host in out, after the fixed part
	// out is the key result being built (abi.AppendKey's layout): the fixed
	// part, then the host and the path, written there directly; finish adds
	// the parameters and the variant and fills in the fixed part.
	out []byte
	// hostRec and pathRec are the first host and path, given before
	// anything was written to out: finish copies them there (Host and Path
	// then cost no call, and the copy is the assembly's).
	hostRec []byte
	pathRec []byte
	variant []byte
	pbuf    []byte // bytes of the parameters given to Param and AddParam
	// srcs holds what params point into (see srcParams): srcs[0] is pbuf
	// (set by finish, since pbuf may grow), srcs[1] the input buffer, then
	// the queries Query references until Key returns. srcLen bounds the
	// bytes of the parameters: the length of pbuf and of each query.
	srcs   [][]byte
	srcLen int
	np     int
	params [MaxParams]ent
	//lint:ignore U1000 read and written by the assembly of fast_wasm.s (GOARCH=wasm)
	fast fastState // what the assembly needs besides (fast_wasm.go)
}

// newKeyBuilder returns a KeyBuilder with its buffers allocated.
func newKeyBuilder() *KeyBuilder {
	k := &KeyBuilder{
		out:     make([]byte, 0, 8192),
		variant: make([]byte, 0, 256),
		pbuf:    make([]byte, 0, 1024),
		srcs:    make([][]byte, 2, maxSrcs),
	}
	k.reset()
	return k
}

// reset clears k for the next call, keeping its buffers.
func (k *KeyBuilder) reset() {
	// k.srcs keeps its references to the previous input until they are
	// overwritten: clearing them costs more than it saves.
	k.srcs = k.srcs[:2]
	k.bypass, k.sorted, k.err, k.np, k.hostLen, k.srcLen = false, false, nil, 0, 0, 0
	k.hostRec, k.pathRec = nil, nil
	k.out, k.variant, k.pbuf = k.out[:abi.KeyHeaderSize], k.variant[:0], k.pbuf[:0]
}

// Bypass makes the request bypass the cache: the host sends it to the
// upstream unchanged and stores nothing. Whatever else was built is ignored.
func (k *KeyBuilder) Bypass() { k.bypass = true }

// Host appends h to the key's host, lower-cased, without a trailing dot
// ("Example.COM." becomes "example.com"). A host byte that is a control
// character, a space or one of "/?#@" makes Key fail with [ErrHost].
func (k *KeyBuilder) Host(h []byte) {
	// Small enough to be inlined: the first host, given before anything
	// was written, is only recorded; finish copies it, without a trailing
	// dot, lower-cases and checks it.
	if len(k.out) != abi.KeyHeaderSize || k.hostRec != nil {
		k.hostSlow(h)
		return
	}
	k.hostRec = h
}

// hostSlow is Host when a host was already given or something written.
// It is out of line to keep the code Host inlines into a policy small (see
// guest.parseRequest).
//
//go:noinline
func (k *KeyBuilder) hostSlow(h []byte) {
	k.flush()
	h = trimDot(h)
	if len(k.out) != abi.KeyHeaderSize+k.hostLen {
		k.hostAfterPath(h)
		return
	}
	k.out = append(k.out, h...)
	k.hostLen += len(h)
}

// flush copies the host and the path Host and Path recorded into k.out.
func (k *KeyBuilder) flush() {
	if h := k.hostRec; h != nil {
		h = trimDot(h)
		k.out = append(k.out, h...)
		k.hostLen += len(h)
		k.hostRec = nil
	}
	if p := k.pathRec; p != nil {
		k.out = append(k.out, p...)
		k.pathRec = nil
	}
}

// trimDot returns h without a trailing dot (finishKey drops the dot of a
// recorded host itself).
func trimDot(h []byte) []byte {
	if n := len(h); n > 0 && h[n-1] == '.' {
		return h[:n-1]
	}
	return h
}

// hostAfterPath is Host when the path is already written: the path moves
// after the host.
func (k *KeyBuilder) hostAfterPath(h []byte) {
	at := abi.KeyHeaderSize + k.hostLen
	end := len(k.out)
	k.out = append(k.out, h...)
	copy(k.out[at+len(h):], k.out[at:end])
	copy(k.out[at:], h)
	k.hostLen += len(h)
}

// Path appends p to the target's path. The path must start with '/'; an
// empty path is written as "/". Use the request's path ([Request.Path]) as
// sent: it is what the upstream receives.
func (k *KeyBuilder) Path(p []byte) {
	// Like Host: the first path, given before anything was written, is
	// only recorded.
	if len(k.out) != abi.KeyHeaderSize || k.pathRec != nil {
		k.pathSlow(p)
		return
	}
	k.pathRec = p
}

// pathSlow is Path when a path was already given or something written.
//
//go:noinline
func (k *KeyBuilder) pathSlow(p []byte) {
	k.flush()
	k.out = append(k.out, p...)
}

// PathString is [KeyBuilder.Path] for a string.
func (k *KeyBuilder) PathString(p string) {
	k.flush()
	k.out = append(k.out, p...)
}

// Param adds the query parameter p to the target, as p.Raw, copying it.
func (k *KeyBuilder) Param(p Param) { //nolint:gocritic // hugeParam: Params.Next returns a Param by value; taking its address at every call site would be clumsier
	k.addParam(p.Raw, nil, len(p.Name))
}

// AddParam adds the query parameter "name=value" to the target, copying
// both. Neither should hold '&', '#', a space or a control character.
func (k *KeyBuilder) AddParam(name, value []byte) {
	k.addParam(name, value, len(name))
}

// addParam adds the parameter a+'='+b (a alone if b is nil) whose name is
// nl bytes long, copied into pbuf.
func (k *KeyBuilder) addParam(a, b []byte, nl int) {
	if k.np == MaxParams {
		k.fail(ErrTooManyParams)
		return
	}
	start := len(k.pbuf)
	k.pbuf = append(k.pbuf, a...)
	if b != nil {
		k.pbuf = append(k.pbuf, '=')
		k.pbuf = append(k.pbuf, b...)
	}
	n := len(k.pbuf) - start
	k.params[k.np] = ent{off: uint32(start), n: uint32(n), name: uint32(nl)} //nolint:gosec // G115: buffers are far below 4 GiB
	k.np++
	k.srcLen += n
}

// Query adds every parameter of the raw query q whose name drop does not
// match, in order. A nil drop keeps them all. Empty parameters are left out.
// q's bytes are referenced until Key returns.
//
// In a wasm guest the scan is WebAssembly assembly (fast_wasm.s; see
// fast_wasm.go for why).
func (k *KeyBuilder) Query(q []byte, drop *ParamFilter) {
	if scanQuery(k, q, srcInput, drop) < 0 {
		k.queryOwn(q, drop)
	}
}

// queryOwn is the scan of q when the scan of a query inside the input
// buffer failed (too many parameters: the scan here fails again) or
// declined (q is elsewhere, or drop has a pattern longer than eight bytes):
// q becomes a source of its own, referenced from k.srcs.
func (k *KeyBuilder) queryOwn(q []byte, drop *ParamFilter) {
	if len(k.srcs) == maxSrcs {
		k.fail(ErrTooManyParams)
		return
	}
	src := uint32(len(k.srcs)) //nolint:gosec // G115: below maxSrcs
	k.srcs = append(k.srcs, q)
	setSource(k, src, q)
	n := scanQuery(k, q, src, drop)
	if n == -2 {
		n = scanQueryGo(k, q, src, drop)
	}
	if n == -1 {
		k.fail(ErrTooManyParams)
	}
}

// Sources of parameters (ent.src): the parameters given to Param and
// AddParam, copied into pbuf; the guest's input buffer, which holds the
// request (so a query from [Request.Query] needs no reference of its own);
// then each other query given to Query.
const (
	srcParams = 0
	srcInput  = 1
	maxSrcs   = 2 + MaxParams
)

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
	// A "/" for an empty path, the parameters with their separators, and
	// the variant take at most this much room.
	if need := len(k.out) + len(k.hostRec) + len(k.pathRec) + 1 + k.srcLen + k.np + len(k.variant); need > cap(k.out) {
		k.grow(need)
	}
	n := finishKey(k, k.out)
	if n < 0 {
		k.out = k.out[:abi.KeyHeaderSize]
		if n == -1 {
			return nil, ErrHost
		}
		return nil, ErrTarget
	}
	k.out = k.out[:n]
	return k.out, nil
}

// grow gives k.out room for need bytes.
//
//go:noinline
func (k *KeyBuilder) grow(need int) {
	k.out = append(make([]byte, 0, need+need/2), k.out...)
}

// setInput makes in, the guest's input buffer, the source srcInput.
func (k *KeyBuilder) setInput(in []byte) {
	k.srcs[srcInput] = in
	setSource(k, srcInput, in)
}
