package sdk

import (
	"time"

	"github.com/flowcache/flowcache/wasm/abi"
)

// Headers iterates over header fields without allocating:
//
//	hs := r.Headers()
//	for name, value, ok := hs.Next(); ok; name, value, ok = hs.Next() {
//		...
//	}
type Headers = abi.HeaderList

// Request is the read-only view of the client request that [Policy].Key and
// [Policy].Decide receive. Its accessors do not allocate; the slices they
// return alias the host's input and are valid only during the call: copy what
// you keep, and do not modify them.
//
// Only the request header fields the policy declared in [Policy].Headers are
// present.
type Request struct {
	v         abi.RequestView
	b         []byte // the checked request blob
	noHeaders bool   // the blob holds no header field: v is not set
}

// field returns the field whose (u32 offset, u32 length) is at slot of the
// request blob: one 8-byte load and a slice expression, inlined, because in a
// wasm guest a call costs tens of nanoseconds.
func (r *Request) field(slot int) []byte {
	if len(r.b) < abi.RequestFixedSize {
		return nil
	}
	x := load64(r.b[slot:])
	off, end := uint32(x), uint32(x)+uint32(x>>32) //nolint:gosec // G115: the two u32 halves of the slot; ParseRequest checked off+len
	return r.b[off:end:end]
}

// Method returns the request method, e.g. "GET".
func (r *Request) Method() []byte { return r.field(0) }

// Scheme returns "http" or "https", as seen by the gateway.
func (r *Request) Scheme() []byte { return r.field(8) }

// Host returns the request host as the client sent it (any case), without
// port.
func (r *Request) Host() []byte { return r.field(16) }

// Path returns the request path as received (percent-encoding preserved).
func (r *Request) Path() []byte { return r.field(24) }

// Query returns the raw query string, without '?'; empty if none. Split it
// with [SplitQuery] or [Request.Params].
func (r *Request) Query() []byte { return r.field(32) }

// Route returns the name of the gateway route that matched the request.
func (r *Request) Route() []byte { return r.field(40) }

// Params returns an iterator over the query parameters.
func (r *Request) Params() Params { return SplitQuery(r.field(32)) }

// Param returns the value of the first query parameter named name and true,
// or nil and false.
func (r *Request) Param(name string) ([]byte, bool) { return r.Params().Get(name) }

// Header returns the value of the first header field named name (ASCII
// case-insensitive), or nil. The field must have been declared in
// [Policy].Headers.
func (r *Request) Header(name string) []byte {
	if r.noHeaders { // the usual case, answered inline: no declared header was sent
		return nil
	}
	return r.header(name)
}

func (r *Request) header(name string) []byte { return r.v.Header(name) }

// Headers returns an iterator over the declared header fields present in the
// request.
func (r *Request) Headers() Headers {
	if r.noHeaders {
		return Headers{}
	}
	return r.v.Headers()
}

// Cookie returns the value of the first cookie named name in the request's
// Cookie fields and true, or nil and false. Declare "cookie" in
// [Policy].Headers to use it.
func (r *Request) Cookie(name string) ([]byte, bool) {
	hs := r.Headers()
	for n, v, ok := hs.Next(); ok; n, v, ok = hs.Next() {
		if !abi.EqualFold(n, "cookie") {
			continue
		}
		if val, ok := cookie(v, name); ok {
			return val, true
		}
	}
	return nil, false
}

// cookie finds name in a Cookie field value ("a=1; b=2", RFC 6265 5.4).
func cookie(v []byte, name string) ([]byte, bool) {
	for len(v) > 0 {
		end := len(v)
		for i, c := range v {
			if c == ';' {
				end = i
				break
			}
		}
		pair := v[:end]
		if end < len(v) {
			v = v[end+1:]
		} else {
			v = nil
		}
		for len(pair) > 0 && (pair[0] == ' ' || pair[0] == '\t') {
			pair = pair[1:]
		}
		if len(pair) > len(name) && pair[len(name)] == '=' && string(pair[:len(name)]) == name {
			val := pair[len(name)+1:]
			for len(val) > 0 && (val[len(val)-1] == ' ' || val[len(val)-1] == '\t') {
				val = val[:len(val)-1]
			}
			if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
				val = val[1 : len(val)-1]
			}
			return val, true
		}
	}
	return nil, false
}

// Response is the read-only view of an upstream response that
// [Policy].Decide receives, with the request it answers. Like [Request], its
// slices are valid only during the call.
type Response struct {
	v   abi.DecideView
	req Request
}

// Request returns the request the response answers.
func (r *Response) Request() *Request { return &r.req }

// Status returns the response status code.
func (r *Response) Status() int { return r.v.Status() }

// BodySize returns the body length in bytes, or -1 if unknown (streamed).
func (r *Response) BodySize() int64 { return r.v.BodySize() }

// NowUnixMilli returns the time the response was received, in Unix
// milliseconds. Use it rather than the clock, which a policy does not have
// (the host gives WASI a fake one).
func (r *Response) NowUnixMilli() int64 { return r.v.NowUnixMilli() }

// Header returns the value of the first response header field named name
// (ASCII case-insensitive), or nil. Every end-to-end response field is
// present.
func (r *Response) Header(name string) []byte { return r.v.Header(name) }

// Headers returns an iterator over the response header fields.
func (r *Response) Headers() Headers { return r.v.Headers() }

// Tier says which cache tiers may hold a response.
type Tier = abi.Tier

// Tiers.
const (
	TierBoth = abi.TierBoth // L1 (in-process) and L2 (Redis); the default
	TierL1   = abi.TierL1   // in-process only
	TierL2   = abi.TierL2   // Redis only
)

// Decision is what [Policy].Decide returns: whether and how long a response
// may be kept. On entry it holds the host's default decision (the RFC 9111
// shared-cache rules applied to the response); a policy changes only what it
// wants to override. Durations travel as whole milliseconds; negative ones
// count as 0.
type Decision struct {
	// Store reports whether the response may be stored at all.
	Store bool
	// Admit reports whether the response may enter the bounded in-process
	// L1, where it may displace other entries. Clear it for one-hit wonders
	// and large objects: they can still go to L2.
	Admit bool
	// MustRevalidate forbids serving the response stale beyond the windows
	// below.
	MustRevalidate bool
	// NoCache means: store, but revalidate with the upstream before each use.
	NoCache bool
	// Tier selects the cache tiers that may hold the response.
	Tier Tier
	// TTL is the freshness lifetime, from the response's age zero.
	TTL time.Duration
	// StaleWhileRevalidate is how long past TTL the response may be served
	// while one background request refreshes it (RFC 5861).
	StaleWhileRevalidate time.Duration
	// StaleIfError is how long past TTL the response may be served when the
	// upstream fails (RFC 5861).
	StaleIfError time.Duration
}

// Cache stores the response for ttl: Store is set, NoCache cleared.
func (d *Decision) Cache(ttl time.Duration) {
	d.Store, d.NoCache, d.TTL = true, false, ttl
}

// Stale sets the stale-while-revalidate and stale-if-error windows.
func (d *Decision) Stale(whileRevalidate, ifError time.Duration) {
	d.StaleWhileRevalidate, d.StaleIfError = whileRevalidate, ifError
}

// DontStore keeps the response out of every tier.
func (d *Decision) DontStore() { d.Store = false }
