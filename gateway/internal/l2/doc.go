// Package l2 is the gateway's second cache tier: a Redis (standalone,
// Sentinel or Cluster, through go-redis' universal client) shared by every
// gateway node, with cluster-wide purge and invalidation.
//
// The gateway calls:
//
//	t, err := l2.New(cfg, l2.Deps{Logger: log, OnInvalidate: dropFromL1, OnResync: flushL1})
//	v, err := t.Get(ctx, key, buf[:0])   // ErrMiss, ErrUnavailable, ErrInvalidated (+value)
//	ok := t.Set(key, value, ttl, l2.Index{Tags: surrogateKeys, Host: host, Path: target, Seq: seq})
//	n, err := t.Purge(ctx, l2.Invalidation{Kind: l2.KindTag, Tags: []string{"a"}})
//	err = t.Notify(ctx, &l2.Invalidation{Kind: l2.KindURL, Host: h, Path: p}) // after Delete, no epoch bump
//	t.State(); t.Stats(); t.Subscribed()  // /readyz
//	t.RegisterMetrics(set)                // flowcache_l2_* on the gateway's metrics.Set
//
// The gateway's look-aside values use WriteNow instead of Set: written at
// once and uncompressed, under a condition checked in the same script
// (If-Match, If-None-Match, taking or filling a lease), then Publish.
//
// Redis 7.0 or later is required (PEXPIRE NX/GT, SPUBLISH), with a
// volatile-* eviction policy: the {meta} keys have no TTL and must never be
// evicted.
//
// # Keys
//
// With KeyPrefix P (default "flowcache:"):
//
//	P e:{}<gen>:<key>   an entry (string: envelope + value), TTL = Set's ttl
//	P t:{}<tag>         surrogate-key index (sorted set: entry key → expiry ms)
//	P h:{}<host>        URL/prefix index (sorted set: path NUL key → expiry ms)
//	P {meta}:gen        purge-all generation (bumped by one, see bumpScript)
//	P {meta}:softgen    soft purge-all generation (likewise)
//	P {meta}:epoch      purge epoch, bumped by every published invalidation (not by Notify)
//	P {meta}:id         random id of the data set (detects a Redis that lost it)
//	P {meta}:inval      the invalidation channel
//
// The empty "{}" keeps request bytes out of hash tags (see appendEntryKey).
// Purge all increments the generation; a soft purge sets bit 2 of the
// stored value's first byte, and Get returns such values with
// ErrInvalidated (servable stale, never fresh).
//
// # Invalidation bus and resync
//
// Every purge bumps the purge epoch and is published with it, in one
// script. The subscriber tracks the epochs it received and calls OnResync
// when purges may have been missed: after a reconnection if the epoch in
// Redis differs from the last one it accounted for, at a poll (every
// SyncInterval) if an epoch seen at the previous poll still has no message,
// and when the data set id changed. Writes fetched before an invalidation
// (Index.Seq, from InvalidationSeq) are dropped instead of written.
//
// Nothing read from Redis is trusted: with Config.Secret, invalidations are
// sealed with an HMAC-SHA256 ([Signer]) and a node drops what does not
// verify, is older than five minutes, or names another data set; a message
// moves a generation by one step at most, and values are bounded by
// MaxValueSize.
//
// # Circuit breaker and compression
//
// BreakerFailures consecutive failures (errors, timeouts, or calls slower
// than SlowCall) open the breaker: Get returns ErrUnavailable without
// touching the network and writes are dropped, until a background prober
// (every BreakerCooldown, doubling up to BreakerMaxCooldown) finds Redis
// again. Values of at least CompressMinSize bytes are compressed with S2
// (default) or zstd when that saves an eighth; the first byte of a value
// names its codec.
//
// Why hash tags only on {meta}, sorted-set indexes, an epoch check rather
// than an L1 flush on reconnection, SPUBLISH, the breaker and S2 from 512
// bytes, with the measurements behind each: see RATIONALE.md at the
// repository root ("The shared cache (L2): Redis" and "Purge and
// invalidation").
package l2
