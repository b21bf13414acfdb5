package gateway_test

import (
	"bufio"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
	"github.com/flowcache/flowcache/internal/units"
)

// TestUpstream_OwnConnLimitNotAFailure: a request that finds every one of
// the route's max_conns_per_upstream connections busy fails (502), but the
// target is not blamed: it stays up, as with nginx's max_conns.
func TestUpstream_OwnConnLimitNotAFailure(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) != "/hold" {
			ctx.SetBodyString("ok")
			return
		}
		// The head and a first byte go out at once; the rest waits, so
		// the gateway's one connection to the origin stays busy.
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			_, _ = w.WriteString("a") // the gateway may have gone: nothing to report
			_ = w.Flush()
			close(started)
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
			_, _ = w.WriteString("b")
		})
	})
	cfg := gatewaytest.Config(o.URL)
	rc := &cfg.Routes[0]
	rc.MaxConnsPerUpstream, rc.MaxFails = 1, 1
	rc.Timeout = units.Duration(300 * time.Millisecond)
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})

	held := make(chan *gatewaytest.Response, 1)
	go func() { held <- g.Do(t, "GET", "/hold") }()
	<-started
	if r := g.Do(t, "GET", "/other"); r.Status != 502 && r.Status != 504 {
		t.Errorf("GET /other with the only connection busy: status %d, want 502 or 504", r.Status)
	} else {
		t.Logf("GET /other: %d %s %q", r.Status, r.Header.Peek("Cache-Status"), r.Body)
	}
	if v := g.Metric(t, `flowcache_upstream_up{route="api",target="`+o.URL+`"}`); v != 1 {
		t.Errorf("flowcache_upstream_up = %v, want 1: the gateway's own connection limit is not the target's failure", v)
	}
	close(release)
	<-held
	if r := g.Do(t, "GET", "/other"); r.Status != 200 {
		t.Errorf("GET /other once the connection is free: status %d, want 200", r.Status)
	}
}
