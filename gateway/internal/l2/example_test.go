package l2_test

import (
	"context"
	"errors"
	"time"

	"github.com/flowcache/flowcache/gateway/internal/l2"
)

// Example shows how a gateway node wires the tier: the subscriber's
// callbacks drop L1 copies, lookups fall through L1 → L2 → upstream, and
// stores carry the invalidation sequence read before the upstream request.
func Example() {
	var l1 map[string][]byte // stands for the node's in-process L1
	tier, err := l2.New(l2.Config{Addrs: []string{"127.0.0.1:6379"}, Mode: l2.ModeStandalone}, l2.Deps{
		OnInvalidate: func(inv l2.Invalidation) {
			switch inv.Kind {
			case l2.KindURL:
				delete(l1, inv.Host+inv.Path) // every variant of the URL
			default: // tags, prefixes, all: whatever L1 can find, or all of it
				clear(l1)
			}
		},
		OnResync: func(l2.Resync) { clear(l1) }, // invalidations may have been missed
	})
	if err != nil {
		return // invalid configuration; a dead Redis is not an error
	}
	defer tier.Close()

	ctx := context.Background()
	key := []byte("example.com/api/users/1")
	seq := tier.InvalidationSeq() // before anything is fetched
	buf, err := tier.Get(ctx, key, nil)
	switch {
	case err == nil:
		_ = buf // L2 hit: promote to L1, answer with X-Cache: HIT-L2
	case errors.Is(err, l2.ErrInvalidated):
		_ = buf // soft-purged: usable stale, revalidate before serving fresh
	default:
		// ErrMiss or ErrUnavailable (breaker open, Redis down): go upstream.
		body := []byte(`{"id":1}`)
		tier.Set(key, body, time.Minute, l2.Index{
			Tags: []byte("user-1 users"),
			Host: []byte("example.com"), Path: []byte("/api/users/1"),
			Seq: seq,
		})
	}

	// PURGE by surrogate key, on any node: L2 first, then every node's L1.
	if _, err := tier.Purge(ctx, l2.Invalidation{Kind: l2.KindTag, Tags: []string{"users"}}); err != nil {
		return // report the purge as failed: it must be retried
	}
}
