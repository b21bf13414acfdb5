package gateway

import (
	"github.com/valyala/fasthttp"
)

// outcome is what the cache did for a request, from its X-Cache header:
// the outcome label of flowcache_http_request_duration_seconds.
type outcome uint8

const (
	outcomeHit    outcome = iota // X-Cache: HIT
	outcomeHitL2                 // X-Cache: HIT-L2
	outcomeMiss                  // X-Cache: MISS
	outcomeStale                 // X-Cache: STALE
	outcomeBypass                // X-Cache: BYPASS
	outcomeNone                  // no X-Cache: a PURGE
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"hit", "hit_l2", "miss", "stale", "bypass", "none"}

// String returns the outcome's label value.
func (o outcome) String() string { return outcomeNames[o] }

// outcomeOf maps an X-Cache value to its outcome.
func outcomeOf(xcache []byte) outcome {
	switch string(xcache) {
	case xcacheHit:
		return outcomeHit
	case xcacheHitL2:
		return outcomeHitL2
	case xcacheMiss:
		return outcomeMiss
	case xcacheStale:
		return outcomeStale
	case xcacheBypass:
		return outcomeBypass
	}
	return outcomeNone
}

// observe records a request once its handler has answered: its latency by
// route and outcome, its hot-key counts (hotkeys.go) and its access log
// line. rt is nil for a request that
// matched no route. It runs on every request, the hit path included, and
// allocates nothing (past the access line's pooled buffer). The time is
// from the handler's call to its return: the response head is ready then,
// a streamed body may take longer.
func (g *Gateway) observe(ctx *fasthttp.RequestCtx, rt *route) {
	m := &g.noRoute
	if rt != nil {
		m = &rt.m
	}
	o := outcomeOf(ctx.Response.Header.PeekBytes(headerXCache))
	m.latency[o].UpdateDuration(ctx.Time())
	g.hot.observe(ctx, rt, o)
	if g.access != nil {
		g.access.logAccess(g, ctx, rt)
	}
}
