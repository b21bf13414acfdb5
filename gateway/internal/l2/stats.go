package l2

import "sync/atomic"

// counters are the Tier's event counts; each is written by one kind of
// event and read by Stats.
type counters struct {
	hits, misses, corrupt, rejected, errors, slow atomic.Uint64
	queued, written, writeErrors, dropFull        atomic.Uint64
	dropOpen, dropInvalid, bytesIn, bytesStored   atomic.Uint64
	compressed, commands, dials, probeFailures    atomic.Uint64
	received, published, resyncs, disconnects     atomic.Uint64
	dropStale, rejectedMsgs, readTrips            atomic.Uint64
	subscribed                                    atomic.Bool
}

// Stats is a snapshot of a Tier's counters, for metrics (read them at scrape
// time: flowcache_l2_*). Counters only grow.
type Stats struct {
	// State is the circuit breaker's state; Opens counts closed→open moves.
	State State
	Opens uint64
	// Hits, Misses: Get found / did not find the key. Corrupt values count
	// as misses and in Corrupt.
	Hits, Misses, Corrupt uint64
	// ReadRoundTrips counts the round trips that carried Get's reads: one
	// pipeline answers every read waiting when it leaves, so under load
	// Hits+Misses grow faster than it.
	ReadRoundTrips uint64
	// Rejected counts calls refused at once because the breaker was open.
	Rejected uint64
	// Errors counts failed calls (network, timeout, Redis error); Slow
	// counts successful calls slower than Config.SlowCall.
	Errors, Slow uint64
	// Queued writes were accepted by Set; Written reached Redis; WriteErrors
	// were lost in a failed pipeline.
	Queued, Written, WriteErrors uint64
	// DroppedFull: Set found the queue full. DroppedOpen: the breaker was
	// open when the write's turn came. DroppedInvalid: bad TTL or too large.
	// DroppedStale: an invalidation came after the value was fetched.
	DroppedFull, DroppedOpen, DroppedInvalid, DroppedStale uint64
	// BytesIn is the size of written values; BytesStored their size in
	// Redis (after compression, with the 5-byte envelope); Compressed counts
	// values stored compressed.
	BytesIn, BytesStored, Compressed uint64
	// QueueLen is the number of writes waiting now.
	QueueLen int
	// Commands counts Redis commands sent for requests and writes (not
	// background probes and polls); Dials counts new connections.
	Commands, Dials uint64
	// ProbeFailures counts failed background probes while open.
	ProbeFailures uint64
	// Subscribed reports whether the invalidation subscriber is connected
	// (false: this node's L1 may miss invalidations right now).
	Subscribed bool
	// Received and Published count invalidation messages; Resyncs counts
	// OnResync calls; Disconnects counts subscriber connection losses.
	Received, Published, Resyncs, Disconnects uint64
	// RejectedMessages counts invalidation messages and shared state read
	// from Redis that failed a check (signature, replay window, bounds).
	RejectedMessages uint64
}

// Stats returns a snapshot of the counters. Safe for concurrent use.
func (t *Tier) Stats() Stats {
	s := &t.st
	return Stats{
		State: t.br.State(), Opens: t.br.opens.Load(),
		Hits: s.hits.Load(), Misses: s.misses.Load(), Corrupt: s.corrupt.Load(), ReadRoundTrips: s.readTrips.Load(),
		Rejected: s.rejected.Load(), Errors: s.errors.Load(), Slow: s.slow.Load(),
		Queued: s.queued.Load(), Written: s.written.Load(), WriteErrors: s.writeErrors.Load(),
		DroppedFull: s.dropFull.Load(), DroppedOpen: s.dropOpen.Load(), DroppedInvalid: s.dropInvalid.Load(),
		DroppedStale: s.dropStale.Load(),
		BytesIn:      s.bytesIn.Load(), BytesStored: s.bytesStored.Load(), Compressed: s.compressed.Load(),
		QueueLen: len(t.queue),
		Commands: s.commands.Load(), Dials: s.dials.Load(), ProbeFailures: s.probeFailures.Load(),
		Subscribed: s.subscribed.Load(),
		Received:   s.received.Load(), Published: s.published.Load(),
		Resyncs: s.resyncs.Load(), Disconnects: s.disconnects.Load(),
		RejectedMessages: s.rejectedMsgs.Load(),
	}
}
