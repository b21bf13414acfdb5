package gateway

import (
	"bytes"
	"io"
	"strings"
	"sync"

	"github.com/VictoriaMetrics/metrics"
)

// metricFamily is the metadata /metrics writes before a family's samples:
// "# HELP name help" and "# TYPE name typ".
type metricFamily struct {
	typ  string // counter, gauge or histogram
	help string
}

// writeMetrics writes /metrics: the gateway's set, the policy counters
// and the process metrics, with HELP and TYPE for every family.
func (g *Gateway) writeMetrics(w io.Writer) {
	var bb bytes.Buffer
	g.set.WritePrometheus(&bb)
	if g.pstore != nil {
		infos := g.pstore.List()
		g.policyCounters.writePolicyMetrics(&bb, infos, g.pstore.Totals)
		writeRolloutMetrics(&bb, infos)
	}
	metrics.WriteProcessMetrics(&bb)
	annotate(w, bb.Bytes())
}

// metricFamilies declares every flowcache_* family but the policy ones
// (policyMetrics): its Prometheus type and help text. A family written to /metrics without an entry here fails
// TestMetrics_EveryFamilyDeclared; README's metrics table lists the same
// families.
var metricFamilies = map[string]metricFamily{
	"flowcache_http_requests_total":                 {"counter", "Requests received, by route (route \"-\": no route matched)."},
	"flowcache_http_errors_total":                   {"counter", "Answers made from an error (502, 504...), by route."},
	"flowcache_http_rejected_total":                 {"counter", "Requests refused for bad framing (400, 413, 431)."},
	"flowcache_http_panics_total":                   {"counter", "Handler panics recovered (answered 500)."},
	"flowcache_http_request_duration_seconds":       {"histogram", "Time from reading a request to its response head, by route and outcome (the X-Cache value)."},
	"flowcache_cache_hits_total":                    {"counter", "Fresh answers from the cache, by route."},
	"flowcache_cache_misses_total":                  {"counter", "Answers fetched from the upstream, by route."},
	"flowcache_cache_stale_total":                   {"counter", "Stale answers served, by route."},
	"flowcache_cache_revalidated_total":             {"counter", "Stored entries revalidated with the upstream, by route."},
	"flowcache_cache_bypass_total":                  {"counter", "Requests that bypassed the cache, by route."},
	"flowcache_cache_stores_total":                  {"counter", "Responses stored, by route."},
	"flowcache_cache_invalidations_total":           {"counter", "Entries invalidated by unsafe requests, by route."},
	"flowcache_cache_background_refreshes_total":    {"counter", "Stale-while-revalidate refreshes."},
	"flowcache_cache_index_bytes":                   {"gauge", "Bytes accounted by the L1 tag and host index."},
	"flowcache_cache_index_evictions_total":         {"counter", "URLs evicted from the L1 index, and from L1 with them."},
	"flowcache_coalesce_waits_total":                {"counter", "Requests that waited for an identical one in flight, by route."},
	"flowcache_coalesce_timeouts_total":             {"counter", "Coalescing waits that gave up after coalesce_timeout, by route."},
	"flowcache_upstream_errors_total":               {"counter", "Failed upstream exchanges, by route."},
	"flowcache_upstream_duration_seconds":           {"histogram", "Upstream exchange latency to the response head, by route."},
	"flowcache_upstream_up":                         {"gauge", "1 while the upstream target is in rotation, 0 while passive health checks hold it down."},
	"flowcache_policy_fallbacks_total":              {"counter", "Requests answered with the default policy because the route's failed, by route."},
	"flowcache_policy_sync_errors_total":            {"counter", "Failed Redis calls and module loads of the policy sync."},
	"flowcache_policy_sync_resyncs_total":           {"counter", "Full reads of the policies' events from Redis."},
	"flowcache_policy_sync_rejected_events_total":   {"counter", "Policy events read from Redis that were refused."},
	"flowcache_policy_sync_modules_collected_total": {"counter", "Module keys no policy event references any more, removed from Redis by this node."},
	"flowcache_policy_shadow_calls_total":           {"counter", "Calls of a policy's shadow version on sampled requests, by policy."},
	"flowcache_policy_shadow_key_diffs_total":       {"counter", "Shadow key calls whose key differed from the active version's, by policy."},
	"flowcache_policy_shadow_decision_diffs_total":  {"counter", "Shadow decide calls whose decision differed from the active version's, by policy."},
	"flowcache_policy_shadow_errors_total":          {"counter", "Shadow calls that failed while the active version's did not, by policy."},
	"flowcache_policy_shadow_dropped_total":         {"counter", "Sampled requests dropped because the shadow queue was full, by policy."},
	"flowcache_policy_canary_share_ratio":           {"gauge", "Share of the requests a policy's canary serves (0 without a canary), by policy."},
	"flowcache_policy_rollbacks_total":              {"counter", "Automatic rollbacks applied on this node, by policy and reason (failure_rate, fallback_rate)."},
	"flowcache_config_last_reload_successful":       {"gauge", "1, or 0 after a failed reload until one succeeds."},
	"flowcache_purge_requests_total":                {"counter", "Purge requests (PURGE and POST /purge)."},
	"flowcache_purge_objects_total":                 {"counter", "Entries removed or marked by purges."},
	"flowcache_l1_entries":                          {"gauge", "Entries in L1."},
	"flowcache_l1_capacity_bytes":                   {"gauge", "L1 size in bytes."},
	"flowcache_l1_evictions_total":                  {"counter", "L1 entries evicted to make room."},
	"flowcache_l1_expirations_total":                {"counter", "L1 entries dropped when expired."},
	"flowcache_l1_overwrites_total":                 {"counter", "L1 entries replaced."},
	"flowcache_large_bytes":                         {"gauge", "Bytes held by the large-object tier (records, keys and a fixed overhead per entry)."},
	"flowcache_large_capacity_bytes":                {"gauge", "Capacity of the large-object tier in bytes (cache.large_size)."},
	"flowcache_large_entries":                       {"gauge", "Entries in the large-object tier."},
	"flowcache_large_evictions_total":               {"counter", "Large-object tier entries evicted to make room (S3-FIFO)."},
	"flowcache_l2_breaker_state":                    {"gauge", "L2 circuit breaker: 0 closed, 1 open, 2 half-open."},
	"flowcache_l2_breaker_opens_total":              {"counter", "L2 circuit breaker transitions to open."},
	"flowcache_l2_subscribed":                       {"gauge", "1 while the invalidation subscriber is connected."},
	"flowcache_l2_hits_total":                       {"counter", "L2 reads that found the key."},
	"flowcache_l2_misses_total":                     {"counter", "L2 reads that did not find the key."},
	"flowcache_l2_read_round_trips_total":           {"counter", "Round trips to Redis that carried L2 reads (one pipeline answers every read waiting when it leaves)."},
	"flowcache_l2_rejected_total":                   {"counter", "L2 calls skipped because the breaker was open."},
	"flowcache_l2_errors_total":                     {"counter", "Failed Redis calls (network, timeout, Redis error)."},
	"flowcache_l2_slow_calls_total":                 {"counter", "Redis calls slower than the slow-call threshold."},
	"flowcache_l2_corrupt_total":                    {"counter", "Unreadable values stored in L2 (read as misses)."},
	"flowcache_l2_writes_queued_total":              {"counter", "L2 writes accepted into the queue."},
	"flowcache_l2_writes_total":                     {"counter", "L2 writes that reached Redis."},
	"flowcache_l2_write_errors_total":               {"counter", "L2 writes lost in a failed pipeline."},
	"flowcache_l2_writes_dropped_full_total":        {"counter", "L2 writes dropped: queue full."},
	"flowcache_l2_writes_dropped_open_total":        {"counter", "L2 writes dropped: breaker open."},
	"flowcache_l2_writes_dropped_invalid_total":     {"counter", "L2 writes dropped: TTL under 1ms or value too large."},
	"flowcache_l2_writes_dropped_stale_total":       {"counter", "L2 writes dropped: a purge overtook the fetch."},
	"flowcache_l2_write_queue_length":               {"gauge", "L2 writes waiting now."},
	"flowcache_l2_written_bytes_total":              {"counter", "Value bytes written to L2."},
	"flowcache_l2_stored_bytes_total":               {"counter", "Bytes stored in Redis (compressed, with header)."},
	"flowcache_l2_compressed_total":                 {"counter", "Values stored compressed in L2."},
	"flowcache_l2_commands_total":                   {"counter", "Redis commands for requests and writes."},
	"flowcache_l2_dials_total":                      {"counter", "New Redis connections."},
	"flowcache_l2_probe_failures_total":             {"counter", "Failed L2 breaker probes."},
	"flowcache_l2_invalidations_published_total":    {"counter", "Invalidations published by this node."},
	"flowcache_l2_invalidations_received_total":     {"counter", "Invalidations received."},
	"flowcache_l2_invalidations_unpublished_total":  {"counter", "Invalidations after unsafe requests not published (breaker open, Redis failed)."},
	"flowcache_l2_invalidations_suppressed_total":   {"counter", "Invalidations after unsafe requests not published: the same URL was published less than a second before."},
	"flowcache_l2_resyncs_total":                    {"counter", "L1 flushes because invalidations may have been missed."},
	"flowcache_l2_subscriber_disconnects_total":     {"counter", "Invalidation subscriber connection losses."},
	"flowcache_l2_rejected_messages_total":          {"counter", "Invalidation messages and generation counters from Redis that failed a check."},
	"flowcache_warm_requests_total":                 {"counter", "Requests made by cache warming jobs (POST /warm)."},
	"flowcache_warm_stored_total":                   {"counter", "Warming requests that stored a response."},
	"flowcache_warm_cached_total":                   {"counter", "Warming requests for URLs already cached."},
	"flowcache_warm_not_cacheable_total":            {"counter", "Warming requests whose answer could not be cached."},
	"flowcache_warm_errors_total":                   {"counter", "Warming requests that failed."},
	"flowcache_access_log_dropped_total":            {"counter", "Access log lines not written: every line buffer waited for the writer."},
	"flowcache_audit_events_total":                  {"counter", "Audit events recorded by this node (purges, policy changes, reloads)."},
	"flowcache_audit_stream_errors_total":           {"counter", "Audit events not added to the Redis stream (Redis failed or the writer fell behind)."},
	"flowcache_audit_rejected_total":                {"counter", "Audit stream entries read from Redis that failed the [redis] secret's check."},
	"flowcache_l2_invalid_records_total":            {"counter", "Records read from L2 that the gateway could not have written (read as misses)."},
}

// runtimeHelp is the help of the Go runtime and process families written
// by metrics.WriteProcessMetrics, which writes no metadata of its own.
const runtimeHelp = "Go runtime or process statistic (see https://pkg.go.dev/github.com/VictoriaMetrics/metrics#WriteProcessMetrics)."

// runtimeDropped are runtime families /metrics leaves out: their names end
// in _count without being a histogram or summary, which Prometheus' lint
// refuses (go_gomaxprocs says what go_cpu_count would).
var runtimeDropped = map[string]bool{"go_cgo_calls_count": true, "go_cpu_count": true, "go_gc_forced_count": true}

// familyOf returns the family of the sample line and its metadata: the
// name without labels and, for a histogram or summary, without the
// _bucket, _sum or _count suffix. A family not in metricFamilies is a
// runtime one: a histogram when its samples are le buckets, a summary for
// go_gc_duration_seconds, a counter when its name ends in _total, a gauge
// otherwise.
func familyOf(line []byte) (string, metricFamily) {
	n := bytes.IndexAny(line, "{ ")
	if n < 0 {
		n = len(line)
	}
	name := string(line[:n])
	if f, ok := metricFamilies[name]; ok {
		return name, f
	}
	if name == "go_gc_duration_seconds" {
		return name, metricFamily{"summary", runtimeHelp}
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suf)
		if !ok {
			continue
		}
		if f, ok := metricFamilies[base]; ok && f.typ == "histogram" {
			return base, f
		}
		if base == "go_gc_duration_seconds" {
			return base, metricFamily{"summary", runtimeHelp}
		}
		if suf == "_bucket" && bytes.Contains(line, []byte(`le="`)) {
			return base, metricFamily{"histogram", runtimeHelp}
		}
	}
	if strings.HasSuffix(name, "_total") {
		return name, metricFamily{"counter", runtimeHelp}
	}
	return name, metricFamily{"gauge", runtimeHelp}
}

// annotate copies the exposition text src to w with "# HELP" and "# TYPE"
// before each family that has none, without runtimeDropped and without
// any VictoriaMetrics "vmrange" histogram (Prometheus cannot compute
// quantiles from them). src has each family's samples together, as
// metrics.Set.WritePrometheus writes them.
func annotate(w io.Writer, src []byte) {
	var out bytes.Buffer
	out.Grow(len(src) + len(src)/2)
	var cur string
	for len(src) > 0 {
		var line []byte
		line, src, _ = bytes.Cut(src, newline)
		if len(line) == 0 {
			continue
		}
		if line[0] == '#' {
			// Metadata already written (writePolicyMetrics): keep it, and
			// do not write it twice.
			if f := bytes.Fields(line); len(f) >= 3 && string(f[1]) == "TYPE" {
				cur = string(f[2])
			}
			out.Write(line)
			out.WriteByte('\n')
			continue
		}
		fam, m := familyOf(line)
		if runtimeDropped[fam] || bytes.Contains(line, []byte(`vmrange="`)) {
			continue
		}
		if fam != cur {
			cur = fam
			out.WriteString("# HELP " + fam + " " + m.help + "\n# TYPE " + fam + " " + m.typ + "\n")
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	_, _ = w.Write(out.Bytes()) // the scrape's connection: nothing to do on error
}

// monotonic turns a count read from a source that may restart from zero
// (an L1 flush, a new policy version) into a counter that never goes
// down: when a reading is below the previous one, the source restarted,
// and what it had counted is carried over. Counts between the last
// reading and the restart are lost, so the counter can only undercount.
type monotonic struct {
	mu   sync.Mutex
	base uint64
	last uint64
}

// value returns the counter for the source's reading v.
func (m *monotonic) value(v uint64) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v < m.last {
		m.base += m.last
	}
	m.last = v
	return m.base + v
}
