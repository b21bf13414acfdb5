package gateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// kvNode is a gateway serving the look-aside API on loopback.
type kvNode struct {
	*gatewaytest.Gateway
	kvAddr string
	client *fasthttp.HostClient
	token  string
}

// kvConfig adds [kv] on loopback with namespace "ns" (token "sekrit",
// tier) to cfg.
func kvConfig(cfg *gateway.Config, tier string) *gateway.Config {
	cfg.KV.Listen = "127.0.0.1:0"
	cfg.KV.Namespaces = map[string]gateway.KVNamespaceConfig{
		"ns":   {Token: "sekrit", Tier: tier},
		"open": {Tier: tier},
	}
	return cfg
}

// startKV starts a gateway with cfg and serves its look-aside API.
func startKV(t *testing.T, cfg *gateway.Config) *kvNode {
	t.Helper()
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// StartGateway's cleanup (Shutdown) ends ServeKV, which then returns nil.
	go func() {
		if err := g.ServeKV(ln); err != nil {
			panic("ServeKV: " + err.Error())
		}
	}()
	n := &kvNode{Gateway: g, kvAddr: ln.Addr().String(), token: "sekrit"}
	n.client = &fasthttp.HostClient{Addr: n.kvAddr, ReadTimeout: time.Minute, MaxConns: 512}
	return n
}

// do sends one request to the look-aside API with the token.
func (n *kvNode) do(t *testing.T, method, path, body string, header ...string) *gatewaytest.Response {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + n.kvAddr + path)
	req.URI().DisablePathNormalizing = true
	req.Header.SetMethod(method)
	req.Header.SetHost("localhost")
	if n.token != "" {
		req.Header.Set("Authorization", "Bearer "+n.token)
	}
	for _, h := range header {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	if body != "" {
		req.SetBodyString(body)
	}
	if err := n.client.DoTimeout(req, resp, time.Minute); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	out := &gatewaytest.Response{Status: resp.StatusCode(), Body: append([]byte(nil), resp.Body()...)}
	resp.Header.CopyTo(&out.Header)
	return out
}

func TestKV_GetPutDelete(t *testing.T) {
	t.Parallel()
	n := startKV(t, kvConfig(gatewaytest.Config("http://127.0.0.1:1"), "l1"))
	if r := n.do(t, "GET", "/kv/ns/a%2Fb", ""); r.Status != 404 || !strings.Contains(string(r.Body), `"error"`) {
		t.Fatalf("GET before PUT = %d %s, want 404 JSON", r.Status, r.Body)
	}
	r := n.do(t, "PUT", "/kv/ns/a%2Fb?ttl=60", "hello", "Content-Type: text/plain")
	if r.Status != 204 || len(r.Get("ETag")) != 18 {
		t.Fatalf("PUT = %d %q ETag %q", r.Status, r.Body, r.Get("ETag"))
	}
	etag := r.Get("ETag")
	r = n.do(t, "GET", "/kv/ns/a%2Fb", "")
	if r.Status != 200 || string(r.Body) != "hello" || r.Get("Content-Type") != "text/plain" ||
		r.Get("ETag") != etag || r.Get("Age") != "0" || r.Get("Cache-Control") != "max-age=59" && r.Get("Cache-Control") != "max-age=60" {
		t.Fatalf("GET = %d %q CT %q ETag %q Age %q CC %q", r.Status, r.Body, r.Get("Content-Type"), r.Get("ETag"), r.Get("Age"), r.Get("Cache-Control"))
	}
	if r := n.do(t, "DELETE", "/kv/ns/a%2Fb", ""); r.Status != 204 {
		t.Fatalf("DELETE = %d %s", r.Status, r.Body)
	}
	if r := n.do(t, "GET", "/kv/ns/a%2Fb", ""); r.Status != 404 {
		t.Fatalf("GET after DELETE = %d", r.Status)
	}
	if r := n.do(t, "DELETE", "/kv/ns/a%2Fb", ""); r.Status != 404 {
		t.Fatalf("DELETE again = %d, want 404", r.Status)
	}
}

func TestKV_Errors(t *testing.T) {
	t.Parallel()
	n := startKV(t, kvConfig(gatewaytest.Config("http://127.0.0.1:1"), "l1"))
	long := strings.Repeat("k", 1025)
	tests := []struct {
		name, method, path, body string
		header                   []string
		token                    string
		want                     int
	}{
		{name: "no token", method: "GET", path: "/kv/ns/a", token: "-", want: 401},
		{name: "wrong token", method: "GET", path: "/kv/ns/a", token: "nope", want: 401},
		{name: "no namespace", method: "GET", path: "/kv/zz/a", want: 404},
		{name: "no key", method: "GET", path: "/kv/ns/", want: 400},
		{name: "key too long", method: "GET", path: "/kv/ns/" + long, want: 400},
		{name: "bad ttl", method: "PUT", path: "/kv/ns/a?ttl=abc", body: "x", want: 400},
		{name: "ttl over max", method: "PUT", path: "/kv/ns/a?ttl=999999", body: "x", want: 400},
		{name: "bad if-match", method: "PUT", path: "/kv/ns/a", body: "x", header: []string{"If-Match: nope"}, want: 400},
		{name: "two conditions", method: "PUT", path: "/kv/ns/a", body: "x", header: []string{"If-None-Match: *", `If-Match: "0123456789abcdef"`}, want: 400},
		{name: "if-match absent", method: "PUT", path: "/kv/ns/a", body: "x", header: []string{`If-Match: "0123456789abcdef"`}, want: 412},
		{name: "stale lease", method: "PUT", path: "/kv/ns/a", body: "x", header: []string{"Flowcache-Lease: 0123456789abcdef"}, want: 409},
		{name: "too large", method: "PUT", path: "/kv/ns/big", body: strings.Repeat("x", 1<<20+1), want: 413},
		{name: "method", method: "POST", path: "/kv/ns/a", want: 405},
		{name: "mget bad json", method: "POST", path: "/kv/ns/_mget", body: "{", header: []string{"Content-Type: application/json"}, want: 400},
		{name: "mget not json", method: "POST", path: "/kv/ns/_mget", body: "{}", header: []string{"Content-Type: text/plain"}, want: 415},
		{name: "cross-site", method: "DELETE", path: "/kv/ns/a", header: []string{"Sec-Fetch-Site: cross-site"}, want: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := *n
			switch tt.token {
			case "-":
				c.token = ""
			case "":
			default:
				c.token = tt.token
			}
			r := c.do(t, tt.method, tt.path, tt.body, tt.header...)
			if r.Status != tt.want {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, r.Status, r.Body, tt.want)
			}
			var e struct {
				Error  string `json:"error"`
				Status int    `json:"status"`
			}
			if err := json.Unmarshal(r.Body, &e); err != nil || e.Error == "" || e.Status != tt.want {
				t.Fatalf("body %q is not a JSON error with status %d (%v)", r.Body, tt.want, err)
			}
		})
	}
}

// TestKV_Conditional: If-None-Match: * adds only if absent; If-Match
// compares and sets. With and without Redis.
func TestKV_Conditional(t *testing.T) {
	t.Parallel()
	for _, tier := range []string{"l1", "both", "l2"} {
		t.Run(tier, func(t *testing.T) {
			t.Parallel()
			cfg := gatewaytest.Config("http://127.0.0.1:1")
			if tier != "l1" {
				cfg = l2Config("http://127.0.0.1:1", "standalone", "kvc:", []string{gatewaytest.StartRedis(t).Addr})
			}
			n := startKV(t, kvConfig(cfg, tier))
			if tier != "l1" {
				waitL2Ready(t, n.Gateway)
			}
			r := n.do(t, "PUT", "/kv/ns/c", "v1", "If-None-Match: *")
			if r.Status != 204 {
				t.Fatalf("add = %d %s", r.Status, r.Body)
			}
			v1 := r.Get("ETag")
			if r := n.do(t, "PUT", "/kv/ns/c", "v1b", "If-None-Match: *"); r.Status != 412 {
				t.Fatalf("add again = %d, want 412", r.Status)
			}
			r = n.do(t, "PUT", "/kv/ns/c", "v2", "If-Match: "+v1)
			if r.Status != 204 || r.Get("ETag") == v1 {
				t.Fatalf("CAS = %d %s ETag %q", r.Status, r.Body, r.Get("ETag"))
			}
			if r := n.do(t, "PUT", "/kv/ns/c", "v3", "If-Match: "+v1); r.Status != 412 {
				t.Fatalf("CAS with the old ETag = %d, want 412", r.Status)
			}
			if r := n.do(t, "GET", "/kv/ns/c", ""); string(r.Body) != "v2" {
				t.Fatalf("GET = %q, want v2", r.Body)
			}
		})
	}
}

// TestKV_TwoNodes: two nodes sharing a real Redis. PUT on A → GET on B is
// 200 with the same bytes; a new PUT on A replaces B's L1 copy; DELETE on
// A → 404 on both. Standalone and cluster.
func TestKV_TwoNodes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"standalone", "cluster"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var addrs []string
			if mode == "cluster" {
				addrs = gatewaytest.StartRedisCluster(t, 3).Addrs
			} else {
				addrs = []string{gatewaytest.StartRedis(t).Addr}
			}
			cfg := func() *gateway.Config {
				return kvConfig(l2Config("http://127.0.0.1:1", mode, "kv2:", addrs), "both")
			}
			a, b := startKV(t, cfg()), startKV(t, cfg())
			waitL2Ready(t, a.Gateway)
			waitL2Ready(t, b.Gateway)
			value := "\x00binary\xffvalue"
			if r := a.do(t, "PUT", "/kv/ns/user:1", value, "Content-Type: application/x-thing"); r.Status != 204 {
				t.Fatalf("PUT on A = %d %s", r.Status, r.Body)
			}
			for i := range 2 { // from L2, then from B's L1
				r := b.do(t, "GET", "/kv/ns/user:1", "")
				if r.Status != 200 || string(r.Body) != value || r.Get("Content-Type") != "application/x-thing" {
					t.Fatalf("GET %d on B = %d %q %q", i, r.Status, r.Body, r.Get("Content-Type"))
				}
			}
			if r := a.do(t, "PUT", "/kv/ns/user:1", "v2"); r.Status != 204 {
				t.Fatalf("PUT v2 on A = %d %s", r.Status, r.Body)
			}
			gatewaytest.WaitFor(t, "B sees v2", func() bool { return string(b.do(t, "GET", "/kv/ns/user:1", "").Body) == "v2" })
			if r := a.do(t, "DELETE", "/kv/ns/user:1", ""); r.Status != 204 {
				t.Fatalf("DELETE on A = %d %s", r.Status, r.Body)
			}
			if r := a.do(t, "GET", "/kv/ns/user:1", ""); r.Status != 404 {
				t.Fatalf("GET on A after DELETE = %d %q", r.Status, r.Body)
			}
			gatewaytest.WaitFor(t, "404 on B", func() bool { return b.do(t, "GET", "/kv/ns/user:1", "").Status == 404 })
		})
	}
}

// TestKV_TagPurge: one PURGE by Surrogate-Key (and one POST /purge by tag)
// removes tagged values on every node as well as tagged proxied responses.
func TestKV_TagPurge(t *testing.T) {
	t.Parallel()
	rd := gatewaytest.StartRedis(t)
	o := startVersionedOrigin(t) // tags its responses "t-<segment> all-pages"
	cfg := func() *gateway.Config {
		return kvConfig(l2Config(o.URL, "standalone", "kvtag:", []string{rd.Addr}), "both")
	}
	a, b := startKV(t, cfg()), startKV(t, cfg())
	waitL2Ready(t, a.Gateway)
	waitL2Ready(t, b.Gateway)
	for i, purge := range []struct {
		name string
		all  bool // removes the untagged value too
		do   func(t *testing.T, tag string)
	}{
		{"PURGE", false, func(t *testing.T, tag string) {
			if r := a.Do(t, "PURGE", "/", "Surrogate-Key: "+tag); r.Status != 200 {
				t.Fatalf("PURGE = %d %s", r.Status, r.Body)
			}
		}},
		{"soft PURGE", false, func(t *testing.T, tag string) {
			if r := a.Do(t, "PURGE", "/", "Surrogate-Key: "+tag, "Fastly-Soft-Purge: 1"); r.Status != 200 {
				t.Fatalf("PURGE = %d %s", r.Status, r.Body)
			}
		}},
		{"POST /purge", false, func(t *testing.T, tag string) {
			if status, body := adminPost(t, a.Gateway, "/purge", `{"tags":["`+tag+`"]}`); status != 200 {
				t.Fatalf("POST /purge = %d %s", status, body)
			}
		}},
		{"POST /purge all soft", true, func(t *testing.T, _ string) {
			if status, body := adminPost(t, a.Gateway, "/purge?soft=1", `{"all":true}`); status != 200 {
				t.Fatalf("POST /purge = %d %s", status, body)
			}
		}},
	} {
		seg := "p" + strconv.Itoa(i)
		tag := "t-" + seg
		page := "/" + seg + "/1"
		prime(t, a.Gateway, b.Gateway, page)
		if r := a.do(t, "PUT", "/kv/ns/"+seg, "tagged", "Surrogate-Key: other "+tag); r.Status != 204 {
			t.Fatalf("PUT = %d %s", r.Status, r.Body)
		}
		if r := a.do(t, "PUT", "/kv/ns/"+seg+"-untagged", "kept"); r.Status != 204 {
			t.Fatalf("PUT = %d %s", r.Status, r.Body)
		}
		for _, n := range []*kvNode{a, b} {
			if r := n.do(t, "GET", "/kv/ns/"+seg, ""); r.Status != 200 {
				t.Fatalf("GET before purge = %d", r.Status)
			}
		}
		purge.do(t, tag)
		for _, n := range []*kvNode{b, a} {
			gatewaytest.WaitFor(t, "value purged", func() bool { return n.do(t, "GET", "/kv/ns/"+seg, "").Status == 404 })
			if r := n.do(t, "GET", "/kv/ns/"+seg+"-untagged", ""); (r.Status == 200) == purge.all {
				t.Fatalf("%s: untagged value = %d", purge.name, r.Status)
			}
			// The same message removed (or marked) the response: not an
			// L1 hit, or one revalidated with the origin.
			before, _ := o.count(page)
			r := n.Do(t, "GET", page)
			if after, _ := o.count(page); r.Get("X-Cache") == "HIT" && after == before {
				t.Fatalf("%s: page still an L1 hit after the tag purge", purge.name)
			}
		}
	}
}

// TestKV_Leases: 100 concurrent leased misses (on two nodes sharing Redis,
// and on one node without Redis) give exactly one lease; its holder fills
// the value and every waiter gets it. A delete voids a lease: its fill is
// refused.
func TestKV_Leases(t *testing.T) {
	t.Parallel()
	for _, tier := range []string{"l1", "both"} {
		t.Run(tier, func(t *testing.T) {
			t.Parallel()
			var nodes []*kvNode
			if tier == "l1" {
				nodes = []*kvNode{startKV(t, kvConfig(gatewaytest.Config("http://127.0.0.1:1"), "l1"))}
			} else {
				rd := gatewaytest.StartRedis(t)
				for range 2 {
					n := startKV(t, kvConfig(l2Config("http://127.0.0.1:1", "standalone", "kvl:", []string{rd.Addr}), "both"))
					waitL2Ready(t, n.Gateway)
					nodes = append(nodes, n)
				}
			}
			const callers = 100
			var wg sync.WaitGroup
			var mu sync.Mutex
			var tokens []string
			values := 0
			for i := range callers {
				wg.Go(func() {
					n := nodes[i%len(nodes)]
					r := n.do(t, "GET", "/kv/ns/hot?lease=1&wait=20s", "")
					mu.Lock()
					defer mu.Unlock()
					switch {
					case r.Status == 404 && r.Get("Flowcache-Lease") != "":
						tokens = append(tokens, r.Get("Flowcache-Lease"))
						// The filler computes the value, then fills.
						if f := n.do(t, "PUT", "/kv/ns/hot", "computed", "Flowcache-Lease: "+r.Get("Flowcache-Lease")); f.Status != 204 {
							t.Errorf("fill = %d %s", f.Status, f.Body)
						}
					case r.Status == 200 && string(r.Body) == "computed":
						values++
					default:
						t.Errorf("leased GET = %d %q (lease %q)", r.Status, r.Body, r.Get("Flowcache-Lease"))
					}
				})
			}
			wg.Wait()
			if len(tokens) != 1 || values != callers-1 {
				t.Fatalf("%d leases, %d values; want 1 filler and %d values", len(tokens), values, callers-1)
			}

			// A delete voids an outstanding lease.
			n := nodes[0]
			n.do(t, "DELETE", "/kv/ns/hot", "")
			r := n.do(t, "GET", "/kv/ns/hot?lease=1", "")
			tok := r.Get("Flowcache-Lease")
			if r.Status != 404 || tok == "" {
				t.Fatalf("leased GET after delete = %d lease %q", r.Status, tok)
			}
			if r := nodes[len(nodes)-1].do(t, "GET", "/kv/ns/hot?lease=1", ""); r.Status != 404 || r.Get("Retry-After") == "" || r.Get("Flowcache-Lease") != "" {
				t.Fatalf("second leased GET = %d Retry-After %q lease %q; want 404, Retry-After, no lease", r.Status, r.Get("Retry-After"), r.Get("Flowcache-Lease"))
			}
			n.do(t, "DELETE", "/kv/ns/hot", "")
			if r := n.do(t, "PUT", "/kv/ns/hot", "stale", "Flowcache-Lease: "+tok); r.Status != 409 {
				t.Fatalf("fill after delete = %d %s, want 409", r.Status, r.Body)
			}
			if r := n.do(t, "GET", "/kv/ns/hot", ""); r.Status != 404 {
				t.Fatalf("GET after refused fill = %d %q", r.Status, r.Body)
			}
		})
	}
}

// TestKV_Batch: _mset writes base64 values, _mget reads them in order,
// across two nodes.
func TestKV_Batch(t *testing.T) {
	t.Parallel()
	rd := gatewaytest.StartRedis(t)
	cfg := func() *gateway.Config {
		return kvConfig(l2Config("http://127.0.0.1:1", "standalone", "kvb:", []string{rd.Addr}), "both")
	}
	a, b := startKV(t, cfg()), startKV(t, cfg())
	waitL2Ready(t, a.Gateway)
	waitL2Ready(t, b.Gateway)
	enc := base64.StdEncoding.EncodeToString
	body := `{"items":[{"key":"k1","value":"` + enc([]byte("one")) + `","ttl":60},{"key":"k2","value":"` + enc([]byte{0, 1, 2}) + `","content_type":"application/x-b"},{"key":"","value":""}]}`
	r := a.do(t, "POST", "/kv/ns/_mset", body, "Content-Type: application/json")
	if r.Status != 200 {
		t.Fatalf("_mset = %d %s", r.Status, r.Body)
	}
	var set struct {
		Items []struct {
			Key, ETag, Error string
			Status           int
		}
	}
	if err := json.Unmarshal(r.Body, &set); err != nil || len(set.Items) != 3 || set.Items[0].ETag == "" || set.Items[2].Status != 400 {
		t.Fatalf("_mset answer %s (%v)", r.Body, err)
	}
	for _, n := range []*kvNode{b, b, a} { // L2, then L1
		r = n.do(t, "POST", "/kv/ns/_mget", `{"keys":["k2","nope","k1"]}`, "Content-Type: application/json")
		var got struct {
			Items []struct {
				Key         string `json:"key"`
				Found       bool   `json:"found"`
				Value       []byte `json:"value"`
				ETag        string `json:"etag"`
				ContentType string `json:"content_type"`
			}
		}
		if err := json.Unmarshal(r.Body, &got); err != nil || r.Status != 200 || len(got.Items) != 3 {
			t.Fatalf("_mget = %d %s (%v)", r.Status, r.Body, err)
		}
		if it := got.Items[0]; it.Key != "k2" || !it.Found || string(it.Value) != "\x00\x01\x02" || it.ContentType != "application/x-b" {
			t.Errorf("item 0 = %+v", it)
		}
		if it := got.Items[1]; it.Key != "nope" || it.Found {
			t.Errorf("item 1 = %+v", it)
		}
		if it := got.Items[2]; it.Key != "k1" || string(it.Value) != "one" || it.ETag != set.Items[0].ETag {
			t.Errorf("item 2 = %+v, ETag want %s", it, set.Items[0].ETag)
		}
	}
}

// TestKV_Metrics: per-namespace series in /metrics and GET /kv on the
// admin listener.
func TestKV_Metrics(t *testing.T) {
	t.Parallel()
	n := startKV(t, kvConfig(gatewaytest.Config("http://127.0.0.1:1"), "l1"))
	n.do(t, "PUT", "/kv/ns/a", "12345")
	n.do(t, "PUT", "/kv/ns/b", "123")
	n.do(t, "PUT", "/kv/ns/b", "1234567")
	n.do(t, "GET", "/kv/ns/a", "")
	n.do(t, "GET", "/kv/ns/a", "")
	n.do(t, "GET", "/kv/ns/zz", "")
	n.do(t, "DELETE", "/kv/ns/a", "")
	for series, want := range map[string]float64{
		`flowcache_kv_hits_total{namespace="ns"}`:    2,
		`flowcache_kv_misses_total{namespace="ns"}`:  1,
		`flowcache_kv_writes_total{namespace="ns"}`:  3,
		`flowcache_kv_deletes_total{namespace="ns"}`: 1,
		`flowcache_kv_entries{namespace="ns"}`:       1,
		`flowcache_kv_bytes{namespace="ns"}`:         7,
		`flowcache_kv_hits_total{namespace="open"}`:  0,
	} {
		if got := n.Metric(t, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	status, body := n.Admin(t, "/kv", "")
	var got struct {
		Namespaces []gateway.KVNamespaceStats `json:"namespaces"`
	}
	if err := json.Unmarshal([]byte(body), &got); status != 200 || err != nil || len(got.Namespaces) != 2 {
		t.Fatalf("GET /kv = %d %s (%v)", status, body, err)
	}
	if ns := got.Namespaces[0]; ns.Name != "ns" || ns.Tier != "l1" || ns.Entries != 1 || ns.Ratio < 0.66 || ns.Ratio > 0.67 {
		t.Errorf("GET /kv: %+v", ns)
	}
}

// TestKV_ReloadRefused: [kv] is applied at start only; a reload that
// changes it is refused and the API keeps its namespaces.
func TestKV_ReloadRefused(t *testing.T) {
	t.Parallel()
	next := func() *gateway.Config {
		c := kvConfig(gatewaytest.Config("http://127.0.0.1:1"), "l1")
		c.KV.Namespaces["more"] = gateway.KVNamespaceConfig{}
		return c
	}
	reload := func(context.Context) (*gateway.Config, error) { c := next(); return c, c.Validate() }
	g := gatewaytest.StartGateway(t, kvConfig(gatewaytest.Config("http://127.0.0.1:1"), "l1"), gateway.Options{Reload: reload})
	// Both planes answer before the test ends: a Shutdown that comes
	// before Serve has started cannot stop it.
	g.Do(t, "GET", "/")
	g.Admin(t, "/healthz", "")
	err := g.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "kv: changed") {
		t.Fatalf("Reload = %v, want kv: changed", err)
	}
	if ns := g.KVStats(); len(ns) != 2 {
		t.Fatalf("namespaces after a refused reload: %+v", ns)
	}
}
