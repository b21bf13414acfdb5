package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// l2Tier is the shared second cache tier (Redis), behind L1. The gateway
// stores in it exactly the records it stores in L1 (same keys, same
// values: entry heads, body chunks, variant records) when the policy's tier
// allows, looks in it on an L1 miss, and deletes from it on PURGE and
// invalidation.
//
// Implementations must be safe for concurrent use, must never block a
// request for long (bounded timeouts, a circuit breaker) and report a dead
// Redis as a miss (found = false) with the error, which the gateway counts
// but never turns into an error page.
type l2Tier interface {
	// Enabled reports whether the tier is configured; when false the
	// gateway skips every other call.
	Enabled() bool
	// Seq returns the tier's invalidation sequence. The gateway reads it
	// before each upstream request and passes it back in l2Index.Seq when
	// storing what that request brought, so that the tier can drop a write
	// that an invalidation (from any node) overtook.
	Seq() uint64
	// Get appends the value stored under key to dst[:0] and returns it.
	Get(ctx context.Context, key, dst []byte) (value []byte, found bool, err error)
	// Set stores value under key for ttl, possibly asynchronously (it may
	// copy and queue, and drop under pressure). The slices are only valid
	// during the call, and so is ix.
	Set(key, value []byte, ttl time.Duration, ix *l2Index)
	// Delete removes keys and returns how many existed.
	Delete(ctx context.Context, keys ...[]byte) (int, error)
	// Close releases the tier's connections.
	Close() error
}

// l2Index describes a stored record for the tier's purge indexes.
type l2Index struct {
	// Tags is the response's Surrogate-Key value (space separated).
	Tags []byte
	// Host and Path are the policy key's Host and Target: purge by URL
	// removes every record written with them (all variants, all chunks).
	Host, Path []byte
	// Seq is Seq() read before the upstream request.
	Seq uint64
}

// newL2Tier builds the L2 tier from cfg.Redis; with no Redis address it is
// the no-op tier.
func newL2Tier(cfg *Config, log *slog.Logger, _ *metrics.Set) (l2Tier, error) {
	if len(cfg.Redis.Addrs) > 0 {
		log.LogAttrs(context.Background(), slog.LevelWarn, "l2_unavailable",
			slog.String("reason", "redis tier not built into this gateway yet; serving from L1 only"))
	}
	return noL2{}, nil
}

// noL2 is the tier used when no Redis is configured.
type noL2 struct{}

func (noL2) Enabled() bool { return false }
func (noL2) Get(_ context.Context, _, dst []byte) ([]byte, bool, error) {
	return dst[:0], false, nil
}
func (noL2) Seq() uint64                                    { return 0 }
func (noL2) Set([]byte, []byte, time.Duration, *l2Index)    {}
func (noL2) Delete(context.Context, ...[]byte) (int, error) { return 0, nil }
func (noL2) Close() error                                   { return nil }

var _ l2Tier = noL2{}

// # Hooks for the L2 subscriber
//
// Purges and invalidations made on another node reach this one through the
// L2 tier's pub/sub; the tier calls these to drop what this node's L1
// holds. Both are safe for concurrent use.

// dropL1URL removes from L1 only every stored variant of the URL whose
// policy key has Host host and Target target, on every route, and returns
// how many responses were removed.
func (g *Gateway) dropL1URL(host, target []byte) int {
	x := acquireExchange(g, nil, nil)
	defer releaseExchange(x)
	n := 0
	for _, rt := range g.currentRoutes() {
		x.rt = rt
		x.setPolicy(g.policyFor(rt)) // the key space of its current version
		x.key.Host, x.key.Target = host, target
		x.pkey = appendPrimaryKey(x.pkey[:0], x.space, &x.key)
		n += g.removeURL(x, true)
	}
	x.key.Host, x.key.Target = nil, nil
	return n
}

// flushL1 empties L1: after invalidations may have been missed (a
// reconnection to Redis), nothing in it can be trusted.
func (g *Gateway) flushL1() { g.l1.c.Clear() }
