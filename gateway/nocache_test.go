package gateway_test

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// TestGateway_NoCacheCoalesced: concurrent requests with Cache-Control:
// no-cache (or Pragma: no-cache) make one upstream request between them:
// the waiters take the answer the leader fetched after they arrived.
func TestGateway_NoCacheCoalesced(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header string
		stored bool // a fresh entry is stored first (revalidation), else a miss
	}{
		{"no-cache on a stored entry", "Cache-Control: no-cache", true},
		{"Pragma no-cache on a stored entry", "Pragma: no-cache", true},
		{"max-age=0 on a stored entry", "Cache-Control: max-age=0", true},
		{"no-cache on a miss", "Cache-Control: no-cache", false},
	}
	const waiters = 8
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			var n atomic.Int64
			o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
				i := n.Add(1)
				if i > 1 || !tc.stored {
					<-release // slow: every waiter joins meanwhile
				}
				ctx.Response.Header.Set("Cache-Control", "max-age=60")
				ctx.SetBodyString("v" + strconv.FormatInt(i, 10))
			})
			g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
			fetches := int64(1)
			if tc.stored {
				if r := g.Do(t, "GET", "/r"); r.Status != 200 {
					t.Fatalf("priming GET = %d", r.Status)
				}
				fetches = 2
			}
			var wg sync.WaitGroup
			bodies := make([]string, waiters+1)
			for i := range waiters + 1 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := g.Do(t, "GET", "/r", tc.header)
					if r.Status != 200 {
						t.Errorf("request %d: status %d (Cache-Status %q)", i, r.Status, r.Get("Cache-Status"))
					}
					bodies[i] = string(r.Body)
				}()
			}
			gatewaytest.WaitFor(t, "every request to join the leader's fetch", func() bool {
				return g.Metric(t, `flowcache_coalesce_waits_total{route="api"}`) >= waiters && o.Requests() == fetches
			})
			close(release)
			wg.Wait()
			if got := o.Requests(); got != fetches {
				t.Errorf("origin saw %d requests, want %d (one for all the concurrent requests)", got, fetches)
			}
			want := "v" + strconv.FormatInt(fetches, 10)
			for i, b := range bodies {
				if b != want {
					t.Errorf("request %d: body %q, want %q", i, b, want)
				}
			}
		})
	}
}
