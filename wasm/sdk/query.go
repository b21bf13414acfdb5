package sdk

import "strings"

// Param is one parameter of a query string, as sent: no percent-decoding and
// no '+' to space translation, so that what the key holds is exactly what the
// upstream receives. Its slices alias the query it was split from.
type Param struct {
	// Raw is the whole parameter, "name=value", "name=" or "name".
	Raw []byte
	// Name is the part of Raw before the first '=' (all of Raw without one).
	Name []byte
	// Value is the part of Raw after the first '=', empty without one.
	Value []byte
	// HasValue reports whether Raw holds a '='.
	HasValue bool
}

// Params splits a raw query string ("a=1&b=2", without '?') into its
// parameters without allocating. Empty parameters ("a=1&&b=2", a leading or
// trailing '&') are skipped. Only '&' separates parameters (';' is data, as
// in Go's net/url since Go 1.17).
//
// Params is a value: copying it copies the position. Use it as
//
//	ps := sdk.SplitQuery(r.Query())
//	for p, ok := ps.Next(); ok; p, ok = ps.Next() {
//		...
//	}
type Params struct {
	rest []byte
}

// SplitQuery returns an iterator over the parameters of the raw query q.
func SplitQuery(q []byte) Params { return Params{rest: q} }

// Next returns the next non-empty parameter and true, or false at the end.
func (ps *Params) Next() (Param, bool) {
	rest := ps.rest
	for len(rest) > 0 {
		end, eq := nextParam(rest)
		raw := rest[:end:end]
		if end < len(rest) {
			rest = rest[end+1:]
		} else {
			rest = nil
		}
		if end == 0 {
			continue
		}
		ps.rest = rest
		if eq >= 0 {
			return Param{Raw: raw, Name: raw[:eq:eq], Value: raw[eq+1:], HasValue: true}, true
		}
		return Param{Raw: raw, Name: raw}, true
	}
	ps.rest = nil
	return Param{}, false
}

// Get returns the value of the first remaining parameter named name and
// true, or nil and false. It does not advance ps.
func (ps Params) Get(name string) ([]byte, bool) {
	for p, ok := ps.Next(); ok; p, ok = ps.Next() {
		if string(p.Name) == name {
			return p.Value, true
		}
	}
	return nil, false
}

// ParamFilter matches query parameter names against a fixed set of patterns.
// Build it once, at package initialisation or in Init; it is read-only
// afterwards.
type ParamFilter struct {
	first    [4]uint64 // bit c: some pattern starts with byte c
	empty    bool      // a pattern matches the empty name ("" or "*")
	exact    []string
	prefixes []string
	// words holds every pattern as one masked word compare when none is
	// longer than 8 bytes (long is false): KeyBuilder.Query then matches
	// names without calling Match, a call costing more than the compares
	// in a wasm guest.
	words []wordPattern
	long  bool
}

// wordPattern is a pattern of at most 8 bytes: a name matches if its first
// n bytes, as a little-endian word, equal w, and its length is n (or at
// least n, for a prefix).
type wordPattern struct {
	w, mask uint64
	n       int
	prefix  bool
}

// NewParamFilter returns a filter matching the given names. A pattern ending
// in '*' matches every name starting with what precedes it ("utm_*"); any
// other pattern matches that name exactly. Names are compared as sent
// (case-sensitive, not percent-decoded): most origins treat parameter names
// that way.
func NewParamFilter(patterns ...string) *ParamFilter {
	f := &ParamFilter{}
	for _, p := range patterns {
		prefix, star := strings.CutSuffix(p, "*")
		if star {
			f.prefixes = append(f.prefixes, prefix)
		} else {
			f.exact = append(f.exact, p)
		}
		if len(prefix) <= 8 {
			wp := wordPattern{n: len(prefix), prefix: star}
			for i := range len(prefix) {
				wp.w |= uint64(prefix[i]) << (8 * i)
				wp.mask |= 0xff << (8 * i)
			}
			f.words = append(f.words, wp)
		} else {
			f.long = true
		}
		if prefix == "" {
			f.empty = true
			if star {
				f.first = [4]uint64{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
			}
			continue
		}
		f.first[prefix[0]>>6] |= 1 << (prefix[0] & 63)
	}
	return f
}

// Match reports whether name matches one of f's patterns. A nil filter
// matches nothing. It does not allocate.
func (f *ParamFilter) Match(name []byte) bool {
	if f == nil {
		return false
	}
	// Most names start with a byte no pattern starts with.
	if len(name) == 0 {
		if !f.empty {
			return false
		}
	} else if f.first[name[0]>>6]&(1<<(name[0]&63)) == 0 {
		return false
	}
	for _, s := range f.exact {
		if string(name) == s {
			return true
		}
	}
	for _, s := range f.prefixes {
		if len(name) >= len(s) && string(name[:len(s)]) == s {
			return true
		}
	}
	return false
}

// TrackingParams matches the marketing parameters that never change a
// response: utm_* (Google Analytics campaign tags), fbclid (Facebook) and
// gclid (Google Ads). Dropping them from the key (and so from the upstream
// request) lets every campaign link share one cached object.
var TrackingParams = NewParamFilter("utm_*", "fbclid", "gclid")
