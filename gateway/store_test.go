package gateway

import (
	"fmt"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/l2/redistest"
	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// tierPolicy keys like the default policy and stores for a minute in the
// tier it names, admitting to L1 or not.
type tierPolicy struct {
	policy.Default
	tier  policy.Tier
	admit bool
}

func (p *tierPolicy) Decide(_ *policy.Request, _ *policy.Response, d *policy.Decision) error {
	d.Store, d.TTL, d.Tier, d.Admit = true, time.Minute, p.tier, p.admit
	return nil
}

// newTierGateway is a gateway whose route "api" uses p.
func newTierGateway(t *testing.T, up string, p policy.Policy, redisAddr string) *Gateway {
	t.Helper()
	cfg := testConfig(up)
	cfg.Routes[0].Policy = "tier"
	pc := plugins.DefaultConfig()
	pc.Module = "tier.wasm" // never loaded: the source below serves "tier"
	cfg.Policies = map[string]plugins.Config{"tier": pc}
	if redisAddr != "" {
		cfg.Redis.Addrs = []string{redisAddr}
	}
	g := newTestGateway(t, cfg)
	g.policies = namedSource{name: "tier", p: p}
	return g
}

// TestGateway_TierChoice: one rule decides where an entry and its variant
// record go. A response the policy does not admit to L1 leaves no trace
// in L1, neither its entry nor, when it varies, its variant record
// (which went to L1 whatever the admission before the rule was one).
func TestGateway_TierChoice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		vary   bool
		admit  bool
		tier   policy.Tier
		wantL1 bool
	}{
		{name: "admitted", admit: true, wantL1: true},
		{name: "admitted_vary", vary: true, admit: true, wantL1: true},
		{name: "not_admitted", admit: false},
		{name: "not_admitted_vary", vary: true, admit: false},
		{name: "l2_only_vary", vary: true, admit: true, tier: policy.TierL2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
				if tc.vary {
					ctx.Response.Header.Set("Vary", "Accept-Language")
				}
				ctx.SetBodyString("hello")
			})
			rd := redistest.Start(t)
			g := newTierGateway(t, up, &tierPolicy{tier: tc.tier, admit: tc.admit}, rd.Addr)
			var ctx fasthttp.RequestCtx
			serve(g, &ctx, newRequest("GET", "/t", "example.test", "Accept-Language", "en"), loopbackAddr)
			if ctx.Response.StatusCode() != 200 {
				t.Fatalf("status %d", ctx.Response.StatusCode())
			}
			pkey := "api\x00example.test\x00/t"
			_, inL1 := g.l1.get([]byte(pkey), nil)
			if inL1 != tc.wantL1 {
				t.Errorf("L1 holds the URL's record: %v, want %v", inL1, tc.wantL1)
			}
			if n := g.l1.c.EntryCount(); !tc.wantL1 && n != 0 {
				t.Errorf("L1 holds %d records, want none", n)
			}
		})
	}
}

// TestL1Cache_ForEachChunk: the one chunk layout covers the body after
// the head's part exactly, in chunks of chunkSize, the last one shorter.
func TestL1Cache_ForEachChunk(t *testing.T) {
	t.Parallel()
	l := &l1Cache{maxKV: 100}
	key := []byte("k") // chunkSize 100 - 1 - 14 = 85
	for _, tc := range []struct {
		name    string
		first   int
		bodyLen int64
		want    [][2]int64
	}{
		{name: "none", first: 10, bodyLen: 10},
		{name: "one_short", first: 10, bodyLen: 50, want: [][2]int64{{10, 50}}},
		{name: "exact", first: 15, bodyLen: 185, want: [][2]int64{{15, 100}, {100, 185}}},
		{name: "last_short", first: 0, bodyLen: 200, want: [][2]int64{{0, 85}, {85, 170}, {170, 200}}},
	} {
		var ckey []byte
		var got [][2]int64
		ok := l.forEachChunk(&ckey, key, 7, tc.first, tc.bodyLen, func(c []byte, from, to int64) bool {
			if want := appendChunkKey(nil, key, 7, len(got)); string(c) != string(want) {
				t.Errorf("%s: chunk %d key %q, want %q", tc.name, len(got), c, want)
			}
			got = append(got, [2]int64{from, to})
			return true
		})
		if !ok || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: forEachChunk = %v, %v; want %v, true", tc.name, got, ok, tc.want)
		}
	}
	small := &l1Cache{maxKV: 10} // not even a byte beside the key
	if small.forEachChunk(new([]byte), key, 7, 0, 5, func([]byte, int64, int64) bool { return true }) {
		t.Error("forEachChunk with no room for a byte reported success")
	}
}
