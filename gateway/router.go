package gateway

import (
	"bytes"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/flowcache/flowcache/policy"
)

// route is one [[routes]] entry, provisioned: its upstream pool, its
// default policy and its metrics. Immutable after New.
type route struct {
	cfg      *RouteConfig
	name     []byte
	prefix   []byte
	upstream *upstreamPool
	hostless []byte         // Host sent upstream for an HTTP/1.0 request without one
	def      policy.Default // native RFC 9111 policy with the route's default TTL
	// staleIfError is the operator's stale-if-error window: the route's
	// stale_if_error, else [cache]'s.
	staleIfError time.Duration
	m            routeMetrics
}

func newRoute(cfg *Config, i int, now func() time.Time, set *metrics.Set) (*route, error) {
	rc := &cfg.Routes[i]
	ttl := cfg.Cache.DefaultTTL.D()
	if rc.DefaultTTL != nil {
		ttl = rc.DefaultTTL.D()
	}
	rt := &route{
		cfg:    rc,
		name:   []byte(rc.Name),
		prefix: []byte(rc.PathPrefix),
		def:    policy.Default{DefaultTTL: ttl},
		m:      newRouteMetrics(set, rc.Name),
	}
	rt.staleIfError = cfg.Cache.StaleIfError.D()
	if rc.StaleIfError != nil {
		rt.staleIfError = rc.StaleIfError.D()
	}
	rt.hostless = []byte(rc.UpstreamHost)
	if len(rt.hostless) == 0 && len(rc.Upstreams) > 0 {
		if u, err := url.Parse(rc.Upstreams[0]); err == nil {
			rt.hostless = []byte(u.Host)
		}
	}
	up, err := newUpstreamPool(rc, now, set)
	if err != nil {
		return nil, err
	}
	up.timed = cfg.Log.Access != accessOff
	rt.upstream = up
	return rt, nil
}

// router matches a request's host and path to a route: exact host beats
// "*", then the longest path prefix wins. The table is built once by New.
type router struct {
	byHost map[string][]*route // lower-case host -> routes, longest prefix first
	any    []*route            // host "*", longest prefix first
}

func newRouter(routes []*route) router {
	r := router{byHost: map[string][]*route{}}
	for _, rt := range routes {
		if rt.cfg.Host == "*" {
			r.any = append(r.any, rt)
			continue
		}
		h := normalRouteHost(rt.cfg.Host)
		r.byHost[h] = append(r.byHost[h], rt)
	}
	byLen := func(s []*route) {
		sort.SliceStable(s, func(i, j int) bool { return len(s[i].prefix) > len(s[j].prefix) })
	}
	for _, s := range r.byHost {
		byLen(s)
	}
	byLen(r.any)
	return r
}

// normalRouteHost is a route's host as requests have it after
// canonicalRequest: lower-case, without a trailing dot.
func normalRouteHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// match returns the route for host (any case, port allowed) and path, or
// nil: matchNormal once the host is lower-cased and without its port. It
// does not allocate.
func (r *router) match(host, path []byte) *route {
	var lower [256]byte
	h := hostWithoutPort(host)
	if len(h) > len(lower) {
		return matchPrefix(r.any, path)
	}
	n := copy(lower[:], h)
	for i := 0; i < n; i++ {
		if c := lower[i]; 'A' <= c && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
	}
	return r.matchNormal(lower[:n], path)
}

// matchNormal returns the route for a host already in normal form
// (lower-case, no port: see canonicalRequest), as handle has it, and path,
// or nil: exact host first, then "*", the longest prefix winning.
func (r *router) matchNormal(host, path []byte) *route {
	if len(r.byHost) > 0 {
		if rts, ok := r.byHost[string(host)]; ok {
			if rt := matchPrefix(rts, path); rt != nil {
				return rt
			}
		}
	}
	return matchPrefix(r.any, path)
}

func matchPrefix(rts []*route, path []byte) *route {
	for _, rt := range rts {
		if bytes.HasPrefix(path, rt.prefix) {
			return rt
		}
	}
	return nil
}

// hostWithoutPort strips a ":port" suffix, keeping IPv6 literals intact.
func hostWithoutPort(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		if i := bytes.IndexByte(h, ']'); i > 0 {
			return h[:i+1]
		}
		return h
	}
	if i := bytes.LastIndexByte(h, ':'); i >= 0 {
		return h[:i]
	}
	return h
}
