package l2

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowcache/flowcache/gateway/internal/l2/redistest"
)

const testSecret = "0123456789abcdef-cluster-secret"

// rawClient is a plain go-redis client: what anyone who can reach Redis
// has, with no secret.
func rawClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() }) // the test is over; a close error changes nothing
	return c
}

// TestSigner: Open accepts what Seal made with the same secret and domain
// only.
func TestSigner(t *testing.T) {
	t.Parallel()
	a, b, none := NewSigner(testSecret), NewSigner("another secret, same length!!"), NewSigner("")
	msg := []byte(`{"k":4,"g":2}`)
	sealed := a.Seal(nil, DomainInvalidation, msg)
	tests := []struct {
		name   string
		s      *Signer
		domain string
		in     []byte
		want   error
	}{
		{name: "same", s: a, domain: DomainInvalidation, in: sealed},
		{name: "other_secret", s: b, domain: DomainInvalidation, in: sealed, want: ErrBadMAC},
		{name: "other_domain", s: a, domain: DomainPolicy, in: sealed, want: ErrBadMAC},
		{name: "unsigned", s: a, domain: DomainInvalidation, in: msg, want: ErrUnsigned},
		{name: "tampered", s: a, domain: DomainInvalidation, in: append([]byte(`{"k":4,"g":3}`), sealed[len(msg):]...), want: ErrBadMAC},
		{name: "no_secret_strips_mac", s: none, domain: DomainInvalidation, in: sealed},
		{name: "no_secret_unsigned", s: none, domain: DomainInvalidation, in: msg},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.s.Open(tc.domain, tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open(%q) error = %v, want %v", tc.in, err, tc.want)
			}
			if err == nil && string(got) != string(tc.in[:min(len(tc.in), len(msg))]) {
				t.Errorf("Open(%q) = %q, want %q", tc.in, got, msg)
			}
		})
	}
}

// TestTier_ForgedGeneration: a message claiming the largest generation,
// published by anyone who can reach Redis, does not move a node's
// generation, and a later purge-all still reaches every node. Without a
// secret the message is refused for its bounds; with one, for its
// signature.
func TestTier_ForgedGeneration(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	for _, secret := range []string{"", testSecret} {
		name := "no_secret"
		if secret != "" {
			name = "secret"
		}
		t.Run(name, func(t *testing.T) {
			prefix := "forge-" + name + ":"
			conf := func(id string) func(*Config) {
				return func(c *Config) { c.NodeID, c.Secret, c.KeyPrefix = id, secret, prefix }
			}
			a := newTier(t, ModeStandalone, []string{r.Addr}, conf("a"), Deps{Logger: testLogger(t)})
			b := newTier(t, ModeStandalone, []string{r.Addr}, conf("b"), Deps{Logger: testLogger(t), OnInvalidate: func(Invalidation) {}})
			waitFor(t, "subscribers", func() bool { return a.Subscribed() && b.Subscribed() })
			raw := rawClient(t, r.Addr)
			ch := prefix + "{meta}:inval"
			forged := []string{
				`1 {"k":4,"g":18446744073709551615}`,
				`2 {"k":4,"g":999999999999999,"o":"x"}`,
				`3 {"k":4,"s":true,"g":4294967295}`,
			}
			for i, m := range forged {
				if err := raw.Publish(context.Background(), ch, m).Err(); err != nil {
					t.Fatalf("PUBLISH: %v", err)
				}
				waitFor(t, "rejection "+strconv.Itoa(i+1), func() bool { return b.Stats().RejectedMessages >= uint64(i+1) })
			}
			if g, sg := b.gen.Load(), b.softGen.Load(); g != 0 || sg != 0 {
				t.Fatalf("B generations after forged messages = %d, %d; want 0, 0", g, sg)
			}
			setSync(t, a, "k", "v", time.Minute, Index{})
			if _, err := a.Purge(context.Background(), Invalidation{Kind: KindAll}); err != nil {
				t.Fatalf("A: purge-all: %v", err)
			}
			waitFor(t, "B at generation 1", func() bool { return b.gen.Load() == 1 })
			if _, err := get(t, b, "k"); !errors.Is(err, ErrMiss) {
				t.Errorf("B: Get after purge-all = %v, want ErrMiss", err)
			}
		})
	}
}

// TestTier_GenerationStep: a message (even a signed one) claiming a
// generation more than one step ahead does not move the node there; the
// node reads Redis' counter instead.
func TestTier_GenerationStep(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	b := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) { c.NodeID, c.KeyPrefix = "b", "step:" }, Deps{OnInvalidate: func(Invalidation) {}})
	waitFor(t, "subscriber", b.Subscribed)
	if err := rawClient(t, r.Addr).Publish(context.Background(), "step:{meta}:inval", `1 {"k":4,"g":7,"o":"x"}`).Err(); err != nil {
		t.Fatalf("PUBLISH: %v", err)
	}
	waitFor(t, "delivery", func() bool { return b.Stats().Received == 1 })
	if g := b.gen.Load(); g != 0 {
		t.Errorf("generation after a claim of 7 = %d, want 0 (Redis' counter)", g)
	}
}

// TestTier_SignedBus: with a secret, nodes apply what nodes with the same
// secret publish, and refuse forged, foreign, stale and unsigned messages.
func TestTier_SignedBus(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	t.Run("pubsub", func(t *testing.T) {
		t.Parallel()
		testPubSub(t, ModeStandalone, []string{r.Addr}, func(c *Config) { c.Secret, c.KeyPrefix = testSecret, "signed:" })
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		cb := newCollector()
		b := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) { c.NodeID, c.Secret, c.KeyPrefix = "b", testSecret, "refused:" }, cb.deps(Deps{Logger: testLogger(t)}))
		other := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) { c.NodeID, c.Secret, c.KeyPrefix = "o", "a different secret of 32 bytes!", "refused:" }, Deps{})
		waitFor(t, "subscriber", b.Subscribed)
		// A node with another secret: its purge reaches Redis but not b.
		if _, err := other.Purge(context.Background(), Invalidation{Kind: KindURL, Host: "h", Path: "/x"}); err != nil {
			t.Fatalf("Purge: %v", err)
		}
		waitFor(t, "rejection of a foreign MAC", func() bool { return b.Stats().RejectedMessages >= 1 })
		// A correctly signed message, captured and replayed later.
		b.metaMu.Lock()
		ds := b.redisID
		b.metaMu.Unlock()
		body, err := json.Marshal(wireInvalidation{
			Invalidation: Invalidation{Kind: KindURL, Host: "h", Path: "/y"},
			Time:         time.Now().Add(-time.Hour).UnixMilli(), DataSet: ds,
		})
		if err != nil {
			t.Fatal(err)
		}
		raw := rawClient(t, r.Addr)
		msgs := []string{
			"99 " + string(NewSigner(testSecret).Seal(nil, DomainInvalidation, body)), // stale
			`99 {"k":1,"h":"h","p":"/z"}`, // unsigned
		}
		for i, m := range msgs {
			if err := raw.Publish(context.Background(), "refused:{meta}:inval", m).Err(); err != nil {
				t.Fatalf("PUBLISH: %v", err)
			}
			waitFor(t, "rejection", func() bool { return b.Stats().RejectedMessages >= uint64(2+i) })
		}
		select {
		case inv := <-cb.invs:
			t.Errorf("delivered %+v, want nothing", inv)
		default:
		}
		if n := b.Stats().Received; n != 0 {
			t.Errorf("Received = %d, want 0", n)
		}
	})
}

// TestTier_HostileState: a generation in Redis that no node wrote
// (implausibly large, or not a number) is refused and counted; the node
// keeps L2 off its read path until a purge-all, whose script repairs the
// counter, and then works again.
func TestTier_HostileState(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	for _, v := range []string{"18446744073709551615", "9223372036854775807", "x1", "-1"} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			prefix := "hostile" + v + ":"
			if err := rawClient(t, r.Addr).Set(context.Background(), prefix+"{meta}:gen", v, 0).Err(); err != nil {
				t.Fatalf("SET: %v", err)
			}
			tr := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) {
				c.KeyPrefix = prefix
				c.BreakerCooldown, c.BreakerMaxCooldown = 10*time.Millisecond, 20*time.Millisecond
			}, Deps{Logger: testLogger(t)})
			if n := tr.Stats().RejectedMessages; n == 0 {
				t.Errorf("RejectedMessages = 0 after reading gen %q", v)
			}
			if _, err := get(t, tr, "k"); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Get with gen %q in Redis = %v, want ErrUnavailable", v, err)
			}
			if _, err := tr.Purge(context.Background(), Invalidation{Kind: KindAll}); err != nil {
				t.Fatalf("purge-all over gen %q: %v", v, err)
			}
			if g := tr.gen.Load(); g != 1 {
				t.Errorf("generation after purge-all = %d, want 1", g)
			}
			waitFor(t, "breaker not open", func() bool { return tr.State() != StateOpen })
			setSync(t, tr, "k", "v", time.Minute, Index{})
			if got, err := get(t, tr, "k"); err != nil || got != "v" {
				t.Errorf("Get after repair = %q, %v", got, err)
			}
		})
	}
}

// TestTier_Cluster_NoHashTagFromKey: a "{x}" in an entry key, a tag or a
// host (request and origin bytes) is not a Redis Cluster hash tag: keys
// that share it spread over slots instead of all landing on slot(x).
func TestTier_Cluster_NoHashTagFromKey(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3)
	tr := newTier(t, ModeCluster, c.Addrs, func(c *Config) { c.KeyPrefix = "tag:" }, Deps{})
	node := c.Nodes[0]
	slot := func(key string) string {
		t.Helper()
		s, err := node.Do("CLUSTER", "KEYSLOT", key)
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %q: %v", key, err)
		}
		return s
	}
	chosen := slot("x")
	var keys []string
	for _, p := range []string{"/a{x}", "/b{x}", "/c{x}", "/d{x}"} {
		keys = append(keys, string(tr.appendEntryKey(nil, 0, []byte("route\x00host\x00"+p))), tr.tagKey([]byte("{x}"+p)), tr.hostKey([]byte("{x}"+p)))
		setSync(t, tr, "route\x00host\x00"+p, "v", time.Minute, Index{Tags: []byte("{x}" + p), Host: []byte("{x}" + p), Path: []byte(p)})
	}
	slots := map[string]bool{}
	for _, k := range keys {
		s := slot(k)
		slots[s] = true
		if s == chosen {
			t.Errorf("key %q is in slot %s, the slot of the client's hash tag", k, s)
		}
		// The key was written where the cluster hashes it: the node that
		// owns its slot answers (the others redirect) and has it.
		found := false
		for _, n := range c.Nodes {
			if got, err := n.Do("EXISTS", k); err == nil {
				found = got == "1"
				break
			}
		}
		if !found {
			t.Errorf("key %q not found on the node owning its slot", k)
		}
	}
	if len(slots) < len(keys)/2 {
		t.Errorf("%d keys in %d slots: they do not spread", len(keys), len(slots))
	}
	// Purge by tag and by URL still find them.
	if n, err := tr.Purge(context.Background(), Invalidation{Kind: KindTag, Tags: []string{"{x}/a{x}"}}); err != nil || n != 1 {
		t.Errorf("Purge(tag) = %d, %v; want 1", n, err)
	}
	if n, err := tr.Purge(context.Background(), Invalidation{Kind: KindURL, Host: "{x}/b{x}", Path: "/b{x}"}); err != nil || n != 1 {
		t.Errorf("Purge(url) = %d, %v; want 1", n, err)
	}
}

// FuzzTier_decodeMessage: any bus payload is either refused or yields an
// invalidation within bounds; never a panic.
func FuzzTier_decodeMessage(f *testing.F) {
	f.Add(`1 {"k":4,"g":18446744073709551615}`, false)
	f.Add(`7 {"k":1,"h":"h","p":"/x","ts":1}`, true)
	f.Add(`2 {"k":3,"h":"h","p":"/"} `+strings.Repeat("a", 64), true)
	f.Add(`3 {"k":2,"t":["a",""]}`, false)
	now := time.Now()
	f.Fuzz(func(t *testing.T, payload string, secret bool) {
		tr := &Tier{signer: NewSigner("")}
		if secret {
			tr.signer = NewSigner(testSecret)
		}
		inv, err := tr.decodeMessage(payload, now)
		if err != nil {
			return
		}
		if secret {
			t.Fatalf("unsigned payload %q accepted with a secret", payload)
		}
		if err := inv.validate(); err != nil {
			t.Fatalf("accepted invalid %+v: %v", inv, err)
		}
		if inv.Kind == KindAll && inv.Gen >= maxGen {
			t.Fatalf("accepted generation %d", inv.Gen)
		}
	})
}

// BenchmarkSigner_Open: verifying one signed invalidation (a URL purge).
func BenchmarkSigner_Open(b *testing.B) {
	s := NewSigner(testSecret)
	sealed := s.Seal(nil, DomainInvalidation, []byte(`{"k":1,"h":"api.example.com","p":"/items/123?x=1","o":"node-1","ts":1764800000000,"ds":"0123456789abcdef01234567"}`))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open(DomainInvalidation, sealed); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTier_NotifySigned: Notify's untracked URL invalidation is signed like
// Publish's; an unsigned one, or a signed one wider than a URL, is refused.
func TestTier_NotifySigned(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	ca, cb := newCollector(), newCollector()
	secret := func(id string) func(*Config) {
		return func(c *Config) { c.NodeID, c.Secret, c.KeyPrefix = id, testSecret, "notify:" }
	}
	a := newTier(t, ModeStandalone, []string{r.Addr}, secret("a"), ca.deps(Deps{Logger: testLogger(t)}))
	b := newTier(t, ModeStandalone, []string{r.Addr}, secret("b"), cb.deps(Deps{Logger: testLogger(t)}))
	waitFor(t, "subscribers", func() bool { return a.Subscribed() && b.Subscribed() })

	b.metaMu.Lock()
	ds := b.redisID
	b.metaMu.Unlock()
	all, err := json.Marshal(wireInvalidation{Invalidation: Invalidation{Kind: KindAll, Gen: 2}, Time: time.Now().UnixMilli(), DataSet: ds})
	if err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t, r.Addr)
	for i, m := range []string{
		`0 {"k":1,"h":"h","p":"/z"}`, // unsigned
		"0 " + string(NewSigner(testSecret).Seal(nil, DomainInvalidation, all)), // signed, but untracked and wider than a URL
	} {
		if err := raw.Publish(context.Background(), "notify:{meta}:inval", m).Err(); err != nil {
			t.Fatalf("PUBLISH: %v", err)
		}
		waitFor(t, "rejection", func() bool { return b.Stats().RejectedMessages >= uint64(1+i) })
	}
	inv := Invalidation{Kind: KindURL, Host: "h", Path: "/p"}
	if err := a.Notify(context.Background(), &inv); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	for name, c := range map[string]*collector{"a": ca, "b": cb} {
		if got := c.next(t); got.Kind != KindURL || got.Host != "h" || got.Path != "/p" || got.Origin != "a" || got.Epoch != 0 {
			t.Errorf("%s: delivered %+v, want url h /p from a, epoch 0", name, got)
		}
	}
}
