package policy

import (
	"bytes"
	"time"

	"github.com/flowcache/flowcache/internal/httplex"
)

// Policy decides how requests are keyed and how responses are kept. The gateway
// calls Key once per cacheable request (GET, HEAD) and Decide once per upstream
// response it may store.
//
// Implementations must be safe for concurrent use and should not allocate per
// call: every output goes into a caller-owned, reused value (Key, Decision).
// An error selects the route's fallback (the native [Default] policy) for that
// request; it never fails the request.
type Policy interface {
	// Key fills k for r. On entry k has been Reset by the caller. A policy that
	// wants the request to bypass the cache sets k.Bypass. Otherwise it appends
	// the normalised host to k.Host, the normalised request target
	// (path[?query]) to k.Target, and any extra key material (a device class, a
	// cookie's value) to k.Variant.
	//
	// The gateway sends k.Target to the upstream as the request URI, so that a
	// query parameter left out of the key is left out of the upstream request
	// too: the key is computed from exactly what the upstream receives.
	Key(r *Request, k *Key) error

	// Decide fills d for the response resp to the request r. On entry d holds
	// the decision of the [Default] policy (RFC 9111 shared-cache rules applied
	// to resp's headers); a policy changes only what it wants to override.
	Decide(r *Request, resp *Response, d *Decision) error
}

// Request is a read-only view of a client request, valid only for the
// duration of one Policy call: the byte slices point into the gateway's
// buffers and must not be retained or modified.
type Request struct {
	// Method is the request method, e.g. "GET".
	Method []byte
	// Scheme is "http" or "https", as seen by the gateway.
	Scheme []byte
	// Host is the request's host in the gateway's normal form: lower-case,
	// without port and trailing dot (empty for an HTTP/1.0 request without
	// Host).
	Host []byte
	// Path is the request path in the gateway's normal form (RFC 3986,
	// Section 6.2.2: unreserved characters decoded, other escapes kept with
	// upper-case hex, "//" merged, dot-segments removed); the route was
	// matched on it and the upstream receives it.
	Path []byte
	// Query is the raw query string, without the leading '?'; empty if none.
	Query []byte
	// Headers holds the request header fields, hop-by-hop fields removed.
	Headers Headers
	// Route is the name of the matched route.
	Route []byte
}

// Reset clears r for reuse, keeping the capacity of its slices.
func (r *Request) Reset() {
	r.Method, r.Scheme, r.Host, r.Path, r.Query, r.Route = nil, nil, nil, nil, nil, nil
	r.Headers = r.Headers[:0]
}

// Response is a read-only view of an upstream response, valid only for the
// duration of one Decide call.
type Response struct {
	// Status is the response status code.
	Status int
	// Headers holds the response header fields, hop-by-hop fields removed.
	Headers Headers
	// BodySize is the length of the body in bytes, or -1 if not known yet
	// (a streamed response).
	BodySize int64
	// Now is the time the response was received; freshness is computed
	// relative to it (Date and Expires are compared with it).
	Now time.Time
}

// Reset clears resp for reuse, keeping the capacity of its slices.
func (resp *Response) Reset() {
	resp.Status, resp.BodySize, resp.Now = 0, 0, time.Time{}
	resp.Headers = resp.Headers[:0]
}

// Header is one header field. Name is as received (any case).
type Header struct {
	Name, Value []byte
}

// Headers is a list of header fields in the order received. Lookups are
// case-insensitive on the name. A field repeated in the message appears once
// per occurrence.
type Headers []Header

// Get returns the value of the first field named name (case-insensitive), or
// nil if there is none.
func (h Headers) Get(name string) []byte {
	for i := range h {
		if httplex.EqualFold(h[i].Name, name) {
			return h[i].Value
		}
	}
	return nil
}

// Has reports whether a field named name is present.
func (h Headers) Has(name string) bool {
	for i := range h {
		if httplex.EqualFold(h[i].Name, name) {
			return true
		}
	}
	return false
}

// AppendValues appends to dst the values of every field named name, joined by
// ", " as RFC 9110 Section 5.3 allows for list-based fields, and returns the
// extended buffer.
func (h Headers) AppendValues(dst []byte, name string) []byte {
	first := true
	for i := range h {
		if httplex.EqualFold(h[i].Name, name) {
			if !first {
				dst = append(dst, ", "...)
			}
			dst = append(dst, h[i].Value...)
			first = false
		}
	}
	return dst
}

// EqualFold reports whether b equals the ASCII string s, ignoring ASCII
// case, without allocating. Header names are compared with it.
func EqualFold(b []byte, s string) bool { return httplex.EqualFold(b, s) }

// Key is a policy's answer to "which cached object does this request name?".
// The gateway owns it and reuses it across requests; a policy only appends to
// its slices.
type Key struct {
	// Bypass, when set, sends the request to the upstream without looking up
	// or storing anything.
	Bypass bool
	// Host is the normalised host part of the key (e.g. lower-cased).
	Host []byte
	// Target is the normalised request target, "path" or "path?query". It is
	// both part of the key and the URI sent to the upstream.
	Target []byte
	// Variant is extra key material not visible in the target (a device
	// class, a cookie's value). Empty for most policies.
	Variant []byte
}

// Reset clears k for reuse, keeping the capacity of its slices.
func (k *Key) Reset() {
	k.Bypass = false
	k.Host, k.Target, k.Variant = k.Host[:0], k.Target[:0], k.Variant[:0]
}

// Equal reports whether k and o name the same cached object.
func (k *Key) Equal(o *Key) bool {
	return k.Bypass == o.Bypass && bytes.Equal(k.Host, o.Host) &&
		bytes.Equal(k.Target, o.Target) && bytes.Equal(k.Variant, o.Variant)
}

// Tier says which cache tiers may hold a response.
type Tier uint8

// Tiers. TierBoth is the default.
const (
	TierBoth Tier = iota // L1 (in-process) and L2 (Redis)
	TierL1               // in-process only
	TierL2               // Redis only
)

// String returns "both", "l1" or "l2".
func (t Tier) String() string {
	switch t {
	case TierL1:
		return "l1"
	case TierL2:
		return "l2"
	default:
		return "both"
	}
}

// Decision is a policy's answer to "may this response be stored, and for how
// long?". The gateway owns it and resets it before each Decide call.
type Decision struct {
	// Store reports whether the response may be stored at all.
	Store bool
	// TTL is the freshness lifetime (RFC 9111 Section 4.2.1), measured from
	// the response's age zero; the gateway subtracts the response's current
	// age (Age header, Date) when serving.
	TTL time.Duration
	// StaleWhileRevalidate is how long past TTL a stale response may be
	// served while one background request refreshes it (RFC 5861).
	StaleWhileRevalidate time.Duration
	// StaleIfError is how long past TTL a stale response may be served when
	// the upstream fails or answers 5xx (RFC 5861).
	StaleIfError time.Duration
	// MustRevalidate forbids serving the response stale beyond the windows
	// above: must-revalidate, proxy-revalidate, or s-maxage present.
	MustRevalidate bool
	// NoCache means the response may be stored but must be revalidated with
	// the upstream before each use (response "no-cache" without field names).
	NoCache bool
	// Tier selects the cache tiers that may hold the response.
	Tier Tier
	// Admit reports whether the response may enter the bounded L1, where it
	// may displace other entries. A policy that keeps one-hit wonders or
	// large objects out of L1 clears it; the response may still go to L2.
	Admit bool
}

// Reset clears d for reuse: nothing stored, both tiers, admitted.
func (d *Decision) Reset() {
	*d = Decision{Admit: true}
}
