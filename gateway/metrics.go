package gateway

import (
	"fmt"
	"io"
	"sync"

	"github.com/VictoriaMetrics/metrics"

	"github.com/flowcache/flowcache/plugins"
)

// routeMetrics are the per-route counters and the upstream latency
// histogram, built once with the route and held in it. Every name is listed
// in README's metrics table.
type routeMetrics struct {
	requests         *metrics.Counter             // flowcache_http_requests_total
	errors           *metrics.Counter             // flowcache_http_errors_total (answers made from an error)
	hits             *metrics.Counter             // flowcache_cache_hits_total
	misses           *metrics.Counter             // flowcache_cache_misses_total
	stale            *metrics.Counter             // flowcache_cache_stale_total
	revalidated      *metrics.Counter             // flowcache_cache_revalidated_total
	bypass           *metrics.Counter             // flowcache_cache_bypass_total
	stored           *metrics.Counter             // flowcache_cache_stores_total
	coalesced        *metrics.Counter             // flowcache_coalesce_waits_total
	coalesceTimeouts *metrics.Counter             // flowcache_coalesce_timeouts_total
	upstreamErrors   *metrics.Counter             // flowcache_upstream_errors_total
	upstreamLatency  *metrics.PrometheusHistogram // flowcache_upstream_duration_seconds
	policyFallbacks  *metrics.Counter             // flowcache_policy_fallbacks_total
	invalidations    *metrics.Counter             // flowcache_cache_invalidations_total
	// latency is flowcache_http_request_duration_seconds by outcome
	// (observe.go).
	latency [numOutcomes]*metrics.PrometheusHistogram
	// series are the names of all the above in the set, dropped when a
	// reload removes the route.
	series []string
}

// newRouteMetrics returns the metrics of route name, the same ones again
// after a reload (counters continue).
func newRouteMetrics(set *metrics.Set, name string) routeMetrics {
	if name == "" {
		name = "-" // requests that matched no route
	}
	l := `{route="` + name + `"}`
	var m routeMetrics
	counter := func(family string) *metrics.Counter {
		m.series = append(m.series, family+l)
		return set.GetOrCreateCounter(family + l)
	}
	m.requests = counter("flowcache_http_requests_total")
	m.errors = counter("flowcache_http_errors_total")
	m.hits = counter("flowcache_cache_hits_total")
	m.misses = counter("flowcache_cache_misses_total")
	m.stale = counter("flowcache_cache_stale_total")
	m.revalidated = counter("flowcache_cache_revalidated_total")
	m.bypass = counter("flowcache_cache_bypass_total")
	m.stored = counter("flowcache_cache_stores_total")
	m.coalesced = counter("flowcache_coalesce_waits_total")
	m.coalesceTimeouts = counter("flowcache_coalesce_timeouts_total")
	m.upstreamErrors = counter("flowcache_upstream_errors_total")
	m.policyFallbacks = counter("flowcache_policy_fallbacks_total")
	m.invalidations = counter("flowcache_cache_invalidations_total")
	up := "flowcache_upstream_duration_seconds" + l
	m.series = append(m.series, up)
	m.upstreamLatency = set.GetOrCreatePrometheusHistogramExt(up, upstreamBuckets)
	for o := range outcome(numOutcomes) {
		n := `flowcache_http_request_duration_seconds{route="` + name + `",outcome="` + o.String() + `"}`
		m.series = append(m.series, n)
		m.latency[o] = set.GetOrCreatePrometheusHistogramExt(n, requestBuckets)
	}
	return m
}

// Histogram buckets, in seconds. A request answered from L1 takes tens of
// microseconds, one that goes upstream milliseconds to seconds.
var (
	requestBuckets  = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	upstreamBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
)

// dropRouteMetrics removes from set the series of the routes in old whose
// name no route in cur has: a reload that removes a route removes its
// series from /metrics. A route kept by name keeps its counters.
func dropRouteMetrics(set *metrics.Set, old, cur []*route) {
	live := make(map[string]bool, len(cur))
	for _, rt := range cur {
		live[rt.cfg.Name] = true
	}
	for _, rt := range old {
		if live[rt.cfg.Name] {
			continue
		}
		for _, n := range rt.m.series {
			set.UnregisterMetric(n)
		}
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
	// publishSuppressed: invalidations after unsafe requests not published
	// because this node published the same URL less than a second before.
	publishSuppressed *metrics.Counter // flowcache_l2_invalidations_suppressed_total
}

func newGatewayMetrics(set *metrics.Set) gatewayMetrics {
	return gatewayMetrics{
		panics:   set.GetOrCreateCounter("flowcache_http_panics_total"),
		rejected: set.GetOrCreateCounter("flowcache_http_rejected_total"),
		purges:   set.GetOrCreateCounter("flowcache_purge_requests_total"),
		purged:   set.GetOrCreateCounter("flowcache_purge_objects_total"),
		refresh:  set.GetOrCreateCounter("flowcache_cache_background_refreshes_total"),

		publishSkipped:    set.GetOrCreateCounter("flowcache_l2_invalidations_unpublished_total"),
		publishSuppressed: set.GetOrCreateCounter("flowcache_l2_invalidations_suppressed_total"),
	}
}

// policyMetrics are the per-policy counters written to /metrics, read from
// the policy store at each scrape (see writePolicyMetrics). Every name is
// listed in README's metrics table.
var policyMetrics = [...]struct {
	name, help string
	// value reads the metric from a policy's Info, or from tot, its
	// failures since start across every version (plugins.Runtime.Totals).
	value func(in *plugins.Info, tot *plugins.Stats) uint64
}{
	{"flowcache_policy_calls_total", "Key and decide calls of a WebAssembly policy.", func(in *plugins.Info, _ *plugins.Stats) uint64 { return in.Calls }},
	{"flowcache_policy_errors_total", "Calls of a WebAssembly policy that failed: the request used the route's fallback.", func(in *plugins.Info, _ *plugins.Stats) uint64 { return in.Errors }},
	{"flowcache_policy_traps_total", "Calls of a policy (every version, since start) that trapped.", func(_ *plugins.Info, tot *plugins.Stats) uint64 { return tot.Traps }},
	{"flowcache_policy_fuel_exhausted_total", "Calls of a policy (every version, since start) that ran out of their CPU budget.", func(_ *plugins.Info, tot *plugins.Stats) uint64 { return tot.FuelExhausted }},
	{"flowcache_policy_backstops_total", "Calls of a policy (every version, since start) stopped by their wall-clock backstop (call_timeout).", func(_ *plugins.Info, tot *plugins.Stats) uint64 { return tot.Backstops }},
	{"flowcache_policy_exits_total", "Calls of a policy (every version, since start) that exited.", func(_ *plugins.Info, tot *plugins.Stats) uint64 { return tot.Exits }},
	{"flowcache_policy_bad_results_total", "Calls of a policy (every version, since start) that returned a malformed result.", func(_ *plugins.Info, tot *plugins.Stats) uint64 { return tot.BadResults }},
	{"flowcache_policy_guest_errors_total", "Calls of a policy (every version, since start) that returned the error result.", func(_ *plugins.Info, tot *plugins.Stats) uint64 { return tot.GuestErrors }},
	{"flowcache_policy_instantiate_errors_total", "Failures to create an instance of a policy (every version, since start).", func(_ *plugins.Info, tot *plugins.Stats) uint64 { return tot.InstantiateErrors }},
	{"flowcache_policy_instances_created_total", "Instances of the active version created.", func(in *plugins.Info, _ *plugins.Stats) uint64 { return in.Stats.InstancesCreated }},
	{"flowcache_policy_instances_discarded_total", "Instances of a policy (every version, since start) closed after a failure.", func(_ *plugins.Info, tot *plugins.Stats) uint64 { return tot.InstancesDiscarded }},
	{"flowcache_policy_instances_dropped_total", "Idle instances of the active version closed.", func(in *plugins.Info, _ *plugins.Stats) uint64 { return in.Stats.InstancesDropped }},
	{"flowcache_policy_memo_hits_total", "Key calls of the active version answered by its key memo (memoize_key).", func(in *plugins.Info, _ *plugins.Stats) uint64 { return in.Stats.MemoHits }},
	{"flowcache_policy_memo_misses_total", "Key calls of the active version that missed its key memo and called the module.", func(in *plugins.Info, _ *plugins.Stats) uint64 { return in.Stats.MemoMisses }},
}

// policyCounters keeps the policy counters of /metrics from going down:
// the counters of a policy's active version restart with a new version
// (an upload, a rollback), and each (policy, metric) goes through a
// monotonic. A policy no longer listed (deleted) loses its state, and its
// series leave /metrics.
type policyCounters struct {
	mu sync.Mutex
	m  map[string]*[len(policyMetrics)]monotonic
}

// writePolicyMetrics writes the policyMetrics of each WebAssembly policy.
// They are read from the store at scrape time, as policies come and go with
// uploads and deletes. totals gives a policy's failures since start across
// its versions; nil reads the active version's (Info.Stats) instead.
func (pc *policyCounters) writePolicyMetrics(w io.Writer, infos []plugins.Info, totals func(name string) plugins.Stats) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.m == nil {
		pc.m = map[string]*[len(policyMetrics)]monotonic{}
	}
	live := make(map[string]bool, len(infos))
	for i := range infos {
		live[infos[i].Name] = true
		if pc.m[infos[i].Name] == nil {
			pc.m[infos[i].Name] = new([len(policyMetrics)]monotonic)
		}
	}
	for name := range pc.m {
		if !live[name] {
			delete(pc.m, name)
		}
	}
	if len(infos) == 0 {
		return
	}
	tots := make([]plugins.Stats, len(infos))
	for i := range infos {
		if totals != nil {
			tots[i] = totals(infos[i].Name)
		} else {
			tots[i] = plugins.Stats(infos[i].Stats)
		}
	}
	for j, m := range policyMetrics {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", m.name, m.help, m.name)
		for i := range infos {
			v := pc.m[infos[i].Name][j].value(m.value(&infos[i], &tots[i]))
			// Policy names are 1 to 64 of [a-z0-9_]: nothing to escape.
			fmt.Fprintf(w, "%s{policy=%q} %d\n", m.name, infos[i].Name, v)
		}
	}
	const interp = "flowcache_policy_interpreted"
	fmt.Fprintf(w, "# HELP %s 1 while the active version runs on the interpreter, its compile in progress (admin.tiered_compilation).\n# TYPE %s gauge\n", interp, interp)
	for i := range infos {
		v := 0
		if infos[i].Engine == plugins.EngineInterpreter {
			v = 1
		}
		fmt.Fprintf(w, "%s{policy=%q} %d\n", interp, infos[i].Name, v)
	}
}
