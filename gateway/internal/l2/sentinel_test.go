package l2

import (
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
	if got, err := s.Master.Do("EXISTS", "fc:e:0:k"); err != nil || got != "1" {
		t.Errorf("EXISTS on the master = %q, %v; want 1", got, err)
	}
	t.Run("pubsub", func(t *testing.T) {
		testPubSub(t, ModeSentinel, []string{s.Sentinel.Addr}, func(c *Config) { c.MasterName = s.MasterName })
	})
}
