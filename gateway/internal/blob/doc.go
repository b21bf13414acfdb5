// Package blob is the gateway's large-object tier: a bounded store of
// immutable byte slices (records whose bodies are too large to be worth
// copying out of freecache on every hit), accounted in bytes, evicted with
// S3-FIFO.
//
// A value given to [Store.Set] is owned by the store and never written
// again; [Store.Get] returns it as it is, without a copy, and the caller
// may keep it (a response being written) after it is deleted or evicted:
// the garbage collector keeps it alive as long as it is referenced. No
// reference counts are needed because nothing is ever reused in place.
// The slices hold no pointers, so a store of many GiB costs the garbage
// collector nothing to mark (see BenchmarkStore_GC).
//
// # Why S3-FIFO?
//
// S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction",
// SOSP 2023) keeps a small FIFO queue (a tenth of the bytes) where new
// objects prove themselves, a main FIFO queue, and a ghost queue of the
// keys recently evicted from the small one. An object read again while in
// the small queue moves to the main one when it reaches the small queue's
// end; one that is not leaves, and its key is remembered in the ghost
// queue so that, asked for again soon, it goes straight to the main queue.
// The main queue gives objects read since their last pass another round
// (a CLOCK). One-hit wonders, frequent among large objects (a download
// asked once), thus never push popular objects out, and hits cost one
// atomic increment under a read lock: no list is reordered on a hit, as an
// LRU would. On a Zipf trace of large objects it keeps more hits than an
// LRU of the same bytes (TestStore_ZipfHitRatio).
package blob
