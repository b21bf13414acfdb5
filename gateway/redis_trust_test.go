package gateway_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
	"github.com/flowcache/flowcache/plugins"
)

const clusterSecret = "test-cluster-secret-0123456789"

func withSecret(cfg *gateway.Config) { cfg.Redis.Secret = clusterSecret }

// TestPolicySync_ForgedEvent: with [redis] secret set, a policy version
// written to Redis by someone without the secret (module bytes, event
// key, published event: all the syncer reads) is refused and counted, the
// nodes keep their version, and it does not stop a real upload from
// reaching every node.
func TestPolicySync_ForgedEvent(t *testing.T) {
	t.Parallel()
	r := gatewaytest.StartRedis(t)
	c := newSyncCluster(t, "standalone", []string{r.Addr})
	a, b := c.node(t, withSecret), c.node(t, withSecret)
	v0 := a.info(t, "tagged").Active
	waitServes(t, b, v0, tagName(0))

	forger := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = forger.Close() }) // the test is over
	ctx := context.Background()
	wasm := tagged(t, tagName(9))
	sum := sha256.Sum256(wasm)
	sha := hex.EncodeToString(sum[:])
	ev, err := json.Marshal(plugins.Event{
		Name: "tagged", Activation: 1000,
		Version: plugins.VersionInfo{ID: sha[:16], ModuleSHA256: sha, Size: len(wasm), Source: "upload"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := forger.Set(ctx, "psync:policy:module:"+sha, wasm, 0).Err(); err != nil {
		t.Fatalf("SET module: %v", err)
	}
	if err := forger.HSet(ctx, "psync:policy:event:tagged", "activation", 1000, "id", sha[:16], "event", ev).Err(); err != nil {
		t.Fatalf("HSET event: %v", err)
	}
	if err := forger.Publish(ctx, "psync:policy:events", ev).Err(); err != nil {
		t.Fatalf("PUBLISH: %v", err)
	}
	for _, g := range []*policyGateway{a, b} {
		gatewaytest.WaitFor(t, "forged event rejected", func() bool {
			return g.Metric(t, "flowcache_policy_sync_rejected_events_total") >= 1
		})
		if label, body := served(t, g); label != "tagged@"+v0[:12] || body != tagName(0) {
			t.Errorf("after a forged event a node serves %q %q, want tagged@%s %s", label, body, v0[:12], tagName(0))
		}
	}
	// A real upload replaces the forged event and reaches the other node.
	v1 := a.put(t, "tagged", tagged(t, tagName(1)))
	waitServes(t, b, v1.Version, tagName(1))
	sameActivation(t, a, b)
}

// TestPolicySync_SentinelAuth: with sentinels that require a password
// (sentinel_username / sentinel_password), the policy syncer finds the
// master as the L2 tier does: an upload on A reaches B.
func TestPolicySync_SentinelAuth(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartRedisSentinel(t, "flowcache")
	if _, err := s.Sentinel.Do("ACL", "SETUSER", "sentineluser", "on", ">sentinel-pass", "allchannels", "+@all"); err != nil {
		t.Fatalf("ACL SETUSER on the sentinel: %v", err)
	}
	if _, err := s.Sentinel.Do("ACL", "SETUSER", "default", "off"); err != nil {
		t.Fatalf("ACL SETUSER default off on the sentinel: %v", err)
	}
	c := newSyncCluster(t, "sentinel", []string{s.Sentinel.Addr})
	edit := func(cfg *gateway.Config) {
		cfg.Redis.MasterName = s.MasterName
		cfg.Redis.SentinelUsername, cfg.Redis.SentinelPassword = "sentineluser", "sentinel-pass"
	}
	a, b := c.node(t, edit), c.node(t, edit)
	v1 := a.put(t, "tagged", tagged(t, tagName(1)))
	waitServes(t, b, v1.Version, tagName(1))
	if n := b.Metric(t, "flowcache_policy_sync_resyncs_total"); n < 1 {
		t.Errorf("B: flowcache_policy_sync_resyncs_total = %v, want >= 1", n)
	}
}

// TestL2_ForgedInvalidations: with [redis] secret set, invalidations
// published by someone without it (a purge-all claiming the largest
// generation, a URL purge) are refused and counted by every node: B keeps
// its L1 copy, and its generation. A real purge-all on A still reaches B,
// after which A and B share L2 entries again.
func TestL2_ForgedInvalidations(t *testing.T) {
	t.Parallel()
	r := gatewaytest.StartRedis(t)
	o := startVersionedOrigin(t)
	cfg := l2Config(o.URL, "standalone", "forged:", []string{r.Addr})
	withSecret(cfg)
	a := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	b := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	waitL2Ready(t, a)
	waitL2Ready(t, b)
	const path = "/forged/1"
	prime(t, a, b, path)

	forger := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = forger.Close() }) // the test is over
	for i, m := range []string{
		`1 {"k":4,"g":18446744073709551615}`,
		`2 {"k":1,"h":"localhost","p":"` + path + `"}`,
	} {
		if err := forger.Publish(context.Background(), "forged:{meta}:inval", m).Err(); err != nil {
			t.Fatalf("PUBLISH: %v", err)
		}
		gatewaytest.WaitFor(t, "forged message rejected", func() bool {
			return b.Metric(t, "flowcache_l2_rejected_messages_total") >= float64(i+1)
		})
	}
	if resp := b.Do(t, "GET", path); resp.Get("X-Cache") != "HIT" {
		t.Errorf("B GET %s after forged purges: X-Cache %q, want HIT (its L1 copy kept)", path, resp.Get("X-Cache"))
	}

	before, _ := o.count(path)
	adminPurge(`{"all":true}`)(t, a, path)
	gatewaytest.WaitFor(t, "purge-all on A effective on B", func() bool {
		b.Do(t, "GET", path)
		n, _ := o.count(path)
		return n > before
	})
	// Both nodes are at the same generation: A's next store is B's L2 hit.
	const next = "/forged/2"
	prime(t, a, b, next)
}

// TestL2_NoSecretWarning: Redis without [redis] secret is trusted, and the
// gateway says so once at start; with a secret it does not.
func TestL2_NoSecretWarning(t *testing.T) {
	t.Parallel()
	r := gatewaytest.StartRedis(t)
	o := startVersionedOrigin(t)
	for _, secret := range []string{"", clusterSecret} {
		var logs logBuffer
		cfg := l2Config(o.URL, "standalone", "warn:", []string{r.Addr})
		cfg.Redis.Secret = secret
		g := gatewaytest.StartGateway(t, cfg, gateway.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		waitL2Ready(t, g) // serving: its Shutdown at cleanup then returns
		want := 0
		if secret == "" {
			want = 1
		}
		if n := logs.count("redis_trusted_without_secret"); n != want {
			t.Errorf("secret %q: %d redis_trusted_without_secret warnings, want %d", secret, n, want)
		}
	}
}
