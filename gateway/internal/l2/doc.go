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
// # Operating Redis
//
// Redis 7.0 or later is required (PEXPIRE NX/GT, SPUBLISH). Use a volatile
// eviction policy (maxmemory-policy volatile-lru or volatile-lfu): every
// entry and index has a TTL, the {meta} keys have none and must never be
// evicted (an evicted generation would make old, purged entries readable
// again). Under memory pressure an index set may still be evicted before the
// entries it lists, which a later tag or prefix purge then misses: size
// Redis so that it rarely evicts. Persistence is optional: a Redis that
// comes back empty is noticed (ResyncDataLost) and every node flushes its
// L1 once.
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
//
// # What Redis is trusted with
//
// Nothing read from Redis is trusted. With Config.Secret, invalidations are
// published sealed with an HMAC-SHA256 ([Signer]) over the message, its
// send time and the data set id; a node drops (and counts in
// Stats.RejectedMessages) what does not verify, is older than five
// minutes, or names another data set. Without a secret, messages are only
// bounded. Either way a message moves a generation by one step at most (a
// larger claim makes the node read Redis' counter), and the counters read
// from Redis must be 1 to 15 digits: a purge-all can never be stopped by a
// counter pushed to its limit. Values are bounded by MaxValueSize.
//
// # Why hash tags only on {meta}?
//
// Nothing here needs two keys in one command or transaction except the
// shared state: loading gen, softgen, epoch and id is one MGET, and
// publishing is one script that bumps the epoch and publishes on the channel
// (a shard channel in a cluster) atomically. These share the {meta} tag, so
// they live in one slot. Entries, tag sets and host sets carry no hash tag:
// they spread over every slot and node, and each purge command names one key
// (the cluster client splits a pipeline by node). Tagging entries by host, or
// tags with their entries, would pile a popular host or tag onto one shard.
//
// # Why sorted sets for the indexes?
//
// Members are scored with their expiry (unix ms). Every write trims the
// members that expired (ZREMRANGEBYSCORE, O(log n + removed)) and extends the
// set's TTL to its longest-lived member (PEXPIRE NX, then GT), so a set of
// a hot tag does not grow with dead keys, as a plain SADD set with one TTL
// would, and never expires before its live members. A tag purge reads only
// live members (ZRANGE BYSCORE). A prefix or URL purge walks the host's index
// with ZSCAN MATCH "<prefix>*" (URL: "<path>\x00*", every variant): the
// cost is the size of one host's index, on the purge path only; nothing
// scans the keyspace (no KEYS or SCAN). A lexicographic index (ZRANGEBYLEX)
// would find a prefix in O(log n) but cannot expire members; purges are rare
// and writes are not, so writes get the cheap side.
//
// # Purge all and soft purge
//
// Purge all increments the generation, which is part of every entry key:
// old entries are never read again and expire with their TTL; nothing is
// scanned or deleted. Nodes learn the generation from the invalidation
// message, from the periodic poll, and after every reconnection. A soft purge
// sets bit 2 of the stored value's first byte with a Lua script (SETRANGE
// keeps the TTL); a soft purge-all increments softgen, and a value written
// under an older softgen reads as invalidated. Get returns such values with
// ErrInvalidated: servable stale, never fresh.
//
// # Invalidation bus and resync
//
// Every purge bumps the purge epoch and is published with it, in one
// script (Notify, for the invalidation after an unsafe request, is published
// with epoch 0 and is not tracked). The subscriber tracks the epochs it
// received. It calls OnResync when purges may have been missed:
//
//   - after a reconnection, if the epoch in Redis differs from the last one
//     it accounted for (read after the new subscription is confirmed, so a
//     purge is either counted there or delivered);
//   - at a poll (every SyncInterval) if an epoch seen at the previous poll
//     still has no message (a message lost on a live connection);
//   - when the data set id changed (Redis restarted empty or failed over to
//     an empty replica): purges issued while it was down could not be
//     recorded anywhere.
//
// The poll is not only for theory: in the Sentinel failover test the
// subscriber stays on the demoted master while it resynchronises with the
// new one, a purge published meanwhile never reaches it, and the poll
// catches the gap (TestTier_SentinelFailover).
//
// Writes that were fetched before an invalidation (Index.Seq, from
// InvalidationSeq) are dropped instead of written, so a slow write cannot
// bring back an entry purged meanwhile.
//
// # Why not flush L1 on every reconnect?
//
// Measured on a loopback Redis (BenchmarkTier_EpochCheck,
// BenchmarkTier_GetHit): the epoch check costs one round trip, 28-58µs, once
// per reconnection. A flush costs every L1 entry one L2 round trip (25-45µs
// for a 1KiB entry) or an upstream request when it comes back, on the
// request path: a 256MiB L1 of 4KiB entries is ~65k entries, about 2-3 s of
// cumulated Redis time and the L1 hit ratio falling to 0, on every node at
// once, since a Redis failover or restart disconnects every node. With the
// epoch check a reconnection without purges meanwhile (the common case:
// purges are rare, blips are not) keeps the L1 (TestTier_ResyncAfterPartition:
// nothing_missed → 0 resyncs, purge_missed → 1, always → 1). The price is
// exposure while disconnected: until the subscriber is back, the node serves
// its L1 as it is (Subscribed reports it; /readyz may say degraded).
// Config.ResyncAlways flushes on every reconnect for those who prefer it.
//
// # Why SPUBLISH in a cluster?
//
// See Publish: classic PUBLISH is broadcast to every cluster node over the
// cluster bus; a shard channel goes to one shard, the one that also holds
// the epoch.
//
// # Circuit breaker
//
// BreakerFailures consecutive failures (errors, timeouts, or calls slower
// than SlowCall) open it. While open, Get returns ErrUnavailable in 8.5ns
// without touching the network, and writes are dropped. A background prober
// (never a request) loads the shared state every BreakerCooldown, doubling
// up to BreakerMaxCooldown; when it succeeds the breaker is half-open: one
// request at a time tries Redis (the others skip L2), its success closes the
// breaker, its failure opens it again. A Redis error reply (WRONGTYPE, OOM)
// counts as a success: Redis answered. go-redis'
// retries are turned off (MaxRetries -1, one dial attempt): a cache read is
// worth one try.
//
// # Compression
//
// Values of at least CompressMinSize bytes are compressed with S2 (default)
// or zstd, and kept compressed only if that saves 1/8. The first byte of the
// stored value says which codec was used, so nodes with different settings
// read each other's values. Measured on JSON API answers of varied records
// (BenchmarkCompression; busy 2-core machine, so ranges):
//
//	size    s2 ratio  s2 enc   s2 dec   zstd ratio  zstd enc  zstd dec
//	128B    1.04      -        -        1.04        -         -         (stored raw)
//	256B    0.87      0.25µs   0.08µs   0.74        10µs      4µs
//	512B    0.68      0.5µs    0.08µs   0.55        -         4µs
//	1KiB    0.54      2µs      0.3-0.5µs 0.42       10-12µs   4.5-6.6µs
//	4KiB    0.42      3-5µs    1.1-2.4µs 0.30       -         13-17µs
//	16KiB   0.37      33-41µs  7-11µs   0.24        97-135µs  52-60µs
//	256KiB  0.31      0.7ms    0.12-0.16ms 0.21     1.8-2.6ms 0.53-0.62ms
//
// A hit decompresses every time; a write compresses once, off the request
// path. Moving a byte from Redis into the gateway costs about 1.8ns on
// loopback (GetHit 128KiB vs 16KiB, uncompressed), more on a real network.
// S2 decoding costs about 2.5ns per saved byte at 256B, 0.6-0.9ns from 512B
// up: the break-even is between 256B and 512B, hence CompressMinSize 512.
// Above it S2 also halves to thirds the memory an entry takes in Redis, and
// large hits get faster (128KiB: 130-195µs compressed vs 220-285µs raw).
// zstd stores 25-35% less than S2 but decodes 5-10x slower: choose it when
// Redis memory, not latency, is the constraint.
//
// # Costs on the request path
//
// Get hit: one round trip, 25-45µs for 1KiB on loopback, 7 allocations, all
// inside go-redis (a bare go-redis GET makes the same 7). Set: a copy into a
// pooled item and a non-blocking send, 180-250ns for 4KiB with 0 allocations;
// 12-17ns when the queue is full and the write is dropped.
package l2
