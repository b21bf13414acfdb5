package gateway_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
	"github.com/flowcache/flowcache/plugins"
)

// syncCluster is one Redis (standalone or cluster) and one origin shared by
// the gateways a test starts with node.
type syncCluster struct {
	mode   string
	addrs  []string
	origin string
	module string // tagged v0000000, the [policies.tagged] module
}

func newSyncCluster(t *testing.T, mode string, addrs []string) *syncCluster {
	t.Helper()
	return &syncCluster{
		mode:   mode,
		addrs:  addrs,
		origin: echoOrigin(t).URL,
		module: writeModule(t, t.TempDir(), "tagged.wasm", tagged(t, tagName(0))),
	}
}

// node starts a gateway with its own policy store on its own data
// directory, sharing the cluster's Redis, with route "api" using policy
// "tagged". The store's OnChange calls the gateway's PolicyChanged, as cmd
// wires it. edit, if not nil, changes the config first.
func (c *syncCluster) node(t *testing.T, edit func(*gateway.Config)) *policyGateway {
	t.Helper()
	return c.nodeWith(t, gateway.Options{}, edit)
}

// nodeWith is node with opts (Store is set by nodeWith).
func (c *syncCluster) nodeWith(t *testing.T, opts gateway.Options, edit func(*gateway.Config)) *policyGateway {
	t.Helper()
	return c.nodeIn(t, opts, "", edit)
}

// nodeIn is nodeWith with the compilation cache in cacheDir ("": a
// temporary one).
func (c *syncCluster) nodeIn(t *testing.T, opts gateway.Options, cacheDir string, edit func(*gateway.Config)) *policyGateway {
	t.Helper()
	cfg := policyConfig(c.origin, c.module)
	cfg.Redis.Mode = c.mode
	cfg.Redis.Addrs = c.addrs
	cfg.Redis.KeyPrefix = "psync:"
	if edit != nil {
		edit(cfg)
	}
	rt, err := plugins.NewRuntime(plugins.Options{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	var gw atomic.Pointer[gateway.Gateway] // set once New returns
	store, err := plugins.OpenStore(rt, plugins.StoreOptions{
		Dir:      filepath.Join(t.TempDir(), "policies"),
		Rollout:  cfg.Rollout,
		Logger:   opts.Logger,
		OnChange: func(ev plugins.Event) { gw.Load().PolicyChanged(ev) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // runs after the gateway's Shutdown (registered later)
		store.Close()
		if err := rt.Close(context.Background()); err != nil {
			t.Errorf("Runtime.Close: %v", err)
		}
	})
	ch, err := store.Prepare(context.Background(), cfg.Policies)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if err := ch.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	opts.Store = store
	g := gatewaytest.StartGateway(t, cfg, opts)
	gw.Store(g.Gateway)
	return &policyGateway{Gateway: g, store: store, rt: rt}
}

// served returns the Flowcache-Policy label and body of a GET through g.
func served(t *testing.T, g *policyGateway) (label, body string) {
	t.Helper()
	resp := g.Do(t, http.MethodGet, "/item/1")
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /item/1 = %d %s", resp.Status, resp.Body)
	}
	return resp.Get("Flowcache-Policy"), string(resp.Body)
}

// waitServes polls g until it serves with version id (tag is what that
// version puts in the key, echoed by the origin) and returns how long it
// took. The deadline (10s) is a failure bound, not a latency assertion.
func waitServes(t *testing.T, g *policyGateway, id, tag string) time.Duration {
	t.Helper()
	start := time.Now()
	want := "tagged@" + id[:12]
	gatewaytest.WaitFor(t, "a node serving "+want, func() bool {
		label, body := served(t, g)
		return label == want && body == tag
	})
	return time.Since(start)
}

// sameActivation checks that a and b run the same version under the same
// activation number, hence share the key namespace.
func sameActivation(t *testing.T, a, b *policyGateway) {
	t.Helper()
	ia, ib := a.info(t, "tagged"), b.info(t, "tagged")
	if ia.Active != ib.Active || ia.Activation != ib.Activation {
		t.Errorf("nodes run %s.%d and %s.%d, want one version and activation",
			ia.Active[:12], ia.Activation, ib.Active[:12], ib.Activation)
	}
}

func rollback(t *testing.T, g *policyGateway, version string) {
	t.Helper()
	body := []byte(nil)
	if version != "" {
		body = []byte(`{"version":"` + version + `"}`)
	}
	if status, resp := g.admin(t, http.MethodPost, "/policies/tagged/rollback", body); status != http.StatusOK {
		t.Fatalf("POST /policies/tagged/rollback = %d %s", status, resp)
	}
}

// TestPolicySync: two gateways on one Redis (standalone, then a 3-master
// cluster): an upload to A is served by B, and a rollback on A too; an
// upload to B reaches A; a node started afterwards serves the active
// version from its first request. The time B took is logged.
func TestPolicySync(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		start func(t *testing.T) (mode string, addrs []string)
	}{
		{"standalone", func(t *testing.T) (string, []string) {
			return "standalone", []string{gatewaytest.StartRedis(t).Addr}
		}},
		{"cluster", func(t *testing.T) (string, []string) {
			if testing.Short() {
				t.Skip("cluster: not in -short")
			}
			return "cluster", gatewaytest.StartRedisCluster(t, 3).Addrs
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mode, addrs := tt.start(t)
			c := newSyncCluster(t, mode, addrs)
			a, b := c.node(t, nil), c.node(t, nil)
			v0 := a.info(t, "tagged").Active
			waitServes(t, b, v0, tagName(0))

			v1 := a.put(t, "tagged", tagged(t, tagName(1)))
			t.Logf("upload on A served by B after %v", waitServes(t, b, v1.Version, tagName(1)))
			sameActivation(t, a, b)

			rollback(t, a, "")
			t.Logf("rollback on A served by B after %v", waitServes(t, b, v0, tagName(0)))
			sameActivation(t, a, b)

			v2 := b.put(t, "tagged", tagged(t, tagName(2)))
			t.Logf("upload on B served by A after %v", waitServes(t, a, v2.Version, tagName(2)))
			sameActivation(t, a, b)

			// Started after the upload: the active version from the start,
			// with nothing to wait for.
			late := c.node(t, nil)
			if label, body := served(t, late); label != "tagged@"+v2.Version[:12] || body != tagName(2) {
				t.Errorf("late node's first answer: policy %q body %q, want tagged@%s and %s", label, body, v2.Version[:12], tagName(2))
			}
			sameActivation(t, a, late)
		})
	}
}

// TestPolicySync_Reconnect: B's connections to Redis are closed (its Redis
// user disabled, so that it cannot reconnect) while A uploads twice: B keeps
// serving its version; once Redis lets B back in, B runs A's last upload.
func TestPolicySync_Reconnect(t *testing.T) {
	t.Parallel()
	r := gatewaytest.StartRedis(t)
	if _, err := r.Do("ACL", "SETUSER", "nodeb", "on", ">secret-b", "~*", "&*", "+@all"); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	c := newSyncCluster(t, "standalone", []string{r.Addr})
	a := c.node(t, nil)
	b := c.node(t, func(cfg *gateway.Config) {
		cfg.Redis.Username, cfg.Redis.Password = "nodeb", "secret-b"
	})
	v0 := a.info(t, "tagged").Active
	waitServes(t, b, v0, tagName(0))

	if _, err := r.Do("ACL", "SETUSER", "nodeb", "off"); err != nil {
		t.Fatalf("ACL SETUSER off: %v", err)
	}
	if _, err := r.Do("CLIENT", "KILL", "USER", "nodeb"); err != nil {
		t.Fatalf("CLIENT KILL USER: %v", err)
	}
	a.put(t, "tagged", tagged(t, tagName(1)))
	v2 := a.put(t, "tagged", tagged(t, tagName(2)))
	if label, _ := served(t, b); label != "tagged@"+v0[:12] {
		t.Errorf("B cut off from Redis serves %q, want its own version tagged@%s", label, v0[:12])
	}
	gatewaytest.WaitFor(t, "B's sync errors counted", func() bool {
		return b.Metric(t, "flowcache_policy_sync_errors_total") > 0
	})

	if _, err := r.Do("ACL", "SETUSER", "nodeb", "on"); err != nil {
		t.Fatalf("ACL SETUSER on: %v", err)
	}
	t.Logf("B serves A's upload %v after Redis let it back in", waitServes(t, b, v2.Version, tagName(2)))
	sameActivation(t, a, b)
}

// TestPolicySync_KilledSubscribers: every pub/sub connection is killed
// (CLIENT KILL TYPE pubsub) again and again while A uploads five versions,
// so that B misses some messages: B converges on A's last upload.
func TestPolicySync_KilledSubscribers(t *testing.T) {
	t.Parallel()
	r := gatewaytest.StartRedis(t)
	c := newSyncCluster(t, "standalone", []string{r.Addr})
	a, b := c.node(t, nil), c.node(t, nil)
	waitServes(t, b, a.info(t, "tagged").Active, tagName(0))
	resyncs := b.Metric(t, "flowcache_policy_sync_resyncs_total")

	var stop atomic.Bool
	var wg sync.WaitGroup
	kills := 0
	wg.Go(func() {
		for !stop.Load() {
			if _, err := r.Do("CLIENT", "KILL", "TYPE", "pubsub"); err != nil {
				t.Errorf("CLIENT KILL TYPE pubsub: %v", err)
				return
			}
			kills++
			time.Sleep(2 * time.Millisecond) // pacing, not an assertion
		}
	})
	var last putResult
	for i := 1; i <= 5; i++ {
		last = a.put(t, "tagged", tagged(t, tagName(i)))
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("B serves A's last upload %v after the kills stopped (%d CLIENT KILL)", waitServes(t, b, last.Version, tagName(5)), kills)
	sameActivation(t, a, b)
	if n := b.Metric(t, "flowcache_policy_sync_resyncs_total"); n <= resyncs {
		t.Errorf("flowcache_policy_sync_resyncs_total on B = %v, want > %v (a resync after each resubscription)", n, resyncs)
	}
}

// logBuffer collects log lines; it is safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count returns how many lines contain s.
func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Count(b.buf.Bytes(), []byte(s))
}

// TestPolicySync_RedisDown: Redis dies; the node still takes an upload and
// serves it; the failures are counted, and logged once. Redis comes back
// without its data: the node publishes its state again (the recovery is
// logged once), and a node started then serves that upload.
func TestPolicySync_RedisDown(t *testing.T) {
	t.Parallel()
	r := gatewaytest.StartRedis(t)
	c := newSyncCluster(t, "standalone", []string{r.Addr})
	logs := &logBuffer{}
	a := c.nodeWith(t, gateway.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))}, nil)

	r.Kill()
	v1 := a.put(t, "tagged", tagged(t, tagName(1)))
	if label, body := served(t, a); label != "tagged@"+v1.Version[:12] || body != tagName(1) {
		t.Errorf("A without Redis serves policy %q body %q after its upload, want tagged@%s and %s", label, body, v1.Version[:12], tagName(1))
	}
	// The failed publish of the upload, then a failed resync (within 5s).
	gatewaytest.WaitFor(t, "two sync errors", func() bool {
		return a.Metric(t, "flowcache_policy_sync_errors_total") >= 2
	})
	if n := logs.count("policy_sync_redis_unavailable"); n != 1 {
		t.Errorf("Redis down logged %d times, want once", n)
	}

	r.Restart() // empty data set
	start := time.Now()
	gatewaytest.WaitFor(t, "A's upload published again", func() bool {
		id, err := r.Do("HGET", "psync:policy:event:tagged", "id")
		return err == nil && id == v1.Version
	})
	t.Logf("A's upload published again %v after Redis restarted", time.Since(start))
	if n := logs.count("policy_sync_redis_recovered"); n != 1 {
		t.Errorf("Redis recovery logged %d times, want once", n)
	}
	late := c.node(t, nil)
	if label, body := served(t, late); label != "tagged@"+v1.Version[:12] || body != tagName(1) {
		t.Errorf("node started after Redis came back serves policy %q body %q, want tagged@%s and %s", label, body, v1.Version[:12], tagName(1))
	}
	sameActivation(t, a, late)
}
