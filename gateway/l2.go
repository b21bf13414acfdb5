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
	// Get appends the value stored under key to dst[:0] and returns it.
	Get(ctx context.Context, key, dst []byte) (value []byte, found bool, err error)
	// Set stores value under key for ttl. The slices are only valid during
	// the call.
	Set(ctx context.Context, key, value []byte, ttl time.Duration) error
	// Delete removes keys and returns how many existed.
	Delete(ctx context.Context, keys ...[]byte) (int, error)
	// Close releases the tier's connections.
	Close() error
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
func (noL2) Set(context.Context, []byte, []byte, time.Duration) error { return nil }
func (noL2) Delete(context.Context, ...[]byte) (int, error)           { return 0, nil }
func (noL2) Close() error                                             { return nil }

var _ l2Tier = noL2{}
