package policy

import (
	"time"

	"github.com/flowcache/flowcache/internal/httplex"
	"github.com/flowcache/flowcache/policy/httpdate"
	"github.com/flowcache/flowcache/policy/internal/directive"
)

// Default is the built-in policy: the shared-cache rules of RFC 9111 applied
// to the response's header fields, with the request keyed by host and target.
// It is the fallback of every route whose own policy fails. The zero value is
// ready to use; a Default is safe for concurrent use and does not allocate.
//
// # Key
//
// A request bypasses the cache unless its method is GET or HEAD, and when it
// carries a Cookie field, as in Varnish's built-in VCL: an answer to a request
// with a cookie is likely personal, and a policy that knows better keys on
// the cookie it needs. Otherwise the key is the host, lower-cased and without
// port, and the target, the path followed by "?" and the query when there is
// one (the query is kept verbatim, so the upstream sees exactly what is
// keyed).
//
// # Decide
//
// A response is stored only if every rule of RFC 9111, Section 3 for a
// shared cache allows it. It is not stored when:
//
//   - its status is not understood: not final (1xx), out of range, 206
//     (this cache does not combine partial content) or 304 (it refreshes a
//     stored response, it is not one);
//   - the request has no-store (Section 5.2.1.5);
//   - the response has no-store (Section 5.2.2.5), unless it also has
//     must-understand and its status is one RFC 9110 defines
//     (Section 5.2.2.3); with must-understand and any other status, it is
//     not stored;
//   - the response has private, qualified or not (Section 5.2.2.7);
//   - the response has Vary: * (Section 4.1);
//   - the response has Set-Cookie (a cookie set for one client must not be
//     served to another; a policy that knows better overrides);
//   - the request has Authorization and the response has none of public,
//     s-maxage, must-revalidate (Section 3.5);
//   - its status is not cacheable by default (RFC 9110, Section 15.1: 200,
//     203, 204, 300, 301, 308, 404, 405, 410, 414, 501) and the response has
//     no explicit freshness (max-age, s-maxage, Expires) nor public;
//   - it could never be reused: no freshness, no stale window and no
//     validator (ETag, Last-Modified) to revalidate it with. Storing it is
//     allowed but would only take memory.
//
// The freshness lifetime (TTL) is s-maxage, else max-age, else Expires minus
// Date (Section 4.2.1; an invalid Expires means already expired; a missing or
// invalid Date is taken as the time the response was received). Without any
// of them, and only for a status cacheable by default or a public response
// (Section 4.2.2), it is DefaultTTL when that is positive, else a heuristic:
// 10% of the time between Last-Modified and Date, at most 24 hours, or 0
// without Last-Modified. stale-while-revalidate and stale-if-error (RFC 5861)
// give the stale windows. MustRevalidate is set by must-revalidate,
// proxy-revalidate or s-maxage (Sections 5.2.2.2, 5.2.2.8, 5.2.2.10), NoCache
// by no-cache, qualified or not: this cache does not strip the listed fields,
// so it revalidates the whole response, as Section 5.2.2.4 allows.
//
// # Targeted fields
//
// CDN-Cache-Control (RFC 9213), if present, valid and holding a directive,
// replaces Cache-Control for this cache; failing that, Surrogate-Control
// does. CDN-Cache-Control is a Structured Field Dictionary (RFC 8941): a
// field that does not parse as one, or where a known directive has the
// wrong type (max-age=1.5, max-age="60", no-store=1), is ignored whole, as
// RFC 9213, Section 2.1 says, and Cache-Control applies. Every
// directive above, private and no-store included, is read from the field
// that wins alone, as RFC 9213 Section 2.2 requires: "Cache-Control: no-store"
// with "CDN-Cache-Control: max-age=600" is the way an origin says "browsers
// must not keep this, the edge may", and it is stored. The gateway removes
// Surrogate-Control before the client sees the response, and passes
// CDN-Cache-Control on unchanged, for a CDN in front of it. Expires is read
// whichever field wins: it is not part of Cache-Control.
//
// Decide sets Store, TTL, StaleWhileRevalidate, StaleIfError, MustRevalidate
// and NoCache; it leaves Tier and Admit as it finds them.
type Default struct {
	// DefaultTTL, when positive, replaces the heuristic freshness lifetime
	// of responses that have no explicit one.
	DefaultTTL time.Duration
}

// maxHeuristic caps the heuristic freshness lifetime.
const maxHeuristic = 24 * time.Hour

// Key implements [Policy].
func (Default) Key(r *Request, k *Key) error {
	if !isGetOrHead(r.Method) || r.Headers.Has("Cookie") {
		k.Bypass = true
		return nil
	}
	k.Host = appendHost(k.Host, r.Host)
	if len(r.Path) == 0 {
		k.Target = append(k.Target, '/')
	} else {
		k.Target = append(k.Target, r.Path...)
	}
	if len(r.Query) > 0 {
		k.Target = append(k.Target, '?')
		k.Target = append(k.Target, r.Query...)
	}
	return nil
}

// Decide implements [Policy].
func (p Default) Decide(r *Request, resp *Response, d *Decision) error {
	d.Store, d.TTL, d.StaleWhileRevalidate, d.StaleIfError = false, 0, 0, 0
	d.MustRevalidate, d.NoCache = false, false

	status := resp.Status
	if !storableStatus(status) {
		return nil
	}
	var req directive.Directives
	parseField(&req, r.Headers, "Cache-Control")
	if req.NoStore {
		return nil
	}

	// cc is Cache-Control; eff is the field that governs this cache.
	var cc, targeted directive.Directives
	parseField(&cc, resp.Headers, "Cache-Control")
	eff := &cc
	if parseTargeted(&targeted, resp.Headers, "CDN-Cache-Control") && !targeted.Empty() {
		eff = &targeted
	} else if parseField(&targeted, resp.Headers, "Surrogate-Control") && !targeted.Empty() {
		eff = &targeted
	}

	if forbidsStoring(eff, status) {
		return nil
	}
	if varyStar(resp.Headers) || resp.Headers.Has("Set-Cookie") {
		return nil
	}
	if r.Headers.Has("Authorization") && !eff.Public && eff.SMaxAge < 0 && !eff.MustRevalidate {
		return nil
	}

	expires := resp.Headers.Get("Expires")
	hasExpires := expires != nil || resp.Headers.Has("Expires")
	explicit := eff.SMaxAge >= 0 || eff.MaxAge >= 0 || hasExpires
	if !heuristicStatus(status) && !explicit && !eff.Public {
		return nil
	}

	var ttl time.Duration
	switch {
	case eff.SMaxAge >= 0:
		ttl = seconds(eff.SMaxAge)
	case eff.MaxAge >= 0:
		ttl = seconds(eff.MaxAge)
	case hasExpires:
		if exp, ok := httpdate.Parse(expires); ok {
			ttl = max(exp.Sub(dateOrNow(resp)), 0)
		}
	case p.DefaultTTL > 0:
		ttl = p.DefaultTTL
	default:
		if lm, ok := httpdate.Parse(resp.Headers.Get("Last-Modified")); ok {
			ttl = min(max(dateOrNow(resp).Sub(lm)/10, 0), maxHeuristic)
		}
	}

	d.TTL = ttl
	if eff.StaleWhileRevalidate >= 0 {
		d.StaleWhileRevalidate = seconds(eff.StaleWhileRevalidate)
	}
	if eff.StaleIfError >= 0 {
		d.StaleIfError = seconds(eff.StaleIfError)
	}
	d.MustRevalidate = eff.MustRevalidate || eff.ProxyRevalidate || eff.SMaxAge >= 0
	d.NoCache = eff.NoCache || eff.NoCacheFields
	d.Store = ttl > 0 || d.StaleWhileRevalidate > 0 || d.StaleIfError > 0 ||
		resp.Headers.Has("ETag") || resp.Headers.Has("Last-Modified")
	if !d.Store {
		d.TTL, d.StaleWhileRevalidate, d.StaleIfError = 0, 0, 0
		d.MustRevalidate, d.NoCache = false, false
	}
	return nil
}

// forbidsStoring reports whether the directives in c forbid a shared cache
// to store a response with the given status: private, or no-store (ignored
// with must-understand for a status this cache understands, and with
// must-understand any other status is refused).
func forbidsStoring(c *directive.Directives, status int) bool {
	if c.Private || c.PrivateFields {
		return true
	}
	if c.MustUnderstand {
		return !understoodStatus(status)
	}
	return c.NoStore
}

// parseField resets c and merges every field name of h into it; it reports
// whether one was present. It is cachecontrol.ParseField, which package
// policy cannot import (cachecontrol imports policy).
func parseField(c *directive.Directives, h Headers, name string) (present bool) {
	c.Reset()
	for i := range h {
		if httplex.EqualFold(h[i].Name, name) {
			present = true
			directive.Parse(c, h[i].Value)
		}
	}
	return present
}

// parseTargeted resets c and applies every field name of h to it as a
// Structured Field Dictionary (RFC 9213, Section 2.1); it reports whether
// one was present and every one was valid.
func parseTargeted(c *directive.Directives, h Headers, name string) (valid bool) {
	c.Reset()
	present := false
	for i := range h {
		if httplex.EqualFold(h[i].Name, name) {
			present = true
			if !directive.ParseDictionary(c, h[i].Value) {
				c.Reset()
				return false
			}
		}
	}
	return present
}

// storableStatus reports whether a response with this status can be stored
// at all by this cache: a final status other than 206 and 304.
func storableStatus(s int) bool {
	return s >= 200 && s <= 999 && s != 206 && s != 304
}

// heuristicStatus reports whether s is cacheable by default (heuristically
// cacheable), RFC 9110, Section 15.1; 206 is left out as this cache does not
// store partial content.
func heuristicStatus(s int) bool {
	switch s {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// understoodStatus reports whether s is a status defined by RFC 9110 whose
// caching requirements this cache implements, for must-understand
// (RFC 9111, Section 5.2.2.3).
func understoodStatus(s int) bool {
	switch {
	case s >= 200 && s <= 205, s >= 300 && s <= 303, s == 307, s == 308,
		s >= 400 && s <= 417, s == 421, s == 422, s == 426, s >= 500 && s <= 505:
		return true
	}
	return false
}

// varyStar reports whether a Vary field lists "*".
func varyStar(h Headers) bool {
	for i := range h {
		if !httplex.EqualFold(h[i].Name, "Vary") {
			continue
		}
		v := h[i].Value
		for len(v) > 0 {
			var item []byte
			item, v = httplex.CutItem(v)
			if len(item) == 1 && item[0] == '*' {
				return true
			}
		}
	}
	return false
}

// dateOrNow returns the response's Date, or the time it was received if Date
// is missing or invalid (RFC 9110, Section 6.6.1).
func dateOrNow(resp *Response) time.Time {
	if t, ok := httpdate.Parse(resp.Headers.Get("Date")); ok {
		return t
	}
	return resp.Now
}

// seconds converts delta-seconds (at most 2^31) to a Duration.
func seconds(s int64) time.Duration {
	return time.Duration(s) * time.Second
}

func isGetOrHead(m []byte) bool {
	return string(m) == "GET" || string(m) == "HEAD"
}

// appendHost appends host to dst, lower-cased and without a port. An IPv6
// literal keeps its brackets.
func appendHost(dst, host []byte) []byte {
	end := len(host)
	if len(host) > 0 && host[0] == '[' {
		for i, c := range host {
			if c == ']' {
				end = i + 1
				break
			}
		}
	} else {
		for i := len(host) - 1; i >= 0; i-- {
			if host[i] == ':' {
				end = i
				break
			}
		}
	}
	for _, c := range host[:end] {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

var _ Policy = (*Default)(nil)
