package gatewaytest

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/internal/poll"
	"github.com/flowcache/flowcache/internal/units"
)

// Config returns a valid gateway configuration with one catch-all route
// "api" to the given upstream URLs, listeners on loopback port 0, and a
// small L1 (4MiB, max_object_size 256KiB).
func Config(upstreams ...string) *gateway.Config {
	cfg := gateway.DefaultConfig()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.Cache.L1Size = 4 << 20
	cfg.Cache.MaxObjectSize = 256 << 10
	cfg.Routes = []gateway.RouteConfig{{Name: "api", Upstreams: upstreams}}
	gateway.RouteDefaults(&cfg.Routes[0])
	cfg.Routes[0].Timeout = units.Duration(10 * time.Second)
	return &cfg
}

// Gateway is a gateway serving on loopback for one test, shut down in
// t.Cleanup.
type Gateway struct {
	*gateway.Gateway
	// Addr and AdminAddr are the data and admin listeners' host:port.
	Addr, AdminAddr string

	client *fasthttp.HostClient
	admin  *fasthttp.HostClient
}

// StartGateway validates cfg, builds a gateway and serves it on free
// loopback ports.
func StartGateway(tb testing.TB, cfg *gateway.Config, opts gateway.Options) *Gateway {
	tb.Helper()
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("gatewaytest: config: %v", err)
	}
	g, err := gateway.New(cfg, opts)
	if err != nil {
		tb.Fatalf("gatewaytest: New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("gatewaytest: listen: %v", err)
	}
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("gatewaytest: admin listen: %v", err)
	}
	gw := &Gateway{Gateway: g, Addr: ln.Addr().String(), AdminAddr: aln.Addr().String()}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := g.Serve(ln); err != nil {
			tb.Errorf("gatewaytest: Serve: %v", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := g.ServeAdmin(aln); err != nil {
			tb.Errorf("gatewaytest: ServeAdmin: %v", err)
		}
	}()
	gw.client = &fasthttp.HostClient{Addr: gw.Addr, DisableHeaderNamesNormalizing: true, MaxResponseBodySize: 256 << 20, ReadTimeout: time.Minute}
	gw.admin = &fasthttp.HostClient{Addr: gw.AdminAddr, ReadTimeout: time.Minute}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			tb.Errorf("gatewaytest: Shutdown: %v", err)
		}
		// A Shutdown that gave up leaves a server running: report it
		// rather than hang the whole test binary until its -timeout.
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			tb.Errorf("gatewaytest: a server still runs 10s after Shutdown")
		}
	})
	return gw
}

// Response is a response read by [Gateway.Do].
type Response struct {
	Status int
	Header fasthttp.ResponseHeader
	Body   []byte
}

// Get returns the value of the response header field name.
func (r *Response) Get(name string) string { return string(r.Header.Peek(name)) }

// Do sends method path (with "Name: value" header lines) to the gateway,
// with Host "example.test" unless a Host line is given, and returns the
// response.
func (g *Gateway) Do(tb testing.TB, method, path string, header ...string) *Response {
	tb.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.DisableNormalizing()
	req.Header.SetMethod(method)
	req.SetRequestURI(path)
	req.Header.SetHost("example.test")
	for _, h := range header {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			tb.Fatalf("gatewaytest: bad header line %q", h)
		}
		if strings.EqualFold(k, "host") {
			req.Header.SetHost(strings.TrimSpace(v))
			continue
		}
		req.Header.Add(k, strings.TrimSpace(v))
	}
	var resp fasthttp.Response
	if method == fasthttp.MethodHead {
		resp.SkipBody = true
	}
	if err := g.client.Do(req, &resp); err != nil {
		tb.Fatalf("gatewaytest: %s %s: %v", method, path, err)
	}
	r := &Response{Status: resp.StatusCode(), Body: append([]byte(nil), resp.Body()...)}
	resp.Header.CopyTo(&r.Header)
	return r
}

// Raw writes raw (a whole request, CRLFs included) on a new connection and
// returns the response's status and its raw head and body as read until
// the gateway closes the connection or 5 seconds pass.
func (g *Gateway) Raw(tb testing.TB, raw string) (status int, resp string) {
	tb.Helper()
	c, err := net.Dial("tcp", g.Addr)
	if err != nil {
		tb.Fatalf("gatewaytest: dial: %v", err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		tb.Fatalf("gatewaytest: deadline: %v", err)
	}
	if _, err := io.WriteString(c, raw); err != nil {
		tb.Fatalf("gatewaytest: write: %v", err)
	}
	// The request should carry "Connection: close" or be one the gateway
	// refuses (it then closes): the answer is read until EOF or deadline.
	b, err := io.ReadAll(c)
	if len(b) == 0 {
		tb.Fatalf("gatewaytest: read response: %v", err)
	}
	line, _, _ := strings.Cut(string(b), "\r\n")
	f := strings.Fields(line)
	if len(f) < 2 {
		tb.Fatalf("gatewaytest: bad status line %q", line)
	}
	status, err = strconv.Atoi(f[1])
	if err != nil {
		tb.Fatalf("gatewaytest: bad status line %q", line)
	}
	return status, string(b)
}

// Metric scrapes the admin /metrics and returns the value of the sample
// whose name and labels are exactly series (e.g.
// `flowcache_cache_hits_total{route="api"}`), or -1 if absent.
func (g *Gateway) Metric(tb testing.TB, series string) float64 {
	tb.Helper()
	status, body := g.Admin(tb, "/metrics", "")
	if status != fasthttp.StatusOK {
		tb.Fatalf("gatewaytest: /metrics: status %d", status)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				tb.Fatalf("gatewaytest: metric %s: %v", series, err)
			}
			return f
		}
	}
	return -1
}

// Admin GETs path on the admin listener with Host "localhost" and the
// given bearer token ("" for none), and returns status and body.
func (g *Gateway) Admin(tb testing.TB, path, token string) (int, string) {
	tb.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI(path)
	req.Header.SetHost("localhost")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	var resp fasthttp.Response
	if err := g.admin.Do(req, &resp); err != nil {
		tb.Fatalf("gatewaytest: admin %s: %v", path, err)
	}
	return resp.StatusCode(), string(resp.Body())
}

// Clock is a settable clock for [gateway.Options].Now. It is safe for
// concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// WaitFor polls cond until it is true or 10 seconds pass (then the test
// fails with what). It is for waiting on work the gateway does in the
// background, not for asserting on time; call it from the test's goroutine.
// Time the gateway computes (freshness, TTLs) is moved with a [Clock] given
// as gateway.Options.Now, never waited for.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	poll.WaitFor(tb, what, cond)
}

// WaitForWithin is [WaitFor] bounded by d instead of 10 seconds, for a test
// whose subject is how soon something happens; it returns the time cond
// took to hold.
func WaitForWithin(tb testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	return poll.WaitForWithin(tb, d, what, cond)
}
