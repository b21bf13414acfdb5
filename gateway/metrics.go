package gateway

import (
	"github.com/VictoriaMetrics/metrics"
)

// routeMetrics are the per-route counters and the upstream latency
// histogram, built once with the route and held in it. Every name is listed
// in README's metrics table.
type routeMetrics struct {
	requests         *metrics.Counter // flowcache_http_requests_total
	errors           *metrics.Counter // flowcache_http_errors_total (answers made from an error)
	hits             *metrics.Counter // flowcache_cache_hits_total
	misses           *metrics.Counter // flowcache_cache_misses_total
	stale            *metrics.Counter // flowcache_cache_stale_total
	revalidated      *metrics.Counter // flowcache_cache_revalidated_total
	bypass           *metrics.Counter // flowcache_cache_bypass_total
	stored           *metrics.Counter // flowcache_cache_stores_total
	coalesced        *metrics.Counter // flowcache_coalesce_waits_total
	coalesceTimeouts *metrics.Counter // flowcache_coalesce_timeouts_total
	upstreamErrors   *metrics.Counter // flowcache_upstream_errors_total
	upstreamLatency  *metrics.Histogram
	policyFallbacks  *metrics.Counter // flowcache_policy_fallbacks_total
	invalidations    *metrics.Counter // flowcache_cache_invalidations_total
}

// newRouteMetrics returns the metrics of route name, the same ones again
// after a reload (counters continue).
func newRouteMetrics(set *metrics.Set, name string) routeMetrics {
	if name == "" {
		name = "-" // requests that matched no route
	}
	l := `{route="` + name + `"}`
	return routeMetrics{
		requests:         set.GetOrCreateCounter("flowcache_http_requests_total" + l),
		errors:           set.GetOrCreateCounter("flowcache_http_errors_total" + l),
		hits:             set.GetOrCreateCounter("flowcache_cache_hits_total" + l),
		misses:           set.GetOrCreateCounter("flowcache_cache_misses_total" + l),
		stale:            set.GetOrCreateCounter("flowcache_cache_stale_total" + l),
		revalidated:      set.GetOrCreateCounter("flowcache_cache_revalidated_total" + l),
		bypass:           set.GetOrCreateCounter("flowcache_cache_bypass_total" + l),
		stored:           set.GetOrCreateCounter("flowcache_cache_stores_total" + l),
		coalesced:        set.GetOrCreateCounter("flowcache_coalesce_waits_total" + l),
		coalesceTimeouts: set.GetOrCreateCounter("flowcache_coalesce_timeouts_total" + l),
		upstreamErrors:   set.GetOrCreateCounter("flowcache_upstream_errors_total" + l),
		upstreamLatency:  set.GetOrCreateHistogram("flowcache_upstream_duration_seconds" + l),
		policyFallbacks:  set.GetOrCreateCounter("flowcache_policy_fallbacks_total" + l),
		invalidations:    set.GetOrCreateCounter("flowcache_cache_invalidations_total" + l),
	}
}

// gatewayMetrics are the gateway-wide counters.
type gatewayMetrics struct {
	panics   *metrics.Counter // flowcache_http_panics_total
	rejected *metrics.Counter // flowcache_http_rejected_total (bad framing, 400/413/431)
	purges   *metrics.Counter // flowcache_purge_requests_total
	purged   *metrics.Counter // flowcache_purge_objects_total
	refresh  *metrics.Counter // flowcache_cache_background_refreshes_total
	// publishSkipped: invalidations after unsafe requests not published
	// (L2 breaker not closed, or Redis failed).
	publishSkipped *metrics.Counter // flowcache_l2_invalidations_unpublished_total
}

func newGatewayMetrics(set *metrics.Set) gatewayMetrics {
	return gatewayMetrics{
		panics:   set.GetOrCreateCounter("flowcache_http_panics_total"),
		rejected: set.GetOrCreateCounter("flowcache_http_rejected_total"),
		purges:   set.GetOrCreateCounter("flowcache_purge_requests_total"),
		purged:   set.GetOrCreateCounter("flowcache_purge_objects_total"),
		refresh:  set.GetOrCreateCounter("flowcache_cache_background_refreshes_total"),

		publishSkipped: set.GetOrCreateCounter("flowcache_l2_invalidations_unpublished_total"),
	}
}
