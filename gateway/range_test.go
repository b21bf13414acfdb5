package gateway

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/entry"
	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// storeAllPolicy keys like the default policy and says store, for a
// minute, whatever the response.
type storeAllPolicy struct{ policy.Default }

func (p *storeAllPolicy) Decide(_ *policy.Request, _ *policy.Response, d *policy.Decision) error {
	d.Store, d.TTL = true, time.Minute
	return nil
}

// TestGateway_NeverStorePartial: a 206 or a 304 is never stored, even when
// the route's policy says store.
func TestGateway_NeverStorePartial(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
	}{
		{"206", fasthttp.StatusPartialContent},
		{"304", fasthttp.StatusNotModified},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int64
			up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.Set("Cache-Control", "max-age=60")
				ctx.Response.Header.Set("ETag", `"e`+strconv.FormatInt(n.Add(1), 10)+`"`)
				ctx.SetStatusCode(tc.status)
				if tc.status == fasthttp.StatusPartialContent {
					ctx.Response.Header.Set("Content-Range", "bytes 0-0/10")
					ctx.SetBodyString("x")
				}
			})
			cfg := testConfig(up)
			cfg.Routes[0].Policy = "all"
			pc := plugins.DefaultConfig()
			pc.Module = "all.wasm" // never loaded: the source below serves "all"
			cfg.Policies = map[string]plugins.Config{"all": pc}
			g := newTestGateway(t, cfg)
			g.policies = namedSource{name: "all", p: &storeAllPolicy{}}
			for i := range 2 {
				var ctx fasthttp.RequestCtx
				serve(g, &ctx, newRequest("GET", "/p", "example.test"), loopbackAddr)
				if got := ctx.Response.StatusCode(); got != tc.status {
					t.Errorf("request %d: status %d, want %d", i, got, tc.status)
				}
				if got := string(ctx.Response.Header.Peek("X-Cache")); got != "MISS" {
					t.Errorf("request %d: X-Cache %q, want MISS", i, got)
				}
			}
			if got := n.Load(); got != 2 {
				t.Errorf("origin saw %d requests, want 2", got)
			}
		})
	}
}

// TestGateway_PartialRecordNotServed: a 206 entry found in a tier (written
// by an older version, or into L2 by someone else) is a miss.
func TestGateway_PartialRecordNotServed(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBodyString("whole-v" + strconv.FormatInt(n.Add(1), 10))
	})
	g := newTestGateway(t, testConfig(up))
	x := acquireExchange(g, nil, g.st.Load().routes[0])
	defer releaseExchange(x)
	x.key.Host, x.key.Target = append(x.key.Host, "example.test"...), append(x.key.Target, "/p"...)
	x.pkey = appendPrimaryKey(x.pkey[:0], []byte("api"), &x.key)
	now := time.Now()
	e := entry.Entry{
		Status: fasthttp.StatusPartialContent, RequestTime: now.UnixNano(), ResponseTime: now.UnixNano(),
		TTL: int64(time.Minute), Body: []byte("w"), BodyLen: 1,
	}
	rec := appendRecordHead(nil, kindEntry, recAdmitL1, 0)
	rec = e.AppendEncode(rec)
	if !g.l1.set(x.pkey, rec, time.Minute) {
		t.Fatal("l1.set failed")
	}
	var ctx fasthttp.RequestCtx
	serve(g, &ctx, newRequest("GET", "/p", "example.test"), loopbackAddr)
	if got, body := ctx.Response.StatusCode(), string(ctx.Response.Body()); got != 200 || body != "whole-v1" {
		t.Errorf("GET /p = %d %q, want 200 \"whole-v1\" from the origin", got, body)
	}
}

type namedSource struct {
	name string
	p    policy.Policy
}

func (s namedSource) Policy(name string) (policy.Policy, bool) { return s.p, name == s.name }
