// Package freshness implements the parts of HTTP caching that judge a stored
// response when a request arrives: its age (RFC 9111, Section 4.2.3), whether
// it is fresh or how it may be used stale (Sections 4.2 and 4.2.4, RFC 5861),
// and whether a client's conditional request is answered 304 Not Modified
// (RFC 9110, Section 13). It also reads and writes HTTP dates.
//
// Every function is pure, safe for concurrent use and does not allocate: the
// gateway calls them on each cache hit. Time is always passed in, never read
// from the clock (except ParseHTTPDate, for RFC 850 two-digit years).
//
// # Notes
//
// must-revalidate and its kin (proxy-revalidate, s-maxage) forbid serving a
// stale response without revalidation, including when a client's max-stale
// asks for it; they do not cancel the stale-while-revalidate and
// stale-if-error windows the same response grants, which are the origin's
// own, more specific permission (this is what policy.Decision documents, and
// what CDNs do with "s-maxage=60, stale-while-revalidate=30"). no-cache, from
// the response or the request, forbids any stale use.
package freshness
