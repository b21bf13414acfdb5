package directive

import (
	"bytes"

	"github.com/flowcache/flowcache/internal/httplex"
)

// Absent is the value of a delta-seconds field whose directive is absent.
const Absent = -1

// MaxDelta is the largest delta-seconds value kept: RFC 9111, Section 1.2.2
// says a larger value is to be taken as 2^31.
const MaxDelta = httplex.MaxDelta

// Directives is the result of parsing one or more Cache-Control (or
// CDN-Cache-Control, Surrogate-Control) field values. See package
// policy/cachecontrol for the meaning of each field.
type Directives struct {
	// MaxAge is max-age in seconds (request and response), or -1.
	MaxAge int64
	// SMaxAge is s-maxage in seconds (response), or -1.
	SMaxAge int64
	// StaleWhileRevalidate is stale-while-revalidate in seconds (RFC 5861), or -1.
	StaleWhileRevalidate int64
	// StaleIfError is stale-if-error in seconds (RFC 5861), or -1.
	StaleIfError int64
	// MaxStale is max-stale in seconds (request), or -1.
	MaxStale int64
	// MinFresh is min-fresh in seconds (request), or -1.
	MinFresh int64

	// MaxStaleAny is set by a max-stale directive without a value: the client
	// accepts a stale response of any age.
	MaxStaleAny bool

	// NoStore is no-store.
	NoStore bool
	// NoCache is the unqualified no-cache.
	NoCache bool
	// Private is the unqualified private.
	Private bool
	// Public is public.
	Public bool
	// MustRevalidate is must-revalidate.
	MustRevalidate bool
	// ProxyRevalidate is proxy-revalidate.
	ProxyRevalidate bool
	// NoTransform is no-transform.
	NoTransform bool
	// OnlyIfCached is only-if-cached (request).
	OnlyIfCached bool
	// Immutable is immutable (RFC 8246).
	Immutable bool
	// MustUnderstand is must-understand.
	MustUnderstand bool

	// NoCacheFields is set by the qualified form no-cache="field-names".
	NoCacheFields bool
	// PrivateFields is set by the qualified form private="field-names".
	PrivateFields bool
}

// Reset sets every delta-seconds field to -1 (absent) and every flag to false.
func (d *Directives) Reset() {
	*d = Directives{
		MaxAge:               Absent,
		SMaxAge:              Absent,
		StaleWhileRevalidate: Absent,
		StaleIfError:         Absent,
		MaxStale:             Absent,
		MinFresh:             Absent,
	}
}

// Empty reports whether d holds no directive at all, as after Reset.
func (d *Directives) Empty() bool {
	var z Directives
	z.Reset()
	return *d == z
}

// how a repeated or invalid delta-seconds directive is merged.
type mergeRule uint8

const (
	// mergeStale: an invalid value, or two different values, give 0 (the
	// response is stale). RFC 9111, Section 4.2.1. Used for max-age and
	// s-maxage.
	mergeStale mergeRule = iota
	// mergeMin: an invalid value is ignored; of two values the smaller is
	// kept (the most restrictive). Used for stale-while-revalidate,
	// stale-if-error and max-stale.
	mergeMin
	// mergeMax: an invalid value is ignored; of two values the larger is
	// kept (the most restrictive). Used for min-fresh.
	mergeMax
)

// Parse merges the directives of one field value into d. It never fails:
// unknown directives are skipped with their argument (a quoted argument may
// hold commas), and characters that cannot start a directive act as
// separators. It does not allocate.
func Parse(d *Directives, v []byte) {
	i, n := 0, len(v)
	for i < n {
		// Anything that cannot start a directive separates items: commas,
		// whitespace, and junk such as ';'. A stray quoted string is skipped
		// whole, so that nothing inside it is read as a directive.
		c := v[i]
		if c == '"' {
			_, i, _ = quoted(v, i)
			continue
		}
		if !httplex.IsTchar(c) {
			i++
			continue
		}

		// Directive name: a token, lower-cased into a small buffer.
		var name [24]byte
		nameLen := 0
		for i < n && httplex.IsTchar(v[i]) {
			if nameLen < len(name) {
				name[nameLen] = httplex.Lower(v[i])
			}
			nameLen++
			i++
		}
		i = httplex.SkipOWS(v, i)

		// Optional argument: token or quoted-string.
		hasArg, argOK := false, true
		var arg []byte
		if i < n && v[i] == '=' {
			hasArg = true
			i = httplex.SkipOWS(v, i+1)
			if i < n && v[i] == '"' {
				arg, i, argOK = quoted(v, i)
			} else {
				s := i
				for i < n && httplex.IsTchar(v[i]) {
					i++
				}
				arg = v[s:i]
				argOK = len(arg) > 0
			}
			if i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t' {
				// Junk glued to the argument (max-age="1"0, max-age=1;x):
				// the argument is not valid.
				argOK = false
			}
		}
		if nameLen > len(name) {
			continue // longer than any directive we know
		}

		switch string(name[:nameLen]) {
		case "max-age":
			if fresh, stale, ok := cutPlus(arg); ok && argOK {
				// Surrogate-Control's "max-age=fresh+stale" (Edge
				// Architecture Specification): stale is how long the
				// response may be served stale if the origin fails.
				mergeDelta(&d.MaxAge, true, true, fresh, mergeStale)
				mergeDelta(&d.StaleIfError, true, true, stale, mergeMin)
				continue
			}
			mergeDelta(&d.MaxAge, hasArg, argOK, arg, mergeStale)
		case "s-maxage":
			mergeDelta(&d.SMaxAge, hasArg, argOK, arg, mergeStale)
		case "stale-while-revalidate":
			mergeDelta(&d.StaleWhileRevalidate, hasArg, argOK, arg, mergeMin)
		case "stale-if-error":
			mergeDelta(&d.StaleIfError, hasArg, argOK, arg, mergeMin)
		case "max-stale":
			if !hasArg {
				d.MaxStaleAny = true
			} else {
				mergeDelta(&d.MaxStale, hasArg, argOK, arg, mergeMin)
			}
		case "min-fresh":
			mergeDelta(&d.MinFresh, hasArg, argOK, arg, mergeMax)
		case "no-store":
			d.NoStore = true
		case "no-cache":
			if hasArg {
				d.NoCacheFields = true
			} else {
				d.NoCache = true
			}
		case "private":
			if hasArg {
				d.PrivateFields = true
			} else {
				d.Private = true
			}
		case "public":
			d.Public = true
		case "must-revalidate":
			d.MustRevalidate = true
		case "proxy-revalidate":
			d.ProxyRevalidate = true
		case "no-transform":
			d.NoTransform = true
		case "only-if-cached":
			d.OnlyIfCached = true
		case "immutable":
			d.Immutable = true
		case "must-understand":
			d.MustUnderstand = true
		}
	}
}

// mergeDelta merges one delta-seconds argument into *dst following rule.
func mergeDelta(dst *int64, hasArg, argOK bool, arg []byte, rule mergeRule) {
	v, ok := int64(0), hasArg && argOK
	if ok {
		v, ok = httplex.ParseDelta(arg)
	}
	switch rule {
	case mergeStale:
		if !ok || (*dst != Absent && *dst != v) {
			*dst = 0
			return
		}
		*dst = v
	case mergeMin:
		if ok && (*dst == Absent || v < *dst) {
			*dst = v
		}
	case mergeMax:
		if ok && v > *dst {
			*dst = v
		}
	}
}

// cutPlus splits "digits+digits" at the '+'; ok is false for anything else.
func cutPlus(arg []byte) (a, b []byte, ok bool) {
	i := bytes.IndexByte(arg, '+')
	if i < 0 {
		return nil, nil, false
	}
	a, b = arg[:i], arg[i+1:]
	_, okA := httplex.ParseDelta(a)
	_, okB := httplex.ParseDelta(b)
	return a, b, okA && okB
}

// quoted reads the quoted-string starting at v[i] == '"'. It returns its
// content (with any backslash escapes left in place), the index just past the
// closing quote, and whether the string was well formed: closed, with no
// escape in it (no directive we know takes one).
func quoted(v []byte, i int) (content []byte, next int, ok bool) {
	s := i + 1
	ok = true
	for j := s; j < len(v); j++ {
		switch v[j] {
		case '\\':
			ok = false
			j++
		case '"':
			return v[s:j], j + 1, ok
		}
	}
	return v[s:], len(v), false
}
