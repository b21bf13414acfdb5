package abi

import (
	"strconv"
)

// RequestView is a checked request blob. Its accessors do not allocate; the
// slices they return alias the blob. The zero RequestView is empty.
type RequestView struct {
	b []byte
}

// ParseRequest checks the request blob b (every offset, length and header
// entry within bounds) and returns a view of it, or a [*DecodeError].
func ParseRequest(b []byte) (RequestView, error) {
	const what = "request blob"
	if len(b) < RequestFixedSize {
		return RequestView{}, derr(what, 0, "truncated: "+strconv.Itoa(len(b))+" bytes, want at least "+strconv.Itoa(RequestFixedSize))
	}
	for slot := reqMethod; slot <= reqRoute; slot += 8 {
		off, n := uint64(u32(b, slot)), uint64(u32(b, slot+4))
		if off+n > uint64(len(b)) {
			return RequestView{}, derr(what, slot, "field ["+strconv.FormatUint(off, 10)+", +"+strconv.FormatUint(n, 10)+") outside the blob")
		}
	}
	if err := checkHeaders(what, b, u32(b, reqHeadersOff), u32(b, reqHeaderCount), reqHeadersOff); err != nil {
		return RequestView{}, err
	}
	return RequestView{b: b}, nil
}

// checkHeaders checks that count header entries starting at off fit in b.
func checkHeaders(what string, b []byte, off, count uint32, slot int) error {
	p := uint64(off)
	if p > uint64(len(b)) {
		return derr(what, slot, "header list offset "+strconv.FormatUint(p, 10)+" outside the blob")
	}
	for i := uint32(0); i < count; i++ {
		for range 2 {
			if p+4 > uint64(len(b)) {
				return derr(what, int(p), "header "+strconv.FormatUint(uint64(i), 10)+" truncated") //nolint:gosec // p <= len(b), checked by the loop
			}
			p += 4 + uint64(u32(b, int(p))) //nolint:gosec // p+4 <= len(b), checked above
			if p > uint64(len(b)) {
				return derr(what, int(p), "header "+strconv.FormatUint(uint64(i), 10)+" overruns the blob") //nolint:gosec // an offset past the blob, only reported
			}
		}
	}
	return nil
}

func (r RequestView) field(slot int) []byte {
	if len(r.b) < RequestFixedSize {
		return nil
	}
	off, n := u32(r.b, slot), u32(r.b, slot+4)
	return r.b[off : off+n : off+n]
}

// Method returns the request method, e.g. "GET".
func (r RequestView) Method() []byte { return r.field(reqMethod) }

// Scheme returns "http" or "https".
func (r RequestView) Scheme() []byte { return r.field(reqScheme) }

// Host returns the request host in the gateway's normal form: lower-case,
// without port and trailing dot.
func (r RequestView) Host() []byte { return r.field(reqHost) }

// Path returns the request path in the gateway's normal form (escapes of
// unreserved characters decoded, "//" merged, dot-segments removed).
func (r RequestView) Path() []byte { return r.field(reqPath) }

// Query returns the raw query, without '?'; empty if none.
func (r RequestView) Query() []byte { return r.field(reqQuery) }

// Route returns the name of the matched route.
func (r RequestView) Route() []byte { return r.field(reqRoute) }

// Headers returns an iterator over the request header fields the module
// declared (all of them without flowcache_headers).
func (r RequestView) Headers() HeaderList {
	if len(r.b) < RequestFixedSize {
		return HeaderList{}
	}
	return HeaderList{b: r.b[u32(r.b, reqHeadersOff):], n: int(u32(r.b, reqHeaderCount))}
}

// Header returns the value of the first request header field named name
// (ASCII case-insensitive), or nil.
func (r RequestView) Header(name string) []byte {
	h := r.Headers()
	return h.Get(name)
}

// HeaderList iterates over the header list of a checked blob. It is a value:
// copying it copies the iteration position.
type HeaderList struct {
	b []byte
	n int
}

// Len returns the number of fields not yet returned by Next.
func (h *HeaderList) Len() int { return h.n }

// Next returns the next field and true, or false at the end.
func (h *HeaderList) Next() (name, value []byte, ok bool) {
	if h.n <= 0 || len(h.b) < 4 {
		return nil, nil, false
	}
	n := int(u32(h.b, 0))
	name = h.b[4 : 4+n : 4+n]
	b := h.b[4+n:]
	n = int(u32(b, 0))
	value = b[4 : 4+n : 4+n]
	h.b = b[4+n:]
	h.n--
	return name, value, true
}

// Get returns the value of the first remaining field named name (ASCII
// case-insensitive), or nil. It does not advance h.
func (h HeaderList) Get(name string) []byte {
	for {
		n, v, ok := h.Next()
		if !ok {
			return nil
		}
		if EqualFold(n, name) {
			return v
		}
	}
}

// EqualFold reports whether b equals the ASCII string s, ignoring ASCII case,
// without allocating.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := b[i], s[i]
		if c == d {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// DecideView is a checked decide blob. Its accessors do not allocate; the
// slices they return alias the blob. The zero DecideView is empty.
type DecideView struct {
	b   []byte
	req RequestView
}

// ParseDecide checks the decide blob b, including the request blob inside
// it, and returns a view of it, or a [*DecodeError].
func ParseDecide(b []byte) (DecideView, error) {
	const what = "decide blob"
	if len(b) < DecideFixedSize {
		return DecideView{}, derr(what, 0, "truncated: "+strconv.Itoa(len(b))+" bytes, want at least "+strconv.Itoa(DecideFixedSize))
	}
	var d Decision
	if err := DecodeDecision(b[:DecisionSize], &d); err != nil {
		return DecideView{}, err
	}
	if err := checkHeaders(what, b, u32(b, decHeadersOff), u32(b, decHeaderCount), decHeadersOff); err != nil {
		return DecideView{}, err
	}
	ro := u32(b, decRequestOff)
	if ro < DecideFixedSize || uint64(ro) > uint64(len(b)) {
		return DecideView{}, derr(what, decRequestOff, "request offset "+strconv.FormatUint(uint64(ro), 10)+" outside the blob")
	}
	req, err := ParseRequest(b[ro:])
	if err != nil {
		return DecideView{}, err
	}
	return DecideView{b: b, req: req}, nil
}

// Request returns the view of the request the response answers.
func (v DecideView) Request() RequestView { return v.req }

// Status returns the response status code.
func (v DecideView) Status() int {
	if len(v.b) < DecideFixedSize {
		return 0
	}
	return int(u32(v.b, decStatus))
}

// BodySize returns the response body length, or -1 if unknown.
func (v DecideView) BodySize() int64 {
	if len(v.b) < DecideFixedSize {
		return -1
	}
	return int64(le.Uint64(v.b[decBodySize:])) //nolint:gosec // the i64 field holds the bits of an int64
}

// NowUnixMilli returns the time the response was received, in Unix
// milliseconds: the time freshness is computed against.
func (v DecideView) NowUnixMilli() int64 {
	if len(v.b) < DecideFixedSize {
		return 0
	}
	return int64(le.Uint64(v.b[decNow:])) //nolint:gosec // the i64 field holds the bits of an int64
}

// Headers returns an iterator over the response header fields.
func (v DecideView) Headers() HeaderList {
	if len(v.b) < DecideFixedSize {
		return HeaderList{}
	}
	return HeaderList{b: v.b[u32(v.b, decHeadersOff):], n: int(u32(v.b, decHeaderCount))}
}

// Header returns the value of the first response header field named name
// (ASCII case-insensitive), or nil.
func (v DecideView) Header(name string) []byte {
	h := v.Headers()
	return h.Get(name)
}

// Default decodes the default decision (RFC 9111 rules, as computed by the
// host) into d.
func (v DecideView) Default(d *Decision) {
	if len(v.b) < DecideFixedSize {
		*d = Decision{}
		return
	}
	_ = DecodeDecision(v.b[:DecisionSize], d) // checked by ParseDecide
}

// DecisionBytes returns the [DecisionSize] bytes of the default decision,
// at offset 0 of the blob. A guest may overwrite them with [PutDecision] and
// return Pack(blobPtr, DecisionSize).
func (v DecideView) DecisionBytes() []byte {
	if len(v.b) < DecideFixedSize {
		return nil
	}
	return v.b[:DecisionSize:DecisionSize]
}

// PutDecision encodes d into b[:DecisionSize]. Durations are truncated to
// whole milliseconds; negative ones are written as 0. It panics if b is
// shorter than DecisionSize.
func PutDecision(b []byte, d *Decision) {
	_ = b[DecisionSize-1]
	var flags uint32
	if d.Store {
		flags |= FlagStore
	}
	if d.Admit {
		flags |= FlagAdmit
	}
	if d.MustRevalidate {
		flags |= FlagMustRevalidate
	}
	if d.NoCache {
		flags |= FlagNoCache
	}
	put32(b, dcnFlags, flags)
	put32(b, dcnTier, uint32(d.Tier))
	le.PutUint64(b[dcnTTL:], uint64(max(d.TTL.Milliseconds(), 0)))
	le.PutUint64(b[dcnSWR:], uint64(max(d.StaleWhileRevalidate.Milliseconds(), 0)))
	le.PutUint64(b[dcnSIE:], uint64(max(d.StaleIfError.Milliseconds(), 0)))
}

// AppendKey appends the key result for k to dst and returns the extended
// buffer. A guest returns Pack(address of the result, its length). It does
// not allocate when dst has room.
func AppendKey(dst []byte, k *Key) []byte {
	start := len(dst)
	dst = append(dst, zeros[:KeyHeaderSize]...)
	if k.Bypass {
		PutKeyHeader(dst[start:], true, 0, 0, 0)
		return dst
	}
	PutKeyHeader(dst[start:], false, len(k.Host), len(k.Target), len(k.Variant))
	dst = append(dst, k.Host...)
	dst = append(dst, k.Target...)
	return append(dst, k.Variant...)
}

// PutKeyHeader writes the fixed part of a key result into b[:KeyHeaderSize],
// for guests that build host, target and variant in place after it. It
// panics if b is shorter than KeyHeaderSize.
func PutKeyHeader(b []byte, bypass bool, hostLen, targetLen, variantLen int) {
	_ = b[KeyHeaderSize-1]
	var flags uint32
	if bypass {
		flags = KeyFlagBypass
	}
	put32(b, keyFlags, flags)
	put32(b, keyHostLen, uint32(hostLen))       //nolint:gosec // lengths of a key result are u32 on the wire; the host rejects more than MaxKeySize
	put32(b, keyTargetLen, uint32(targetLen))   //nolint:gosec // lengths of a key result are u32 on the wire; the host rejects more than MaxKeySize
	put32(b, keyVariantLen, uint32(variantLen)) //nolint:gosec // lengths of a key result are u32 on the wire; the host rejects more than MaxKeySize
}
