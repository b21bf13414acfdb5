package l2

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/flowcache/flowcache/gateway/internal/l2/redistest"
)

// TestTier_Cluster runs the tier against a real 3-master Redis Cluster: one
// cluster, shared by the subtests, each under its own key prefix.
func TestTier_Cluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3)

	t.Run("pipelined", func(t *testing.T) {
		t.Parallel()
		// One pipeline's keys are on every master: go-redis splits it by
		// node, and each read still gets its own answer.
		testPipelinedGets(t, newTier(t, ModeCluster, c.Addrs, func(c *Config) { c.KeyPrefix = "pipelined:" }, Deps{}))
	})

	t.Run("spread", func(t *testing.T) {
		t.Parallel()
		tr := newTier(t, ModeCluster, c.Addrs, func(c *Config) { c.KeyPrefix = "spread:" }, Deps{})
		const n = 60
		for i := range n {
			k := "k" + strconv.Itoa(i)
			if !tr.Set([]byte(k), []byte("v"+k), time.Minute, Index{Tags: []byte("all-" + strconv.Itoa(i%3))}) {
				t.Fatalf("Set(%q) dropped", k)
			}
		}
		waitFor(t, "writes", func() bool { return tr.Stats().Written == n })
		for i := range n {
			k := "k" + strconv.Itoa(i)
			if v, err := get(t, tr, k); err != nil || v != "v"+k {
				t.Fatalf("Get(%q) = %q, %v", k, v, err)
			}
		}
		// Entry keys carry no hash tag: every master holds some.
		for _, node := range c.Nodes {
			size, err := node.Do("DBSIZE")
			if err != nil {
				t.Fatalf("DBSIZE on %s: %v", node.Addr, err)
			}
			if m, _ := strconv.Atoi(size); m == 0 {
				t.Errorf("node %s holds no keys: entries are not spread", node.Addr)
			}
		}
		// A tag whose members live on every node is purged in one call.
		np, err := tr.Purge(context.Background(), Invalidation{Kind: KindTag, Tags: []string{"all-0", "all-1", "all-2"}})
		if err != nil || np != n {
			t.Fatalf("Purge(tags) = %d, %v; want %d", np, err, n)
		}
		if _, err := get(t, tr, "k7"); !errors.Is(err, ErrMiss) {
			t.Errorf("Get after tag purge = %v, want ErrMiss", err)
		}
	})
	t.Run("purge", func(t *testing.T) {
		t.Parallel()
		testPurge(t, ModeCluster, c.Addrs)
	})
	t.Run("pubsub", func(t *testing.T) {
		t.Parallel()
		testPubSub(t, ModeCluster, c.Addrs)
	})
	t.Run("resync", func(t *testing.T) {
		t.Parallel()
		cb := newCollector()
		g := &gate{}
		a := newTier(t, ModeCluster, c.Addrs, func(c *Config) { c.KeyPrefix = "resync:" }, Deps{})
		b := newTier(t, ModeCluster, c.Addrs, func(c *Config) {
			c.KeyPrefix, c.NodeID = "resync:", "b-resync"
		}, cb.deps(Deps{Dialer: g.dial}))
		waitFor(t, "B subscribed", b.Subscribed)
		// The sharded subscription lives on the node owning the {meta} slot.
		owner := c.NodeFor(t, "resync:{meta}:epoch")
		g.closed.Store(true)
		// Only B's subscriber: the other subtests share the cluster.
		if n := owner.KillSubscribers("flowcache-b-resync"); n == 0 {
			t.Fatalf("no pubsub client on %s, the owner of the channel's slot", owner.Addr)
		}
		waitFor(t, "B to notice", func() bool { return !b.Subscribed() })
		if _, err := a.Purge(context.Background(), Invalidation{Kind: KindPrefix, Host: "h", Path: "/"}); err != nil {
			t.Fatalf("A: Purge: %v", err)
		}
		g.closed.Store(false)
		if got := cb.nextResync(t); got.Reason != ResyncEpoch || got.Missed != 1 {
			t.Errorf("Resync = %+v, want epoch, missed 1", got)
		}
	})
}
