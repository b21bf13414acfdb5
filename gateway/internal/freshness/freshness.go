package freshness

import (
	"bytes"
	"math"
	"time"

	"github.com/flowcache/flowcache/internal/httplex"
	"github.com/flowcache/flowcache/policy"
	"github.com/flowcache/flowcache/policy/cachecontrol"
	"github.com/flowcache/flowcache/policy/httpdate"
)

// ParseHTTPDate parses an HTTP date in IMF-fixdate, RFC 850 or asctime
// format (RFC 9110, Section 5.6.7) and returns it in UTC; ok is false if b is
// not a valid date. It does not allocate.
func ParseHTTPDate(b []byte) (time.Time, bool) {
	return httpdate.Parse(b)
}

// AppendHTTPDate appends t as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
// GMT") to dst and returns the extended buffer. It does not allocate when dst
// has room.
func AppendHTTPDate(dst []byte, t time.Time) []byte {
	return httpdate.Append(dst, t)
}

// CorrectedInitialAge returns the corrected_initial_age of a response
// (RFC 9111, Section 4.2.3): the larger of its apparent age (responseTime
// minus Date, if Date is valid) and its Age field plus the time the request
// took. ageHeader and dateHeader are the raw field values, nil if absent. An
// invalid Age is ignored (Section 5.1; a list uses its first member). The
// result is never negative.
func CorrectedInitialAge(ageHeader, dateHeader []byte, requestTime, responseTime time.Time) time.Duration {
	var apparent time.Duration
	if date, ok := httpdate.Parse(dateHeader); ok {
		apparent = max(responseTime.Sub(date), 0)
	}
	delay := max(responseTime.Sub(requestTime), 0)
	corrected := addSat(parseAge(ageHeader), delay)
	return max(apparent, corrected)
}

// CurrentAge returns the current_age of a stored response at now
// (RFC 9111, Section 4.2.3): its corrected initial age plus the time it has
// been resident since responseTime. A clock that went backwards counts as
// no residence time.
func CurrentAge(initialAge time.Duration, responseTime, now time.Time) time.Duration {
	return addSat(max(initialAge, 0), max(now.Sub(responseTime), 0))
}

// parseAge reads the first member of an Age field value as delta-seconds;
// anything else is 0 (ignored).
func parseAge(b []byte) time.Duration {
	first, _ := httplex.CutItem(b)
	v, ok := httplex.ParseDelta(first)
	if !ok {
		return 0 // empty, or junk around the number
	}
	return time.Duration(v) * time.Second
}

// addSat adds two non-negative durations, saturating instead of overflowing.
func addSat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// State is how a stored response may be used for a request.
type State uint8

// States, from most to least usable.
const (
	// Fresh: serve it as is.
	Fresh State = iota
	// Stale: revalidate (or fetch) before use; serve it stale never, not
	// even when the upstream fails.
	Stale
	// StaleWhileRevalidate: serve it now and refresh it in the background
	// (stale-while-revalidate, or a client's max-stale).
	StaleWhileRevalidate
	// StaleIfError: revalidate before use, but if the upstream fails or
	// answers 5xx, serve it stale (stale-if-error).
	StaleIfError
)

// String returns "fresh", "stale", "stale-while-revalidate" or
// "stale-if-error".
func (s State) String() string {
	switch s {
	case Fresh:
		return "fresh"
	case Stale:
		return "stale"
	case StaleWhileRevalidate:
		return "stale-while-revalidate"
	case StaleIfError:
		return "stale-if-error"
	default:
		return "unknown"
	}
}

// Assess judges a stored response of current age age, freshness lifetime ttl
// and stale windows swr and sie (time past ttl), for a request whose
// Cache-Control directives are req (nil if none). mustRevalidate and noCache
// are the stored decision's flags. In order:
//
//   - no-cache in the response or the request: Stale (RFC 9111,
//     Sections 5.2.2.4, 5.2.1.4).
//   - the request's max-age is exceeded (age > max-age), or the response
//     would not stay fresh for the request's min-fresh: Stale
//     (Sections 5.2.1.1, 5.2.1.3).
//   - age < ttl: Fresh (Section 4.2).
//   - staleness (age - ttl) < swr: StaleWhileRevalidate (RFC 5861).
//   - the request's max-stale (without value, or at least the staleness),
//     unless mustRevalidate: StaleWhileRevalidate (Sections 5.2.1.2,
//     5.2.2.2).
//   - staleness < sie, or within the request's stale-if-error unless
//     mustRevalidate: StaleIfError (RFC 5861, Section 4).
//   - otherwise Stale.
func Assess(age, ttl, swr, sie time.Duration, mustRevalidate, noCache bool, req *cachecontrol.Directives) State {
	if noCache || (req != nil && req.NoCache) {
		return Stale
	}
	ttl, age = max(ttl, 0), max(age, 0)
	if req != nil {
		if req.MaxAge >= 0 && age > seconds(req.MaxAge) {
			return Stale
		}
		if req.MinFresh >= 0 && ttl-age < seconds(req.MinFresh) {
			return Stale
		}
	}
	if age < ttl {
		return Fresh
	}
	staleness := age - ttl
	if staleness < swr {
		return StaleWhileRevalidate
	}
	if req != nil && !mustRevalidate &&
		(req.MaxStaleAny || (req.MaxStale >= 0 && staleness <= seconds(req.MaxStale))) {
		return StaleWhileRevalidate
	}
	if staleness < sie || (req != nil && !mustRevalidate && req.StaleIfError >= 0 && staleness <= seconds(req.StaleIfError)) {
		return StaleIfError
	}
	return Stale
}

func seconds(s int64) time.Duration { return time.Duration(s) * time.Second }

// NotModified reports whether a GET or HEAD request with header fields req
// is answered 304 Not Modified from a stored response with validators etag
// and lastModified (raw field values, nil if absent), per RFC 9110,
// Sections 13.1.2, 13.1.3 and 13.2.2. The caller checks the method and
// that a stored response exists.
//
// If-None-Match, when present, decides alone: it is true when it is "*" or
// lists an entity-tag that matches etag by weak comparison (W/ prefixes are
// ignored). Otherwise If-Modified-Since is true when it is a valid date and
// Last-Modified is a valid date not after it. It does not allocate.
func NotModified(req policy.Headers, etag, lastModified []byte) bool {
	stored := opaqueTag(etag)
	inm := false
	for i := range req {
		if !policy.EqualFold(req[i].Name, "If-None-Match") {
			continue
		}
		inm = true
		if matchTags(req[i].Value, stored) {
			return true
		}
	}
	if inm {
		return false
	}
	ims := req.Get("If-Modified-Since")
	if ims == nil {
		return false
	}
	since, ok := httpdate.Parse(ims)
	if !ok {
		return false
	}
	modified, ok := httpdate.Parse(lastModified)
	return ok && !modified.After(since)
}

// opaqueTag returns etag without surrounding whitespace and W/ prefix.
func opaqueTag(etag []byte) []byte {
	etag = httplex.TrimOWS(etag)
	if len(etag) >= 2 && etag[0] == 'W' && etag[1] == '/' {
		etag = etag[2:]
	}
	return etag
}

// matchTags reports whether the If-None-Match value v is "*" or lists an
// entity-tag whose opaque tag equals stored. A quoted tag may contain commas.
// A tag that is not quoted (a non-conforming client or origin) is compared
// as it stands.
func matchTags(v, stored []byte) bool {
	i, n := 0, len(v)
	for i < n {
		c := v[i]
		if c == ',' || c == ' ' || c == '\t' {
			i++
			continue
		}
		if c == '*' {
			return true
		}
		if n-i >= 2 && c == 'W' && v[i+1] == '/' {
			i += 2
		}
		start := i
		if i < n && v[i] == '"' {
			// A loop, not bytes.IndexByte: tags are a few bytes, and the
			// call costs more than it saves (BenchmarkNotModified, CPU
			// time: 20 ns with the loop, 26 with IndexByte).
			i++
			for i < n && v[i] != '"' {
				i++
			}
			if i < n {
				i++ // closing quote
			}
		} else {
			if end := bytes.IndexAny(v[i:], ", \t"); end >= 0 {
				i += end
			} else {
				i = n
			}
		}
		if len(stored) > 0 && string(v[start:i]) == string(stored) {
			return true
		}
	}
	return false
}
