package l2

import (
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// RegisterMetrics adds the tier's metrics to set, each read at scrape time
// (flowcache_l2_*; counters end in _total). Call it once per set.
//
//	flowcache_l2_breaker_state                 0 closed, 1 open, 2 half-open
//	flowcache_l2_breaker_opens_total           closed/half-open → open
//	flowcache_l2_subscribed                    1 if the invalidation subscriber is connected
//	flowcache_l2_hits_total, _misses_total     Get found / did not find the key
//	flowcache_l2_read_round_trips_total        round trips carrying Get's reads (pipelined under load)
//	flowcache_l2_rejected_total                calls refused because the breaker was open
//	flowcache_l2_errors_total                  failed calls (network, timeout, Redis error)
//	flowcache_l2_slow_calls_total              calls slower than Config.SlowCall
//	flowcache_l2_corrupt_total                 unreadable stored values (read as misses)
//	flowcache_l2_writes_queued_total           Set accepted
//	flowcache_l2_writes_total                  writes that reached Redis
//	flowcache_l2_write_errors_total            writes lost in a failed pipeline
//	flowcache_l2_writes_dropped_full_total     Set found the queue full
//	flowcache_l2_writes_dropped_open_total     breaker open at Set or at send time
//	flowcache_l2_writes_dropped_invalid_total  ttl < 1ms or value too large
//	flowcache_l2_writes_dropped_stale_total    an invalidation overtook the write
//	flowcache_l2_write_queue_length            writes waiting now
//	flowcache_l2_written_bytes_total           value bytes written
//	flowcache_l2_stored_bytes_total            bytes stored (compressed, with header)
//	flowcache_l2_compressed_total              values stored compressed
//	flowcache_l2_commands_total                Redis commands for requests and writes
//	flowcache_l2_dials_total                   new Redis connections
//	flowcache_l2_probe_failures_total          failed breaker probes
//	flowcache_l2_invalidations_published_total, _received_total
//	flowcache_l2_resyncs_total                 OnResync calls
//	flowcache_l2_subscriber_disconnects_total  subscriber connection losses
//	flowcache_l2_rejected_messages_total       invalidations and shared state from Redis that failed a check
func (t *Tier) RegisterMetrics(set *metrics.Set) {
	s := &t.st
	counter := func(name string, v *atomic.Uint64) {
		set.NewGauge(name, func() float64 { return float64(v.Load()) })
	}
	set.NewGauge("flowcache_l2_breaker_state", func() float64 { return float64(t.br.State()) })
	counter("flowcache_l2_breaker_opens_total", &t.br.opens)
	set.NewGauge("flowcache_l2_subscribed", func() float64 {
		if s.subscribed.Load() {
			return 1
		}
		return 0
	})
	counter("flowcache_l2_hits_total", &s.hits)
	counter("flowcache_l2_misses_total", &s.misses)
	counter("flowcache_l2_read_round_trips_total", &s.readTrips)
	counter("flowcache_l2_rejected_total", &s.rejected)
	counter("flowcache_l2_errors_total", &s.errors)
	counter("flowcache_l2_slow_calls_total", &s.slow)
	counter("flowcache_l2_corrupt_total", &s.corrupt)
	counter("flowcache_l2_writes_queued_total", &s.queued)
	counter("flowcache_l2_writes_total", &s.written)
	counter("flowcache_l2_write_errors_total", &s.writeErrors)
	counter("flowcache_l2_writes_dropped_full_total", &s.dropFull)
	counter("flowcache_l2_writes_dropped_open_total", &s.dropOpen)
	counter("flowcache_l2_writes_dropped_invalid_total", &s.dropInvalid)
	counter("flowcache_l2_writes_dropped_stale_total", &s.dropStale)
	set.NewGauge("flowcache_l2_write_queue_length", func() float64 { return float64(len(t.queue)) })
	counter("flowcache_l2_written_bytes_total", &s.bytesIn)
	counter("flowcache_l2_stored_bytes_total", &s.bytesStored)
	counter("flowcache_l2_compressed_total", &s.compressed)
	counter("flowcache_l2_commands_total", &s.commands)
	counter("flowcache_l2_dials_total", &s.dials)
	counter("flowcache_l2_probe_failures_total", &s.probeFailures)
	counter("flowcache_l2_invalidations_published_total", &s.published)
	counter("flowcache_l2_invalidations_received_total", &s.received)
	counter("flowcache_l2_resyncs_total", &s.resyncs)
	counter("flowcache_l2_subscriber_disconnects_total", &s.disconnects)
	counter("flowcache_l2_rejected_messages_total", &s.rejectedMsgs)
}
