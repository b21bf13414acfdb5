package gateway_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
	"github.com/flowcache/flowcache/internal/units"
)

// propagation bounds how long a purge issued on one node may take to be
// effective on another node's L1, scaled under the race detector. It is a
// liveness bound, not a speed target: the tests log the time it took
// (about a millisecond on loopback), and a shared, loaded machine must not
// make them fail (a 500ms bound once did).
const propagation = 2 * time.Second * l2TimeScale

// versionedOrigin answers every GET with max-age=60, an ETag, the
// Surrogate-Key "t-<first path segment>" and a body naming the path and how
// many times the origin served it; it counts requests per path and the
// conditional ones.
type versionedOrigin struct {
	*gatewaytest.Origin
	mu   sync.Mutex
	hits map[string]int
	cond map[string]int
}

func startVersionedOrigin(t *testing.T) *versionedOrigin {
	t.Helper()
	o := &versionedOrigin{hits: map[string]int{}, cond: map[string]int{}}
	o.Origin = gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		path := string(ctx.Path())
		o.mu.Lock()
		o.hits[path]++
		n := o.hits[path]
		if len(ctx.Request.Header.Peek("If-None-Match")) > 0 {
			o.cond[path]++
		}
		o.mu.Unlock()
		if !ctx.IsGet() && !ctx.IsHead() {
			ctx.SetBodyString("done\n")
			return
		}
		seg, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.Response.Header.Set("ETag", `"v1"`) // same content: revalidation answers 304
		ctx.Response.Header.Set("Surrogate-Key", "t-"+seg+" all-pages")
		if string(ctx.Request.Header.Peek("If-None-Match")) == `"v1"` {
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			return
		}
		fmt.Fprintf(ctx, "%s #%d\n", path, n)
	})
	return o
}

func (o *versionedOrigin) count(path string) (all, conditional int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path], o.cond[path]
}

// l2Config is gatewaytest.Config with the given Redis (mode, addresses) and
// key prefix.
func l2Config(upstream, mode, prefix string, addrs []string) *gateway.Config {
	cfg := gatewaytest.Config(upstream)
	cfg.Redis.Mode = mode
	cfg.Redis.Addrs = addrs
	cfg.Redis.KeyPrefix = prefix
	return cfg
}

// waitL2Writes waits until g has sent at least n writes to Redis.
func waitL2Writes(t *testing.T, g *gatewaytest.Gateway, n float64) {
	t.Helper()
	gatewaytest.WaitFor(t, "L2 writes", func() bool { return g.Metric(t, "flowcache_l2_writes_total") >= n })
}

// waitL2Ready waits until g's breaker is closed and its subscriber is
// connected (/readyz says "l2":"ok").
func waitL2Ready(t *testing.T, g *gatewaytest.Gateway) {
	t.Helper()
	gatewaytest.WaitFor(t, "L2 ready", func() bool {
		_, body := g.Admin(t, "/readyz", "")
		return strings.Contains(body, `"l2":"ok"`)
	})
}

// adminPost POSTs body to the admin path of g and returns status and body.
func adminPost(t *testing.T, g *gatewaytest.Gateway, path, body string) (int, string) {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + g.AdminAddr + path)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetHost("localhost")
	req.Header.SetContentType("application/json")
	req.SetBodyString(body)
	if err := fasthttp.DoTimeout(req, resp, 30*time.Second); err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return resp.StatusCode(), string(resp.Body())
}

// prime stores path on a (MISS), waits for its L2 write, and makes it an L2
// hit on b, then an L1 hit on b.
func prime(t *testing.T, a, b *gatewaytest.Gateway, path string) {
	t.Helper()
	// Writes queued by earlier steps must land first, or one of them
	// could pass for this path's below, and B ask Redis too early.
	gatewaytest.WaitFor(t, "earlier L2 writes", func() bool {
		done := 0.0
		for _, m := range []string{"writes", "write_errors", "writes_dropped_open", "writes_dropped_stale"} {
			done += a.Metric(t, "flowcache_l2_"+m+"_total")
		}
		return done >= a.Metric(t, "flowcache_l2_writes_queued_total")
	})
	writes := a.Metric(t, "flowcache_l2_writes_total")
	if r := a.Do(t, "GET", path); r.Get("X-Cache") != "MISS" {
		t.Fatalf("A GET %s: X-Cache %q, want MISS", path, r.Get("X-Cache"))
	}
	waitL2Writes(t, a, writes+1)
	r := b.Do(t, "GET", path)
	if r.Get("X-Cache") != "HIT-L2" || !strings.Contains(r.Get("Cache-Status"), "detail=l2") {
		t.Fatalf("B GET %s: X-Cache %q, Cache-Status %q; want HIT-L2, detail=l2", path, r.Get("X-Cache"), r.Get("Cache-Status"))
	}
	if r := b.Do(t, "GET", path); r.Get("X-Cache") != "HIT" {
		t.Fatalf("B GET %s again: X-Cache %q, want HIT (promoted to L1)", path, r.Get("X-Cache"))
	}
}

// TestL2_SharedHit: a miss on gateway A is an L2 hit on gateway B, against a
// standalone Redis and a 3-master Redis Cluster.
func TestL2_SharedHit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		start func(t *testing.T) (mode string, addrs []string)
	}{
		{"standalone", func(t *testing.T) (string, []string) {
			return "standalone", []string{gatewaytest.StartRedis(t).Addr}
		}},
		{"cluster", func(t *testing.T) (string, []string) {
			return "cluster", gatewaytest.StartRedisCluster(t, 3).Addrs
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mode, addrs := tt.start(t)
			o := startVersionedOrigin(t)
			a := gatewaytest.StartGateway(t, l2Config(o.URL, mode, "shared:", addrs), gateway.Options{})
			b := gatewaytest.StartGateway(t, l2Config(o.URL, mode, "shared:", addrs), gateway.Options{})
			waitL2Ready(t, a)
			waitL2Ready(t, b)
			for i := range 8 { // several keys: in a cluster they spread over the masters
				path := "/shared/" + strconv.Itoa(i)
				prime(t, a, b, path)
				if n, _ := o.count(path); n != 1 {
					t.Errorf("origin served %s %d times, want 1", path, n)
				}
			}
			if got := b.Metric(t, "flowcache_l2_hits_total"); got < 8 {
				t.Errorf("B flowcache_l2_hits_total = %v, want >= 8", got)
			}
		})
	}
}

// TestL2_PurgeForms: every purge form issued on A is effective on B's L1
// within 100ms: B's next GET reaches the origin (a fetch after a hard purge,
// a revalidation after a soft one).
func TestL2_PurgeForms(t *testing.T) {
	t.Parallel()
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		testPurgeForms(t, "standalone", []string{gatewaytest.StartRedis(t).Addr})
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		testPurgeForms(t, "cluster", gatewaytest.StartRedisCluster(t, 3).Addrs)
	})
}

func testPurgeForms(t *testing.T, mode string, addrs []string) {
	tests := []struct {
		name  string
		path  string
		soft  bool
		purge func(t *testing.T, a *gatewaytest.Gateway, path string)
	}{
		{name: "PURGE url", path: "/u/1", purge: func(t *testing.T, a *gatewaytest.Gateway, path string) {
			if r := a.Do(t, "PURGE", path); r.Status != 200 {
				t.Fatalf("PURGE = %d %s", r.Status, r.Body)
			}
		}},
		{name: "PURGE soft header", path: "/u/2", soft: true, purge: func(t *testing.T, a *gatewaytest.Gateway, path string) {
			if r := a.Do(t, "PURGE", path, "Fastly-Soft-Purge: 1"); r.Status != 200 {
				t.Fatalf("PURGE = %d %s", r.Status, r.Body)
			}
		}},
		{name: "PURGE soft param", path: "/u/3", soft: true, purge: func(t *testing.T, a *gatewaytest.Gateway, path string) {
			if r := a.Do(t, "PURGE", path+"?soft=1"); r.Status != 200 {
				t.Fatalf("PURGE = %d %s", r.Status, r.Body)
			}
		}},
		{name: "PURGE surrogate key", path: "/tk/1", purge: func(t *testing.T, a *gatewaytest.Gateway, _ string) {
			if r := a.Do(t, "PURGE", "/", "Surrogate-Key: nothing t-tk"); r.Status != 200 {
				t.Fatalf("PURGE = %d %s", r.Status, r.Body)
			}
		}},
		{name: "admin tags", path: "/ta/1", purge: adminPurge(`{"tags":["t-ta"]}`)},
		{name: "admin tags soft", path: "/ts/1", soft: true, purge: adminPurge(`{"tags":["t-ts"],"soft":true}`)},
		{name: "admin prefix", path: "/pa/x/1", purge: adminPurge(`{"prefix":"/pa/x/","host":"example.test"}`)},
		{name: "admin prefix soft", path: "/ps/x/1", soft: true, purge: adminPurge(`{"prefix":"/ps/x/","host":"Example.Test:8080","soft":true}`)},
		{name: "admin all", path: "/all/1", purge: adminPurge(`{"all":true}`)},
		{name: "admin all soft", path: "/alls/1", soft: true, purge: adminPurge(`{"all":true}`, "?soft=1")},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := startVersionedOrigin(t)
			prefix := "pf" + strconv.Itoa(i) + ":" // one key space per case: "all" purges only its own
			config := func() *gateway.Config {
				cfg := l2Config(o.URL, mode, prefix, addrs)
				// What is measured is propagation, not Redis latency: a
				// loaded machine must not time the purge's own Redis
				// calls out.
				cfg.Redis.ReadTimeout = units.Duration(time.Second * l2TimeScale)
				cfg.Redis.WriteTimeout = cfg.Redis.ReadTimeout
				return cfg
			}
			a := gatewaytest.StartGateway(t, config(), gateway.Options{})
			b := gatewaytest.StartGateway(t, config(), gateway.Options{})
			waitL2Ready(t, a)
			waitL2Ready(t, b)
			prime(t, a, b, tt.path)
			before, _ := o.count(tt.path)
			tt.purge(t, a, tt.path)
			var last *gatewaytest.Response
			took := gatewaytest.WaitForWithin(t, propagation, "B to stop answering "+tt.path+" from its L1 after the purge on A", func() bool {
				last = b.Do(t, "GET", tt.path)
				n, _ := o.count(tt.path)
				return n > before
			})
			t.Logf("effective on B after %v", took.Round(time.Microsecond))
			if _, cond := o.count(tt.path); tt.soft && cond == 0 {
				t.Errorf("soft purge: B fetched instead of revalidating")
			}
			if last.Status != 200 {
				t.Errorf("B GET after purge = %d", last.Status)
			}
		})
	}
}

func adminPurge(body string, query ...string) func(t *testing.T, a *gatewaytest.Gateway, path string) {
	return func(t *testing.T, a *gatewaytest.Gateway, _ string) {
		t.Helper()
		if status, resp := adminPost(t, a, "/purge"+strings.Join(query, ""), body); status != 200 {
			t.Fatalf("POST /purge %s = %d %s", body, status, resp)
		}
	}
}

// TestL2_SoftPurgedInL2: an entry soft-purged in L2 and absent from a
// node's L1 is revalidated by that node, not served as an L2 hit.
func TestL2_SoftPurgedInL2(t *testing.T) {
	t.Parallel()
	r := gatewaytest.StartRedis(t)
	o := startVersionedOrigin(t)
	a := gatewaytest.StartGateway(t, l2Config(o.URL, "standalone", "softl2:", []string{r.Addr}), gateway.Options{})
	b := gatewaytest.StartGateway(t, l2Config(o.URL, "standalone", "softl2:", []string{r.Addr}), gateway.Options{})
	waitL2Ready(t, a)
	waitL2Ready(t, b)
	const path = "/soft/1"
	a.Do(t, "GET", path)
	waitL2Writes(t, a, 1)
	if resp := a.Do(t, "PURGE", path, "Fastly-Soft-Purge: 1"); resp.Status != 200 {
		t.Fatalf("soft PURGE = %d %s", resp.Status, resp.Body)
	}
	resp := b.Do(t, "GET", path)
	if resp.Get("X-Cache") == "HIT-L2" {
		t.Errorf("B served a soft-purged entry as a fresh L2 hit")
	}
	if n, cond := o.count(path); n != 2 || cond != 1 {
		t.Errorf("origin: %d requests, %d conditional; want 2, 1 (B revalidated)", n, cond)
	}
}

// TestL2_PurgeAPIErrors: bad POST /purge bodies are refused with 400.
func TestL2_PurgeAPIErrors(t *testing.T) {
	t.Parallel()
	o := startVersionedOrigin(t)
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	for _, body := range []string{
		`{}`, `{"tags":["a"],"all":true}`, `{"prefix":"/a"}`, `{"prefix":"a","host":"h"}`,
		`{"tags":["a b"]}`, `{"unknown":1}`, `not json`,
	} {
		if status, resp := adminPost(t, g, "/purge", body); status != 400 {
			t.Errorf("POST /purge %s = %d %s, want 400", body, status, resp)
		}
	}
	if status, resp := adminPost(t, g, "/purge", `{"all":true}`); status != 200 {
		t.Errorf("POST /purge all without L2 = %d %s", status, resp)
	}
}

// TestL2_UnsafeInvalidatesOtherNode: a successful POST through A removes
// the URL from B's L1 (RFC 9111, Section 4.4, cluster-wide).
func TestL2_UnsafeInvalidatesOtherNode(t *testing.T) {
	t.Parallel()
	r := gatewaytest.StartRedis(t)
	o := startVersionedOrigin(t)
	a := gatewaytest.StartGateway(t, l2Config(o.URL, "standalone", "unsafe:", []string{r.Addr}), gateway.Options{})
	b := gatewaytest.StartGateway(t, l2Config(o.URL, "standalone", "unsafe:", []string{r.Addr}), gateway.Options{})
	waitL2Ready(t, a)
	waitL2Ready(t, b)
	const path = "/items/7"
	prime(t, a, b, path)
	before, _ := o.count(path)
	if r := a.Do(t, "POST", path); r.Status != 200 {
		t.Fatalf("POST = %d", r.Status)
	}
	var resp *gatewaytest.Response
	took := gatewaytest.WaitForWithin(t, propagation, "B to stop serving "+path+" from L1 after a POST on A", func() bool {
		resp = b.Do(t, "GET", path)
		n, _ := o.count(path)
		return n > before+1 // +1: the POST itself
	})
	if resp.Get("X-Cache") != "MISS" {
		t.Errorf("B GET after POST on A: X-Cache %q, want MISS", resp.Get("X-Cache"))
	}
	t.Logf("effective on B after %v", took.Round(time.Microsecond))
}

// TestL2_Partition: B loses Redis (its user is disabled and its connections
// killed, so it cannot reconnect), A purges meanwhile (the message never
// reaches B), Redis lets B back in: B does not serve the purged entry.
func TestL2_Partition(t *testing.T) {
	t.Parallel()
	r := gatewaytest.StartRedis(t)
	if _, err := r.Do("ACL", "SETUSER", "nodeb", "on", ">secret-b", "~*", "&*", "+@all"); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	o := startVersionedOrigin(t)
	a := gatewaytest.StartGateway(t, l2Config(o.URL, "standalone", "part:", []string{r.Addr}), gateway.Options{})
	bcfg := l2Config(o.URL, "standalone", "part:", []string{r.Addr})
	bcfg.Redis.Username, bcfg.Redis.Password = "nodeb", "secret-b"
	b := gatewaytest.StartGateway(t, bcfg, gateway.Options{})
	waitL2Ready(t, a)
	waitL2Ready(t, b)
	const path = "/part/1"
	prime(t, a, b, path)

	if _, err := r.Do("ACL", "SETUSER", "nodeb", "off"); err != nil {
		t.Fatalf("ACL SETUSER off: %v", err)
	}
	if _, err := r.Do("CLIENT", "KILL", "USER", "nodeb"); err != nil {
		t.Fatalf("CLIENT KILL USER: %v", err)
	}
	gatewaytest.WaitFor(t, "B unsubscribed", func() bool { return b.Metric(t, "flowcache_l2_subscribed") == 0 })
	if resp := a.Do(t, "PURGE", path); resp.Status != 200 {
		t.Fatalf("PURGE on A = %d %s", resp.Status, resp.Body)
	}
	before, _ := o.count(path)
	resyncs := b.Metric(t, "flowcache_l2_resyncs_total")

	if _, err := r.Do("ACL", "SETUSER", "nodeb", "on"); err != nil {
		t.Fatalf("ACL SETUSER on: %v", err)
	}
	gatewaytest.WaitFor(t, "B resynced", func() bool {
		return b.Metric(t, "flowcache_l2_subscribed") == 1 && b.Metric(t, "flowcache_l2_resyncs_total") > resyncs
	})
	resp := b.Do(t, "GET", path)
	if resp.Get("X-Cache") != "MISS" {
		t.Errorf("B GET after reconnect: X-Cache %q, want MISS", resp.Get("X-Cache"))
	}
	if n, _ := o.count(path); n != before+1 {
		t.Errorf("origin saw %d requests for %s after reconnect, want 1: B served the purged entry", n-before, path)
	}
}

// TestL2_RedisFault: bounded load (8 clients, 3s) through a gateway while
// Redis is killed and restarted mid-run: no client request fails, and L2 is
// used again after the restart. The p99 latency while Redis is down is
// logged as a ratio to an L1-only gateway's p99 under the same load (no
// wall-clock assertion: a shared CI machine makes it noise).
func TestL2_RedisFault(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	t.Parallel()
	r := gatewaytest.StartRedis(t)
	o := startVersionedOrigin(t)
	base := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	g := gatewaytest.StartGateway(t, l2Config(o.URL, "standalone", "fault:", []string{r.Addr}), gateway.Options{})
	waitL2Ready(t, g)

	baseLat, baseFail := runLoad(t, base, "base", 3*time.Second, nil)
	var downFrom, downTo atomic.Int64
	lat, fail := runLoad(t, g, "fault", 3*time.Second, func(elapsed time.Duration) {
		switch {
		case elapsed >= time.Second && downFrom.Load() == 0:
			downFrom.Store(int64(elapsed))
			r.Kill()
		case elapsed >= 2*time.Second && downTo.Load() == 0:
			r.Restart()
			downTo.Store(int64(elapsed))
		}
	})
	if baseFail+fail > 0 {
		t.Errorf("failed client requests: %d (L1-only run: %d)", fail, baseFail)
	}
	var down []time.Duration
	for _, s := range lat {
		if int64(s.at) >= downFrom.Load() && int64(s.at) < downTo.Load() {
			down = append(down, s.d)
		}
	}
	all := make([]time.Duration, len(baseLat))
	for i, s := range baseLat {
		all[i] = s.d
	}
	p99base, p99down := p99(all), p99(down)
	t.Logf("requests: L1-only %d, with Redis killed/restarted %d (%d while down); p99 L1-only %v, p99 Redis down %v, ratio %.2f",
		len(baseLat), len(lat), len(down), p99base, p99down, float64(p99down)/float64(p99base))

	// After the restart (an empty Redis): the breaker closes and L2 serves
	// again, seen from a second node.
	waitL2Ready(t, g)
	b := gatewaytest.StartGateway(t, l2Config(o.URL, "standalone", "fault:", []string{r.Addr}), gateway.Options{})
	waitL2Ready(t, b)
	prime(t, g, b, "/after-restart")
}

type sample struct {
	at, d time.Duration
}

// runLoad sends GETs from 8 clients to g for d: 90% to 64 hot URLs (L1
// hits), 10% to URLs never seen before (misses). tick is called with the
// elapsed time every few milliseconds from its own goroutine.
func runLoad(t *testing.T, g *gatewaytest.Gateway, name string, d time.Duration, tick func(time.Duration)) ([]sample, int) {
	t.Helper()
	const clients = 8
	start := time.Now()
	var failed atomic.Int64
	res := make([][]sample, clients)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	if tick != nil {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
					tick(time.Since(start))
				}
			}
		})
	}
	var lwg sync.WaitGroup
	for c := range clients {
		lwg.Go(func() {
			hc := &fasthttp.HostClient{Addr: g.Addr, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
			req := fasthttp.AcquireRequest()
			resp := fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for i := 0; time.Since(start) < d; i++ {
				path := "/hot/" + strconv.Itoa((i*7+c)%64)
				if i%10 == 9 {
					path = fmt.Sprintf("/cold/%s/%d/%d", name, c, i)
				}
				req.SetRequestURI("http://example.test" + path)
				t0 := time.Now()
				err := hc.Do(req, resp)
				el := time.Since(t0)
				if err != nil || resp.StatusCode() != 200 {
					failed.Add(1)
					continue
				}
				res[c] = append(res[c], sample{at: t0.Sub(start), d: el})
			}
		})
	}
	lwg.Wait()
	close(stop)
	wg.Wait()
	var all []sample
	for _, r := range res {
		all = append(all, r...)
	}
	return all, int(failed.Load())
}

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)*99/100]
}

// TestPurge_L1Only: without Redis every purge form applies to the node's
// own L1: hard forms make the next GET a fetch, soft ones a revalidation.
func TestPurge_L1Only(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		path  string
		soft  bool
		purge func(t *testing.T, g *gatewaytest.Gateway, path string)
	}{
		{name: "PURGE url", path: "/a/1", purge: func(t *testing.T, g *gatewaytest.Gateway, path string) {
			if r := g.Do(t, "PURGE", path); r.Status != 200 || string(r.Body) != "{\"purged\":1}\n" {
				t.Fatalf("PURGE = %d %q", r.Status, r.Body)
			}
		}},
		{name: "PURGE soft", path: "/b/1", soft: true, purge: func(t *testing.T, g *gatewaytest.Gateway, path string) {
			if r := g.Do(t, "PURGE", path, "Fastly-Soft-Purge: 1"); r.Status != 200 {
				t.Fatalf("PURGE = %d %s", r.Status, r.Body)
			}
		}},
		{name: "PURGE surrogate key", path: "/c/1", purge: func(t *testing.T, g *gatewaytest.Gateway, _ string) {
			if r := g.Do(t, "PURGE", "/", "Surrogate-Key: t-c"); r.Status != 200 {
				t.Fatalf("PURGE = %d %s", r.Status, r.Body)
			}
		}},
		{name: "PURGE surrogate key soft", path: "/d/1", soft: true, purge: func(t *testing.T, g *gatewaytest.Gateway, _ string) {
			if r := g.Do(t, "PURGE", "/?soft=1", "Surrogate-Key: t-d"); r.Status != 200 {
				t.Fatalf("PURGE = %d %s", r.Status, r.Body)
			}
		}},
		{name: "admin prefix", path: "/e/x/1", purge: adminPurge(`{"prefix":"/e/","host":"example.test"}`)},
		{name: "admin all", path: "/f/1", purge: adminPurge(`{"all":true}`)},
		{name: "admin all soft", path: "/g/1", soft: true, purge: adminPurge(`{"all":true,"soft":true}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := startVersionedOrigin(t)
			g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
			g.Do(t, "GET", tt.path)
			if r := g.Do(t, "GET", tt.path); r.Get("X-Cache") != "HIT" {
				t.Fatalf("second GET: X-Cache %q, want HIT", r.Get("X-Cache"))
			}
			tt.purge(t, g, tt.path)
			r := g.Do(t, "GET", tt.path)
			n, cond := o.count(tt.path)
			if n != 2 {
				t.Fatalf("GET after purge: origin saw %d requests, want 2 (X-Cache %q)", n, r.Get("X-Cache"))
			}
			if tt.soft != (cond == 1) {
				t.Errorf("soft %v: conditional requests %d", tt.soft, cond)
			}
			if r := g.Do(t, "GET", tt.path); r.Get("X-Cache") != "HIT" {
				t.Errorf("GET after the refetch: X-Cache %q, want HIT", r.Get("X-Cache"))
			}
		})
	}
}

// TestL2_ChunksPromoted: an entry larger than an L1 chunk, read from L2 on
// gateway B, is promoted to B's L1 whole (its head and its body chunks):
// B's next hit sends no command to Redis, and serves the same body.
func TestL2_ChunksPromoted(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("0123456789abcdef", 400) // 6400 bytes: several 1000-byte L1 chunks
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBodyString(body)
	})
	addrs := []string{gatewaytest.StartRedis(t).Addr}
	cfg := func() *gateway.Config {
		c := l2Config(o.URL, "standalone", "chunks:", addrs)
		c.Cache.L1Size = 1 << 20 // chunks of 1000 bytes
		return c
	}
	a := gatewaytest.StartGateway(t, cfg(), gateway.Options{})
	b := gatewaytest.StartGateway(t, cfg(), gateway.Options{})
	waitL2Ready(t, a)
	waitL2Ready(t, b)
	writes := a.Metric(t, "flowcache_l2_writes_total")
	if r := a.Do(t, "GET", "/big"); r.Get("X-Cache") != "MISS" || string(r.Body) != body {
		t.Fatalf("A GET /big: X-Cache %q, %d bytes", r.Get("X-Cache"), len(r.Body))
	}
	waitL2Writes(t, a, writes+1)
	if r := b.Do(t, "GET", "/big"); r.Get("X-Cache") != "HIT-L2" || string(r.Body) != body {
		t.Fatalf("B GET /big: X-Cache %q, %d bytes; want HIT-L2 and the body", r.Get("X-Cache"), len(r.Body))
	}
	// Without the chunks in L1, each hit would read them from Redis: one
	// pipelined GET per chunk. Allow one command for anything periodic.
	before := b.Metric(t, "flowcache_l2_commands_total")
	for range 3 {
		if r := b.Do(t, "GET", "/big"); r.Get("X-Cache") != "HIT" || string(r.Body) != body {
			t.Fatalf("B GET /big again: X-Cache %q, %d bytes; want HIT and the body", r.Get("X-Cache"), len(r.Body))
		}
	}
	if d := b.Metric(t, "flowcache_l2_commands_total") - before; d > 1 {
		t.Errorf("B sent %v Redis commands for 3 L1 hits, want none: the chunks were not promoted", d)
	}
}
