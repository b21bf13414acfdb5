package l2

import (
	"context"
	"testing"
	"time"

	"github.com/flowcache/flowcache/gateway/internal/l2/redistest"
)

// TestTier_Sentinel: in Sentinel mode the tier finds the master through
// the sentinel, and the invalidation bus works through it.
func TestTier_Sentinel(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t, "flowcache")
	tr := newTier(t, ModeSentinel, []string{s.Sentinel.Addr}, func(c *Config) { c.MasterName = s.MasterName }, Deps{})
	setSync(t, tr, "k", "v", time.Minute, Index{})
	if v, err := get(t, tr, "k"); err != nil || v != "v" {
		t.Fatalf("Get = %q, %v; want \"v\"", v, err)
	}
	// The value is on the master the sentinel named.
	if got, err := s.Master.Do("EXISTS", "fc:e:{}0:k"); err != nil || got != "1" {
		t.Errorf("EXISTS on the master = %q, %v; want 1", got, err)
	}
	t.Run("pubsub", func(t *testing.T) {
		testPubSub(t, ModeSentinel, []string{s.Sentinel.Addr}, func(c *Config) { c.MasterName = s.MasterName })
	})
}

// TestTier_SentinelFailover: after Sentinel promotes the replica, the tier
// reads and writes on the new master and invalidations still reach every
// node; the data set (and its id) survived, so no node flushes its L1.
func TestTier_SentinelFailover(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t, "flowcache")
	conf := func(id string) func(*Config) {
		return func(c *Config) {
			c.MasterName, c.NodeID = s.MasterName, id
			c.BreakerCooldown, c.BreakerMaxCooldown = 10*time.Millisecond, 50*time.Millisecond
		}
	}
	cb := newCollector()
	a := newTier(t, ModeSentinel, []string{s.Sentinel.Addr}, conf("a"), Deps{})
	b := newTier(t, ModeSentinel, []string{s.Sentinel.Addr}, conf("b"), cb.deps(Deps{}))
	setSync(t, a, "k", "v", time.Minute, Index{})
	waitFor(t, "B subscribed", b.Subscribed)

	// Replication is asynchronous: let the replica have k (and the shared
	// state) before promoting it, or the failover may lose them.
	waitFor(t, "replication", func() bool {
		v, err := s.Replica.Do("GET", "fc:e:{}0:k")
		return err == nil && v != ""
	})
	s.Failover()

	// Writes on the old master fail (READONLY) until the clients move; keep
	// writing until one lands where B reads it.
	waitFor(t, "a write after failover", func() bool {
		a.Set([]byte("k2"), []byte("v2"), time.Minute, Index{})
		v, err := get(t, b, "k2")
		return err == nil && v == "v2"
	})
	if v, err := get(t, b, "k"); err != nil || v != "v" {
		t.Errorf("B: Get(k) after failover = %q, %v; want the replicated \"v\"", v, err)
	}
	waitFor(t, "a purge after failover", func() bool {
		_, err := a.Purge(context.Background(), Invalidation{Kind: KindTag, Tags: []string{"x"}})
		return err == nil
	})
	// B hears of the purge: by message, or, if its subscriber was still on
	// the demoted master while that one resynchronised with the new master
	// (messages published meanwhile do not reach it), by the epoch poll.
	select {
	case inv := <-cb.invs:
		if inv.Kind != KindTag || inv.Origin != "a" {
			t.Errorf("B received %+v, want the tag purge from a", inv)
		}
	case r := <-cb.resyncs:
		if r.Reason != ResyncEpoch {
			t.Errorf("B resynced for %v, want epoch (the data set survived the failover)", r.Reason)
		}
	case <-time.After(waitTimeout):
		t.Fatal("B neither received the purge nor resynced")
	}
}
