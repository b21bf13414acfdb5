package l2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowcache/flowcache/gateway/internal/l2/redistest"
	"github.com/flowcache/flowcache/internal/poll"
)

// waitTimeout bounds every wait for a background event. Tests never assert
// on elapsed time; they wait for a condition and fail only if it never holds.
const waitTimeout = 20 * time.Second

// testLogger logs to t.Log, at debug level.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	poll.WaitForWithin(tb, waitTimeout, what, cond)
}

// newTier starts a Tier on addrs and closes it at the end of the test.
func newTier(tb testing.TB, mode string, addrs []string, mutate func(*Config), deps Deps) *Tier {
	tb.Helper()
	cfg := Config{Addrs: addrs, Mode: mode, KeyPrefix: "fc:", SyncInterval: 50 * time.Millisecond}
	if mutate != nil {
		mutate(&cfg)
	}
	tr, err := New(cfg, deps)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		if err := tr.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return tr
}

// setSync writes through the queue and waits until the write reached Redis.
func setSync(tb testing.TB, tr *Tier, key, value string, ttl time.Duration, ix Index) {
	tb.Helper()
	before := tr.Stats().Written
	if !tr.Set([]byte(key), []byte(value), ttl, ix) {
		tb.Fatalf("Set(%q) dropped", key)
	}
	waitFor(tb, "write of "+key, func() bool { return tr.Stats().Written > before })
}

func get(tb testing.TB, tr *Tier, key string) (string, error) {
	tb.Helper()
	v, err := tr.Get(context.Background(), []byte(key), nil)
	return string(v), err
}

// compressible returns n bytes of a JSON API answer: records with varied
// names, numbers and timestamps, as an origin would send (not a repeated
// pattern, which any codec squeezes to nothing).
func compressible(n int) string {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
		"india", "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec"}
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"name":"%s %s","email":"%s.%d@example.com","score":%.3f,"active":%t,"created":"2026-%02d-%02dT%02d:%02d:%02dZ","tags":["%s","%s"]},`,
			r.IntN(1_000_000), words[r.IntN(len(words))], words[r.IntN(len(words))],
			words[r.IntN(len(words))], r.IntN(10_000), r.Float64()*100, r.IntN(2) == 0,
			1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60),
			words[r.IntN(len(words))], words[r.IntN(len(words))])
	}
	return b.String()[:n]
}

func random(n int) string {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	_, _ = r.Read(b) // ChaCha8.Read never fails
	return string(b)
}

func TestTier_GetSet(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	tests := []struct {
		name        string
		compression string
		value       string
		compressed  bool
	}{
		{name: "small", compression: CompressionS2, value: "hello"},
		{name: "empty", compression: CompressionS2, value: ""},
		{name: "s2_json", compression: CompressionS2, value: compressible(64 << 10), compressed: true},
		{name: "zstd_json", compression: CompressionZstd, value: compressible(64 << 10), compressed: true},
		{name: "none_json", compression: CompressionNone, value: compressible(64 << 10)},
		{name: "s2_random", compression: CompressionS2, value: random(64 << 10)},
		{name: "zstd_random", compression: CompressionZstd, value: random(64 << 10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) {
				c.KeyPrefix = "getset-" + tc.name + ":"
				c.Compression = tc.compression
			}, Deps{})
			if _, err := get(t, tr, "k"); !errors.Is(err, ErrMiss) {
				t.Fatalf("Get before Set: err = %v, want ErrMiss", err)
			}
			setSync(t, tr, "k", tc.value, time.Minute, Index{})
			got, err := get(t, tr, "k")
			if err != nil || got != tc.value {
				t.Fatalf("Get = %d bytes, %v; want %d bytes", len(got), err, len(tc.value))
			}
			st := tr.Stats()
			if (st.Compressed == 1) != tc.compressed {
				t.Errorf("Stats.Compressed = %d, want compressed=%v", st.Compressed, tc.compressed)
			}
			if tc.compressed && st.BytesStored*2 > st.BytesIn {
				t.Errorf("stored %d bytes for %d: compression did not pay", st.BytesStored, st.BytesIn)
			}
			// The Redis TTL is the one given to Set.
			pttl, err := r.Do("PTTL", "getset-"+tc.name+":e:{}0:k")
			if err != nil {
				t.Fatalf("PTTL: %v", err)
			}
			if ms, _ := strconv.Atoi(pttl); ms <= 0 || ms > 60000 {
				t.Errorf("PTTL = %s, want (0, 60000]", pttl)
			}
			// dst is appended to.
			v, err := tr.Get(context.Background(), []byte("k"), []byte("prefix:"))
			if err != nil || string(v) != "prefix:"+tc.value {
				t.Errorf("Get with dst: %d bytes, %v", len(v), err)
			}
		})
	}
}

func TestTier_TTLExpires(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	tr := newTier(t, ModeStandalone, []string{r.Addr}, nil, Deps{})
	setSync(t, tr, "short", "v", 20*time.Millisecond, Index{})
	// Redis expires the key by itself; wait for it rather than sleeping a
	// guessed duration.
	waitFor(t, "expiry", func() bool {
		_, err := get(t, tr, "short")
		return errors.Is(err, ErrMiss)
	})
	if tr.Set([]byte("k"), []byte("v"), 0, Index{}) {
		t.Error("Set with ttl 0 was queued")
	}
}

func TestTier_SetDropsWhenQueueFull(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	tr := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) {
		c.WriteQueue, c.Writers, c.WriteBatch = 4, 1, 1
		c.ReadTimeout, c.WriteTimeout = 5*time.Second, 5*time.Second
	}, Deps{})
	// A frozen Redis holds the one writer in its pipeline: the queue fills.
	r.Stop()
	defer r.Cont()
	accepted := 0
	const n = 50
	for i := range n {
		if tr.Set([]byte("k"+strconv.Itoa(i)), []byte("v"), time.Minute, Index{}) {
			accepted++
		}
	}
	st := tr.Stats()
	// 4 queued plus at most 1 taken by the writer.
	if accepted < 4 || accepted > 5 {
		t.Errorf("accepted %d of %d writes, want 4 or 5 (queue 4 + 1 in flight)", accepted, n)
	}
	if st.DroppedFull != uint64(n-accepted) {
		t.Errorf("DroppedFull = %d, want %d", st.DroppedFull, n-accepted)
	}
}

func TestTier_BreakerOpensWhenRedisDies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault func(r *redistest.Server)
		heal  func(r *redistest.Server)
	}{
		{"killed", (*redistest.Server).Kill, (*redistest.Server).Restart},
		// A frozen Redis accepts nothing and answers nothing: every call
		// ends in the (short) read timeout.
		{"frozen", (*redistest.Server).Stop, (*redistest.Server).Cont},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := redistest.Start(t)
			tr := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) {
				c.BreakerFailures = 3
				c.BreakerCooldown, c.BreakerMaxCooldown = 10*time.Millisecond, 20*time.Millisecond
				c.DialTimeout, c.ReadTimeout, c.WriteTimeout = 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
			}, Deps{})
			setSync(t, tr, "k", "v", time.Minute, Index{})
			tc.fault(r)
			healed := false
			defer func() {
				if !healed {
					tc.heal(r)
				}
			}()
			failures := 0
			for tr.State() != StateOpen {
				if _, err := get(t, tr, "k"); errors.Is(err, ErrUnavailable) {
					failures++
				}
				if failures > 3 {
					t.Fatalf("breaker still %v after %d failed calls (threshold 3)", tr.State(), failures)
				}
			}
			// Open: no call reaches Redis, every Get fails at once.
			before := tr.Stats()
			for range 1000 {
				if _, err := get(t, tr, "k"); !errors.Is(err, ErrUnavailable) {
					t.Fatalf("Get with breaker open: err = %v, want ErrUnavailable", err)
				}
				if tr.Set([]byte("k"), []byte("v"), time.Minute, Index{}) {
					t.Fatal("Set with breaker open was queued")
				}
			}
			after := tr.Stats()
			if after.Commands != before.Commands {
				t.Errorf("%d commands reached Redis while the breaker was open", after.Commands-before.Commands)
			}
			if after.Rejected-before.Rejected != 1000 {
				t.Errorf("Rejected grew by %d, want 1000", after.Rejected-before.Rejected)
			}

			// Healed: the prober half-opens the breaker by itself, and the
			// first successful call closes it.
			tc.heal(r)
			healed = true
			waitFor(t, "breaker to leave open", func() bool { return tr.State() != StateOpen })
			waitFor(t, "a successful call", func() bool {
				_, err := get(t, tr, "k")
				return err == nil || errors.Is(err, ErrMiss)
			})
			if s := tr.State(); s != StateClosed {
				t.Errorf("State after a successful call = %v, want closed", s)
			}
			if tr.Stats().ProbeFailures == 0 && tc.name == "killed" {
				t.Log("note: Redis came back before the first probe")
			}
		})
	}
}

func TestTier_StartsWithRedisDown(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	r.Kill()
	tr := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) {
		c.BreakerCooldown, c.BreakerMaxCooldown = 10*time.Millisecond, 20*time.Millisecond
		c.DialTimeout = 100 * time.Millisecond
	}, Deps{})
	if s := tr.State(); s != StateOpen {
		t.Fatalf("State with Redis down at start = %v, want open", s)
	}
	if _, err := get(t, tr, "k"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get = %v, want ErrUnavailable", err)
	}
	r.Restart()
	waitFor(t, "breaker to leave open", func() bool { return tr.State() != StateOpen })
	setSync(t, tr, "k", "v", time.Minute, Index{})
	if v, err := get(t, tr, "k"); err != nil || v != "v" {
		t.Fatalf("Get = %q, %v; want \"v\"", v, err)
	}
}

func TestTier_Purge(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	testPurge(t, ModeStandalone, []string{r.Addr})
}

// testPurge checks every purge form, hard and soft, on a fresh key space.
func testPurge(t *testing.T, mode string, addrs []string) {
	type entry struct {
		key  string
		tags string
		host string
		path string
	}
	entries := []entry{
		{key: "a.com/users/1", tags: "user-1 users", host: "a.com", path: "/users/1"},
		{key: "a.com/users/1#gzip", tags: "user-1 users", host: "a.com", path: "/users/1"},
		{key: "a.com/users/2", tags: "user-2 users", host: "a.com", path: "/users/2"},
		{key: "a.com/users/10", tags: "user-10 users", host: "a.com", path: "/users/10"},
		{key: "a.com/items/*", tags: "items", host: "a.com", path: "/items/*"},
		{key: "a.com/items/x", tags: "items", host: "a.com", path: "/items/x"},
		{key: "b.com/users/1", tags: "user-1", host: "b.com", path: "/users/1"},
	}
	tests := []struct {
		name string
		inv  Invalidation
		gone []string // keys that must be purged; the others must stay
		n    int
	}{
		{"url", Invalidation{Kind: KindURL, Host: "a.com", Path: "/users/1"},
			[]string{"a.com/users/1", "a.com/users/1#gzip"}, 2},
		{"url_glob_chars", Invalidation{Kind: KindURL, Host: "a.com", Path: "/items/*"},
			[]string{"a.com/items/*"}, 1},
		{"prefix", Invalidation{Kind: KindPrefix, Host: "a.com", Path: "/users/1"},
			[]string{"a.com/users/1", "a.com/users/1#gzip", "a.com/users/10"}, 3},
		{"prefix_host", Invalidation{Kind: KindPrefix, Host: "b.com", Path: "/"},
			[]string{"b.com/users/1"}, 1},
		{"tag", Invalidation{Kind: KindTag, Tags: []string{"user-1"}},
			[]string{"a.com/users/1", "a.com/users/1#gzip", "b.com/users/1"}, 3},
		{"tags", Invalidation{Kind: KindTag, Tags: []string{"user-2", "items"}},
			[]string{"a.com/users/2", "a.com/items/*", "a.com/items/x"}, 3},
		{"all", Invalidation{Kind: KindAll},
			[]string{"a.com/users/1", "a.com/users/1#gzip", "a.com/users/2", "a.com/users/10", "a.com/items/*", "a.com/items/x", "b.com/users/1"}, 0},
	}
	for _, tc := range tests {
		for _, soft := range []bool{false, true} {
			name := tc.name
			if soft {
				name += "_soft"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				tr := newTier(t, mode, addrs, func(c *Config) { c.KeyPrefix = "purge-" + name + ":" }, Deps{})
				for _, e := range entries {
					setSync(t, tr, e.key, "v:"+e.key, time.Minute,
						Index{Tags: []byte(e.tags), Host: []byte(e.host), Path: []byte(e.path)})
				}
				inv := tc.inv
				inv.Soft = soft
				n, err := tr.Purge(context.Background(), inv)
				if err != nil {
					t.Fatalf("Purge(%+v): %v", inv, err)
				}
				if n != tc.n {
					t.Errorf("Purge(%+v) = %d, want %d", inv, n, tc.n)
				}
				gone := map[string]bool{}
				for _, k := range tc.gone {
					gone[k] = true
				}
				for _, e := range entries {
					v, err := get(t, tr, e.key)
					switch {
					case !gone[e.key]:
						if err != nil || v != "v:"+e.key {
							t.Errorf("Get(%q) after purge = %q, %v; want it kept", e.key, v, err)
						}
					case soft:
						if !errors.Is(err, ErrInvalidated) || v != "v:"+e.key {
							t.Errorf("Get(%q) after soft purge = %q, %v; want the value with ErrInvalidated", e.key, v, err)
						}
					default:
						if !errors.Is(err, ErrMiss) {
							t.Errorf("Get(%q) after purge = %q, %v; want ErrMiss", e.key, v, err)
						}
					}
				}
				// New writes after the purge are fresh again.
				setSync(t, tr, entries[0].key, "new", time.Minute, Index{Tags: []byte(entries[0].tags)})
				if v, err := get(t, tr, entries[0].key); err != nil || v != "new" {
					t.Errorf("Get after rewrite = %q, %v; want \"new\"", v, err)
				}
				if st := tr.Stats(); st.Published != 1 {
					t.Errorf("Published = %d, want 1", st.Published)
				}
			})
		}
	}
}

func TestTier_PurgeErrors(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	tr := newTier(t, ModeStandalone, []string{r.Addr}, nil, Deps{})
	for _, inv := range []Invalidation{
		{Kind: KindURL, Path: "/x"},
		{Kind: KindPrefix, Host: "h", Path: "/\x00"},
		{Kind: KindTag},
		{Kind: 99},
	} {
		if _, err := tr.Purge(context.Background(), inv); err == nil {
			t.Errorf("Purge(%+v) succeeded, want an error", inv)
		}
	}
}

// collector records what a subscriber delivers.
type collector struct {
	invs    chan Invalidation
	resyncs chan Resync
}

func newCollector() *collector {
	return &collector{invs: make(chan Invalidation, 100), resyncs: make(chan Resync, 100)}
}

func (c *collector) deps(d Deps) Deps {
	d.OnInvalidate = func(inv Invalidation) { c.invs <- inv }
	d.OnResync = func(r Resync) { c.resyncs <- r }
	return d
}

func (c *collector) next(tb testing.TB) Invalidation {
	tb.Helper()
	select {
	case inv := <-c.invs:
		return inv
	case <-time.After(waitTimeout):
		tb.Fatal("no invalidation delivered")
		return Invalidation{}
	}
}

func (c *collector) nextResync(tb testing.TB) Resync {
	tb.Helper()
	select {
	case r := <-c.resyncs:
		return r
	case <-time.After(waitTimeout):
		tb.Fatal("OnResync not called")
		return Resync{}
	}
}

func TestTier_PubSub(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	testPubSub(t, ModeStandalone, []string{r.Addr})
}

// testPubSub checks delivery between two tiers; mutate (optional) adjusts
// both configurations.
func testPubSub(t *testing.T, mode string, addrs []string, mutate ...func(*Config)) {
	ca, cb := newCollector(), newCollector()
	conf := func(id string) func(*Config) {
		return func(c *Config) {
			c.NodeID = id
			for _, m := range mutate {
				m(c)
			}
		}
	}
	a := newTier(t, mode, addrs, conf("a"), ca.deps(Deps{Logger: testLogger(t)}))
	b := newTier(t, mode, addrs, conf("b"), cb.deps(Deps{Logger: testLogger(t)}))
	waitFor(t, "subscribers", func() bool { return a.Subscribed() && b.Subscribed() })

	setSync(t, a, "k", "v", time.Minute, Index{Tags: []byte("t1")})
	if v, err := get(t, b, "k"); err != nil || v != "v" {
		t.Fatalf("B: Get of A's write = %q, %v", v, err)
	}
	invs := []Invalidation{
		{Kind: KindTag, Tags: []string{"t1"}},
		{Kind: KindURL, Host: "h", Path: "/p", Soft: true},
		{Kind: KindPrefix, Host: "h", Path: "/api/"},
		{Kind: KindAll},
	}
	for _, inv := range invs {
		if _, err := a.Purge(context.Background(), inv); err != nil {
			t.Fatalf("A: Purge(%+v): %v", inv, err)
		}
		for _, c := range []*collector{ca, cb} {
			got := c.next(t)
			if got.Kind != inv.Kind || got.Soft != inv.Soft || got.Host != inv.Host || got.Path != inv.Path || got.Origin != "a" {
				t.Errorf("delivered %+v, want %+v from a", got, inv)
			}
		}
	}
	// B learned the new generation from the message: A's old entry is gone
	// for B as well, without B reading the generation itself.
	if _, err := get(t, b, "k"); !errors.Is(err, ErrMiss) {
		t.Errorf("B: Get after purge-all = %v, want ErrMiss", err)
	}
	if a.gen.Load() != b.gen.Load() {
		t.Errorf("generations differ: a %d, b %d", a.gen.Load(), b.gen.Load())
	}
	select {
	case r := <-cb.resyncs:
		t.Errorf("unexpected resync %+v", r)
	default:
	}
}

// gate is a dialer that can refuse new connections, to cut one node off
// Redis while the others keep working.
type gate struct {
	closed atomic.Bool
	d      net.Dialer
}

func (g *gate) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if g.closed.Load() {
		return nil, errors.New("gate closed")
	}
	return g.d.DialContext(ctx, network, addr)
}

func TestTier_ResyncAfterPartition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		purge      bool // purge while B is cut off
		always     bool // Config.ResyncAlways
		wantResync ResyncReason
	}{
		{name: "purge_missed", purge: true, wantResync: ResyncEpoch},
		{name: "nothing_missed"},
		{name: "always", always: true, wantResync: ResyncReconnect},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := redistest.Start(t)
			cb := newCollector()
			g := &gate{}
			a := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) { c.NodeID = "a" }, Deps{})
			b := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) {
				c.NodeID = "b"
				c.ResyncAlways = tc.always
			}, cb.deps(Deps{Dialer: g.dial}))
			waitFor(t, "B subscribed", b.Subscribed)

			// Cut B off: its subscriber connection is killed and cannot
			// come back until the gate opens.
			g.closed.Store(true)
			if n := r.KillSubscribers("flowcache-b"); n != 1 {
				t.Fatalf("killed %d subscriber connections of B, want 1", n)
			}
			waitFor(t, "B to notice", func() bool { return !b.Subscribed() })
			if tc.purge {
				if _, err := a.Purge(context.Background(), Invalidation{Kind: KindTag, Tags: []string{"x"}}); err != nil {
					t.Fatalf("A: Purge: %v", err)
				}
			}
			g.closed.Store(false)
			waitFor(t, "B resubscribed", b.Subscribed)

			if tc.wantResync == 0 {
				if n := b.Stats().Resyncs; n != 0 {
					t.Errorf("Resyncs = %d after a reconnect with nothing missed, want 0", n)
				}
				// Nothing was delivered either.
				select {
				case inv := <-cb.invs:
					t.Errorf("unexpected delivery %+v", inv)
				default:
				}
				return
			}
			got := cb.nextResync(t)
			if got.Reason != tc.wantResync {
				t.Errorf("Resync.Reason = %v, want %v", got.Reason, tc.wantResync)
			}
			if tc.purge && got.Missed != 1 {
				t.Errorf("Resync.Missed = %d, want 1", got.Missed)
			}
			if d := b.Stats().Disconnects; d == 0 {
				t.Error("Disconnects = 0, want the loss counted")
			}
		})
	}
}

func TestTier_ResyncAfterRedisRestart(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	cb := newCollector()
	b := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) {
		c.BreakerCooldown, c.BreakerMaxCooldown = 10*time.Millisecond, 20*time.Millisecond
	}, cb.deps(Deps{}))
	a := newTier(t, ModeStandalone, []string{r.Addr}, nil, Deps{})
	waitFor(t, "B subscribed", b.Subscribed)
	if _, err := a.Purge(context.Background(), Invalidation{Kind: KindAll}); err != nil {
		t.Fatalf("Purge all: %v", err)
	}
	cb.next(t)
	if g := b.gen.Load(); g != 1 {
		t.Fatalf("B gen = %d after purge-all, want 1", g)
	}
	// Redis restarts empty: every purge it knew is forgotten, the
	// generation starts again from 0.
	r.Restart()
	if got := cb.nextResync(t); got.Reason != ResyncDataLost {
		t.Errorf("Resync.Reason = %v, want data_lost", got.Reason)
	}
	if g := b.gen.Load(); g != 0 {
		t.Errorf("B gen = %d after Redis lost its data, want 0 (as Redis)", g)
	}
}

func TestEpochTracker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		start   uint64
		saw     []uint64
		wantLow uint64
	}{
		{"in_order", 5, []uint64{6, 7, 8}, 8},
		{"out_of_order", 5, []uint64{7, 6, 8}, 8},
		{"gap", 5, []uint64{6, 8, 9}, 6},
		{"old_and_dup", 5, []uint64{3, 5, 6, 6}, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var tr epochTracker
			tr.reset(meta{epoch: tc.start, id: "x"})
			for _, e := range tc.saw {
				tr.saw(e)
			}
			if tr.low != tc.wantLow {
				t.Errorf("low after %v = %d, want %d", tc.saw, tr.low, tc.wantLow)
			}
		})
	}
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"default", func(*Config) {}, true},
		{"no_addrs", func(c *Config) { c.Addrs = nil }, false},
		{"bad_addr", func(c *Config) { c.Addrs = []string{"nohost"} }, false},
		{"bad_mode", func(c *Config) { c.Mode = "ring" }, false},
		{"sentinel_no_master", func(c *Config) { c.Mode = ModeSentinel }, false},
		{"brace_prefix", func(c *Config) { c.KeyPrefix = "{x}" }, false},
		{"bad_codec", func(c *Config) { c.Compression = "lz4" }, false},
		{"negative", func(c *Config) { c.WriteQueue = -1 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Config{Addrs: []string{"127.0.0.1:6379"}}
			tc.mutate(&c)
			err := c.withDefaults().Validate()
			if (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestTier_Delete(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	tr := newTier(t, ModeStandalone, []string{r.Addr}, nil, Deps{})
	setSync(t, tr, "a", "1", time.Minute, Index{})
	setSync(t, tr, "b", "2", time.Minute, Index{})
	n, err := tr.Delete(context.Background(), []byte("a"), []byte("b"), []byte("missing"))
	if err != nil || n != 2 {
		t.Fatalf("Delete(a, b, missing) = %d, %v; want 2, nil", n, err)
	}
	for _, k := range []string{"a", "b"} {
		if _, err := get(t, tr, k); !errors.Is(err, ErrMiss) {
			t.Errorf("Get(%q) after Delete = %v, want ErrMiss", k, err)
		}
	}
}

// TestTier_ResyncOnLostMessage moves the epoch without a message, as when a
// message is lost on a connection that stayed up: the periodic poll must
// notice within two SyncIntervals.
func TestTier_ResyncOnLostMessage(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	cb := newCollector()
	b := newTier(t, ModeStandalone, []string{r.Addr}, nil, cb.deps(Deps{}))
	waitFor(t, "B subscribed", b.Subscribed)
	if _, err := r.Do("INCR", "fc:{meta}:epoch"); err != nil {
		t.Fatalf("INCR epoch: %v", err)
	}
	if got := cb.nextResync(t); got.Reason != ResyncEpoch || got.Missed != 1 {
		t.Errorf("Resync = %+v, want epoch, missed 1", got)
	}
	if b.Stats().Disconnects != 0 {
		t.Error("the subscriber reconnected; the poll alone should have noticed")
	}
}

// TestTier_WriteAfterPurgeDropped: a value fetched before a purge (Seq read
// before the fetch) must not land in L2 after it.
func TestTier_WriteAfterPurgeDropped(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	ca := newCollector()
	a := newTier(t, ModeStandalone, []string{r.Addr}, nil, Deps{})
	b := newTier(t, ModeStandalone, []string{r.Addr}, nil, ca.deps(Deps{}))
	waitFor(t, "B subscribed", b.Subscribed)
	seqA, seqB := a.InvalidationSeq(), b.InvalidationSeq()
	// ... upstream fetches happen here, then a purge on A ...
	if _, err := a.Purge(context.Background(), Invalidation{Kind: KindTag, Tags: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	ca.next(t) // B received it
	for _, tc := range []struct {
		name string
		tr   *Tier
		seq  uint64
	}{{"local_purge", a, seqA}, {"remote_purge", b, seqB}} {
		before := tc.tr.Stats().DroppedStale
		if !tc.tr.Set([]byte("k-"+tc.name), []byte("old"), time.Minute, Index{Seq: tc.seq}) {
			t.Fatalf("%s: Set not queued", tc.name)
		}
		waitFor(t, tc.name+" drop", func() bool { return tc.tr.Stats().DroppedStale == before+1 })
		if _, err := get(t, tc.tr, "k-"+tc.name); !errors.Is(err, ErrMiss) {
			t.Errorf("%s: Get = %v, want ErrMiss (write dropped)", tc.name, err)
		}
	}
	// A write fetched after the purge goes through.
	setSync(t, b, "k", "new", time.Minute, Index{Seq: b.InvalidationSeq()})
}

// TestTier_SubscriberNoticesFrozenRedis: a connection that stays open but
// answers nothing (Redis frozen, or a partition) is declared lost after
// three unanswered pings, and the subscriber comes back by itself.
func TestTier_SubscriberNoticesFrozenRedis(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	cb := newCollector()
	b := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) {
		c.ReadTimeout, c.WriteTimeout = 20*time.Millisecond, 20*time.Millisecond
	}, cb.deps(Deps{}))
	waitFor(t, "B subscribed", b.Subscribed)
	r.Stop()
	waitFor(t, "B to notice", func() bool { return !b.Subscribed() })
	r.Cont()
	waitFor(t, "B resubscribed", b.Subscribed)
	// Nothing could be purged while Redis was frozen: no resync.
	if n := b.Stats().Resyncs; n != 0 {
		t.Errorf("Resyncs = %d, want 0", n)
	}
}

func TestTier_Auth(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t, "--requirepass", "s3cret")
	tests := []struct {
		name     string
		password string
		ok       bool
	}{
		{"right_password", "s3cret", true},
		{"wrong_password", "nope", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) { c.Password = tc.password }, Deps{})
			if !tc.ok {
				// A refused password looks like a Redis that is not there:
				// the breaker stays open, nothing reaches the request path.
				if s := tr.State(); s != StateOpen {
					t.Errorf("State with a wrong password = %v, want open", s)
				}
				if _, err := get(t, tr, "k"); !errors.Is(err, ErrUnavailable) {
					t.Errorf("Get = %v, want ErrUnavailable", err)
				}
				return
			}
			setSync(t, tr, "k", "v", time.Minute, Index{})
			if v, err := get(t, tr, "k"); err != nil || v != "v" {
				t.Errorf("Get = %q, %v; want \"v\"", v, err)
			}
		})
	}
}

// TestTier_GetEach reads several keys in one pipeline: values in order,
// misses reported per key, fn stopping early, soft-purged values flagged,
// and an unavailable Redis reported once.
func TestTier_GetEach(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	tr := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) {
		c.KeyPrefix = "geteach:"
		c.BreakerFailures = 1
		c.BreakerCooldown, c.BreakerMaxCooldown = time.Hour, time.Hour
	}, Deps{})
	big := compressible(64 << 10)
	setSync(t, tr, "a", "va", time.Minute, Index{})
	setSync(t, tr, "b", big, time.Minute, Index{})
	setSync(t, tr, "c", "vc", time.Minute, Index{})

	type got struct {
		i   int
		v   string
		err error
	}
	each := func(keys []string, stopAt int) []got {
		t.Helper()
		bk := make([][]byte, len(keys))
		for i, k := range keys {
			bk[i] = []byte(k)
		}
		var out []got
		before := tr.Stats().Commands
		tr.GetEach(context.Background(), bk, nil, func(i int, v []byte, err error) bool {
			out = append(out, got{i, string(v), err})
			return i != stopAt
		})
		if n := tr.Stats().Commands - before; tr.State() == StateClosed && n != uint64(len(keys)) {
			t.Errorf("GetEach(%q) sent %d commands, want %d", keys, n, len(keys))
		}
		return out
	}
	tests := []struct {
		name   string
		keys   []string
		stopAt int
		want   []got
	}{
		{"all", []string{"a", "b", "c"}, -1, []got{{0, "va", nil}, {1, big, nil}, {2, "vc", nil}}},
		{"miss_in_middle", []string{"a", "x", "c"}, -1, []got{{0, "va", nil}, {1, "", ErrMiss}, {2, "vc", nil}}},
		{"stop", []string{"a", "b", "c"}, 0, []got{{0, "va", nil}}},
		{"none", nil, -1, nil},
	}
	for _, tc := range tests {
		out := each(tc.keys, tc.stopAt)
		if len(out) != len(tc.want) {
			t.Fatalf("%s: %d calls, want %d", tc.name, len(out), len(tc.want))
		}
		for j := range out {
			if out[j].i != tc.want[j].i || out[j].v != tc.want[j].v || !errors.Is(out[j].err, tc.want[j].err) || (tc.want[j].err == nil && out[j].err != nil) {
				t.Errorf("%s: call %d = (%d, %d bytes, %v), want (%d, %d bytes, %v)", tc.name, j,
					out[j].i, len(out[j].v), out[j].err, tc.want[j].i, len(tc.want[j].v), tc.want[j].err)
			}
		}
	}

	// Soft purge of everything: values come with ErrInvalidated.
	if _, err := tr.Purge(context.Background(), Invalidation{Kind: KindAll, Soft: true}); err != nil {
		t.Fatalf("soft purge: %v", err)
	}
	for _, g := range each([]string{"a", "c"}, -1) {
		if !errors.Is(g.err, ErrInvalidated) || g.v == "" {
			t.Errorf("after soft purge: call %d = (%q, %v), want the value with ErrInvalidated", g.i, g.v, g.err)
		}
	}

	// Redis gone: one call with ErrUnavailable, then (breaker open) the same
	// without touching the network.
	r.Kill()
	for range 2 {
		out := each([]string{"a", "b"}, -1)
		if len(out) != 1 || out[0].i != 0 || !errors.Is(out[0].err, ErrUnavailable) {
			t.Fatalf("Redis down: calls %+v, want one with ErrUnavailable", out)
		}
	}
}

// TestTier_IndexExpiry: records written together share their host and tag
// index sets; each set holds every record and lives as long as its
// longest-lived member, and a later write trims members that expired.
func TestTier_IndexExpiry(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	tr := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) { c.KeyPrefix = "ixexp:" }, Deps{})
	ix := Index{Tags: []byte("t1 t2"), Host: []byte("h.test"), Path: []byte("/p")}
	before := tr.Stats().Written
	for i, ttl := range []time.Duration{time.Minute, 3 * time.Minute, 2 * time.Minute, 20 * time.Millisecond} {
		if !tr.Set([]byte("k"+strconv.Itoa(i)), []byte("v"), ttl, ix) {
			t.Fatalf("Set %d dropped", i)
		}
	}
	waitFor(t, "the writes", func() bool { return tr.Stats().Written >= before+4 })
	for _, key := range []string{"ixexp:h:{}h.test", "ixexp:t:{}t1", "ixexp:t:{}t2"} {
		pttl, err := r.Do("PTTL", key)
		if err != nil {
			t.Fatal(err)
		}
		if ms, _ := strconv.Atoi(pttl); ms <= 2*60000 || ms > 3*60000 {
			t.Errorf("PTTL %s = %s, want the longest member's, (120000, 180000]", key, pttl)
		}
	}
	// k3 expires; the next write to the sets trims it.
	waitFor(t, "k3 to expire and be trimmed", func() bool {
		setSync(t, tr, "k4", "v", time.Minute, ix)
		n, err := r.Do("ZCARD", "ixexp:t:{}t1")
		return err == nil && n == "4"
	})
	if n, err := r.Do("ZCARD", "ixexp:h:{}h.test"); err != nil || n != "4" {
		t.Errorf("host index ZCARD = %s, %v; want 4 (k0-k2, k4)", n, err)
	}
}

// TestTier_Touch: Touch extends a key's life without sending its value, and
// leaves a missing key missing.
func TestTier_Touch(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	tr := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) { c.KeyPrefix = "touch:" }, Deps{})
	setSync(t, tr, "k", "value", 10*time.Second, Index{})
	in := tr.Stats().BytesIn
	before := tr.Stats().Written
	if !tr.Touch([]byte("k"), time.Hour, Index{}) || !tr.Touch([]byte("gone"), time.Hour, Index{}) {
		t.Fatal("Touch dropped")
	}
	waitFor(t, "touches", func() bool { return tr.Stats().Written >= before+2 })
	pttl, err := r.Do("PTTL", "touch:e:{}0:k")
	if err != nil {
		t.Fatalf("PTTL: %v", err)
	}
	if ms, _ := strconv.Atoi(pttl); ms <= 10000 || ms > 3600000 {
		t.Errorf("PTTL after Touch = %s ms, want (10000, 3600000]", pttl)
	}
	if got, err := get(t, tr, "k"); err != nil || got != "value" {
		t.Errorf("Get after Touch = %q, %v; want the value", got, err)
	}
	if _, err := get(t, tr, "gone"); !errors.Is(err, ErrMiss) {
		t.Errorf("Get of a touched missing key: err = %v, want ErrMiss", err)
	}
	if st := tr.Stats(); st.BytesIn != in {
		t.Errorf("Touch sent %d value bytes", st.BytesIn-in)
	}
}

// TestTier_Notify: the invalidation after an unsafe request reaches every
// node without moving the purge epoch, so that a node that misses one is
// not made to flush its L1; an epoch-0 message wider than one URL is
// dropped.
func TestTier_Notify(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	ca, cb := newCollector(), newCollector()
	a := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) { c.NodeID = "a" }, ca.deps(Deps{Logger: testLogger(t)}))
	b := newTier(t, ModeStandalone, []string{r.Addr}, func(c *Config) { c.NodeID = "b" }, cb.deps(Deps{Logger: testLogger(t)}))
	waitFor(t, "subscribers", func() bool { return a.Subscribed() && b.Subscribed() })
	epoch := func() string {
		t.Helper()
		v, err := r.Do("GET", "fc:{meta}:epoch")
		if err != nil {
			t.Fatalf("GET epoch: %v", err)
		}
		return v
	}
	before := epoch()
	if err := a.Notify(context.Background(), &Invalidation{Kind: KindAll}); err == nil {
		t.Error("Notify(all) = nil, want an error: only one URL may skip the epoch")
	}
	// A forged untracked purge-all, then a real notification: the first
	// must be dropped, the second delivered.
	if _, err := r.Do("PUBLISH", "fc:{meta}:inval", `0 {"k":4,"o":"x"}`); err != nil {
		t.Fatalf("PUBLISH: %v", err)
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
	if after := epoch(); after != before {
		t.Errorf("epoch moved from %q to %q", before, after)
	}
	select {
	case got := <-cb.resyncs:
		t.Errorf("unexpected resync %+v", got)
	default:
	}
}
