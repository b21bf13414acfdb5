package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// The tests of this file pin the answers of wasm/abi/ABI.md, section 12
// ("Questions authors ask"): what a policy sees and what its results do.

// recordPolicy keys like the default policy (or bypasses, or fails, as
// told) and records the method and header fields of every Key call.
type recordPolicy struct {
	policy.Default
	bypass, fail bool
	failDecide   bool          // Decide clears Store, then fails
	ttl          time.Duration // > 0: Decide stores for ttl, whatever the response says

	mu     sync.Mutex
	calls  []string // "METHOD Name: value|Name: value..."
	bodies []int64  // resp.BodySize of every Decide call
}

func (p *recordPolicy) Key(r *policy.Request, k *policy.Key) error {
	var b strings.Builder
	b.Write(r.Method)
	for i, h := range r.Headers {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte('|')
		}
		fmt.Fprintf(&b, "%s: %s", h.Name, h.Value)
	}
	p.mu.Lock()
	p.calls = append(p.calls, b.String())
	p.mu.Unlock()
	switch {
	case p.fail:
		return errors.New("recordPolicy: told to fail")
	case p.bypass:
		k.Bypass = true
		return nil
	}
	return p.Default.Key(r, k)
}

func (p *recordPolicy) Decide(_ *policy.Request, resp *policy.Response, d *policy.Decision) error {
	p.mu.Lock()
	p.bodies = append(p.bodies, resp.BodySize)
	p.mu.Unlock()
	if p.failDecide {
		d.Store = false
		return errors.New("recordPolicy: told to fail")
	}
	if p.ttl > 0 {
		d.Store, d.Admit, d.TTL = true, true, p.ttl
	}
	return nil
}

func (p *recordPolicy) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.calls
	p.calls = nil
	return c
}

// rawRequest parses a request as the server does: from the wire, field
// names as sent.
func rawRequest(t *testing.T, raw string) *fasthttp.Request {
	t.Helper()
	req := &fasthttp.Request{}
	req.Header.DisableNormalizing()
	if err := req.Read(bufio.NewReader(strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n")))); err != nil {
		t.Fatalf("parse request: %v", err)
	}
	return req
}

// echoOrigin answers with the request target it received, cacheable for
// a minute; it counts requests.
func echoOrigin(t *testing.T) (string, func() int) {
	var mu sync.Mutex
	n := 0
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		n++
		mu.Unlock()
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBody(ctx.RequestURI())
	})
	return up, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// TestPolicyABI_RequestHeaders: the header fields a policy sees (and a
// module gets, filtered by the names it declares, in this order). Host
// comes first, in its normal form (no port, lower case); fasthttp then
// gives Content-Type, User-Agent and one Cookie field joining every Cookie
// line; the other fields follow in the order received, each repeated field
// once per line, names as sent; hop-by-hop fields and those Connection
// names are left out.
func TestPolicyABI_RequestHeaders(t *testing.T) {
	t.Parallel()
	up, _ := echoOrigin(t)
	p := &recordPolicy{}
	g := newTierGateway(t, up, p, "")
	var ctx fasthttp.RequestCtx
	serve(g, &ctx, rawRequest(t, `GET /p?a=1 HTTP/1.1
Host: Example.TEST:8080
x-first: 1
Cookie: a=1
X-Dup: one
user-agent: ua
Connection: keep-alive, X-Hop
X-Hop: gone
TE: trailers
cookie: b=2
x-dup: two

`), loopbackAddr)
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("status %d", ctx.Response.StatusCode())
	}
	want := "GET Host: example.test|User-Agent: ua|Cookie: a=1; b=2|x-first: 1|X-Dup: one|x-dup: two"
	if got := p.take(); len(got) != 1 || got[0] != want {
		t.Errorf("Key saw %q,\nwant [%q]", got, want)
	}
}

// TestPolicyABI_Methods: GET and HEAD call Key; PURGE calls it with the
// method GET and without Cookie and Authorization, to find what to purge;
// an unsafe method (anything but GET, HEAD, OPTIONS, TRACE) goes upstream
// unkeyed, and when it succeeds (below 400) Key is called with the method
// GET and no header fields for its URI (and, after a 2xx, for a same-host
// Location or Content-Location), to invalidate them (RFC 9111, Section
// 4.4). OPTIONS calls nothing.
func TestPolicyABI_Methods(t *testing.T) {
	t.Parallel()
	up, _ := echoOrigin(t)
	p := &recordPolicy{}
	g := newTierGateway(t, up, p, "")
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PURGE"} {
		var ctx fasthttp.RequestCtx
		serve(g, &ctx, newRequest(m, "/p", "example.test", "Cookie", "c=1", "X-A", "1"), loopbackAddr)
	}
	got := strings.Join(p.take(), "\n")
	want := strings.Join([]string{
		"GET Host: example.test|Cookie: c=1|X-A: 1",
		"HEAD Host: example.test|Cookie: c=1|X-A: 1",
		"GET", // POST
		"GET", // PUT
		"GET", // DELETE
		"GET", // PATCH
		"GET Host: example.test|X-A: 1",
	}, "\n")
	if got != want {
		t.Errorf("Key calls:\n%s\nwant:\n%s", got, want)
	}
}

// TestPolicyABI_Upstream: what the upstream receives. A key's target is
// the request URI sent upstream; after a bypass the request goes as
// received (the path in its normal form, the query as sent) and nothing is
// stored; after a failed key call (-1, a trap, a malformed result) the
// route's native default policy keys the request: same target as a bypass,
// but cached, under the default policy's key (and the default policy
// decides). A failed decide call keeps the default decision.
func TestPolicyABI_Upstream(t *testing.T) {
	t.Parallel()
	const uri = "/a//b/./c?utm_source=x&b=1"
	for _, tc := range []struct {
		name   string
		p      *recordPolicy
		xcache [2]string
		origin int
	}{
		{name: "bypass", p: &recordPolicy{bypass: true}, xcache: [2]string{"BYPASS", "BYPASS"}, origin: 2},
		{name: "failed key", p: &recordPolicy{fail: true}, xcache: [2]string{"MISS", "HIT"}, origin: 1},
		// A failed decide call keeps the default decision, whatever the
		// policy wrote before failing: stored here (max-age=60).
		{name: "failed decide", p: &recordPolicy{failDecide: true}, xcache: [2]string{"MISS", "HIT"}, origin: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up, requests := echoOrigin(t)
			g := newTierGateway(t, up, tc.p, "")
			for i := range 2 {
				var ctx fasthttp.RequestCtx
				serve(g, &ctx, newRequest("GET", uri, "example.test"), loopbackAddr)
				if body, xc := string(ctx.Response.Body()), string(ctx.Response.Header.Peek("X-Cache")); body != "/a/b/c?utm_source=x&b=1" || xc != tc.xcache[i] {
					t.Errorf("request %d: upstream saw %q, X-Cache %q; want /a/b/c?utm_source=x&b=1, %s", i, body, xc, tc.xcache[i])
				}
			}
			if n := requests(); n != tc.origin {
				t.Errorf("upstream requests %d, want %d", n, tc.origin)
			}
		})
	}
}

// TestPolicyABI_TierL2WithoutRedis: without [redis], a decision for tier
// 2 (L2 only) stores nothing, and so does one not admitted to L1: every
// request goes upstream.
func TestPolicyABI_TierL2WithoutRedis(t *testing.T) {
	t.Parallel()
	for _, p := range []*tierPolicy{{tier: policy.TierL2, admit: true}, {tier: policy.TierBoth, admit: false}} {
		up, requests := echoOrigin(t)
		g := newTierGateway(t, up, p, "")
		for range 2 {
			var ctx fasthttp.RequestCtx
			serve(g, &ctx, newRequest("GET", "/t", "example.test"), loopbackAddr)
			if xc := string(ctx.Response.Header.Peek("X-Cache")); xc != "MISS" {
				t.Errorf("tier %d admit %v: X-Cache %q, want MISS", p.tier, p.admit, xc)
			}
		}
		if n := requests(); n != 2 {
			t.Errorf("tier %d admit %v: upstream requests %d, want 2", p.tier, p.admit, n)
		}
	}
}

// TestPolicyABI_TTLCountsAge: a decision's ttl counts from the response's
// age zero: with Age: 50 from the upstream, ttl 60s leaves 10 seconds of
// freshness.
func TestPolicyABI_TTLCountsAge(t *testing.T) {
	t.Parallel()
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Age", "50")
		ctx.SetBodyString("x")
	})
	clock := newTestClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	cfg := testConfig(up)
	cfg.Routes[0].Policy = "tier"
	pc := plugins.DefaultConfig()
	pc.Module = "tier.wasm" // never loaded: the source below serves "tier"
	cfg.Policies = map[string]plugins.Config{"tier": pc}
	g := newTestGatewayWith(t, cfg, Options{Now: clock.Now})
	g.policies = namedSource{name: "tier", p: &recordPolicy{ttl: time.Minute}}
	for i, step := range []struct {
		advance time.Duration
		xcache  string
	}{{0, "MISS"}, {9 * time.Second, "HIT"}, {2 * time.Second, "MISS"}} {
		clock.Advance(step.advance)
		var ctx fasthttp.RequestCtx
		serve(g, &ctx, newRequest("GET", "/t", "example.test"), loopbackAddr)
		if xc := string(ctx.Response.Header.Peek("X-Cache")); xc != step.xcache {
			t.Errorf("step %d (+%v): X-Cache %q, want %s", i, step.advance, xc, step.xcache)
		}
	}
}

// TestPolicyABI_Streamed: a response without Content-Length (chunked)
// reaches Decide with body_size -1, before its body is read; stored, its
// body is then read up to cache.max_object_size, and kept when it ends
// within it (a longer one is streamed through and not stored:
// TestGateway_StreamLargeObject).
func TestPolicyABI_Streamed(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	n := 0
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		n++
		mu.Unlock()
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBodyStream(strings.NewReader("streamed body"), -1)
	})
	p := &recordPolicy{}
	g := newTierGateway(t, up, p, "")
	for i, want := range []string{"MISS", "HIT"} {
		var ctx fasthttp.RequestCtx
		serve(g, &ctx, newRequest("GET", "/s", "example.test"), loopbackAddr)
		if xc, body := string(ctx.Response.Header.Peek("X-Cache")), string(ctx.Response.Body()); xc != want || body != "streamed body" {
			t.Errorf("request %d: X-Cache %q, body %q; want %s, %q", i, xc, body, want, "streamed body")
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.bodies) != 1 || p.bodies[0] != -1 {
		t.Errorf("Decide saw body sizes %v, want [-1]", p.bodies)
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 1 {
		t.Errorf("upstream requests %d, want 1", n)
	}
}

// targetPolicy keys every request with a fixed host and target.
type targetPolicy struct {
	policy.Default
	host, target string
}

func (p *targetPolicy) Key(_ *policy.Request, k *policy.Key) error {
	k.Host = append(k.Host, p.host...)
	k.Target = append(k.Target, p.target...)
	return nil
}

// TestPolicyABI_Target: the key's target reaches the upstream byte for
// byte as the request URI (no normalisation, no escaping: raw UTF-8, a
// malformed escape and ';' pass), while the key's host is key material
// only: the upstream's Host field is the request's, in its normal form.
func TestPolicyABI_Target(t *testing.T) {
	t.Parallel()
	const target = "/t/\xc3\xa9//./x?q=%zz&a=b;c&&"
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBodyString(string(ctx.RequestURI()) + " " + string(ctx.Host()))
	})
	g := newTierGateway(t, up, &targetPolicy{host: "other.example", target: target}, "")
	var ctx fasthttp.RequestCtx
	serve(g, &ctx, newRequest("GET", "/p?z=1", "Example.TEST:8080"), loopbackAddr)
	if got, want := string(ctx.Response.Body()), target+" example.test"; got != want {
		t.Errorf("upstream saw %q, want %q", got, want)
	}
}
