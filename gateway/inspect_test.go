package gateway_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

func inspectOrigin(t *testing.T) *gatewaytest.Origin {
	t.Helper()
	return gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600, stale-while-revalidate=30")
		ctx.Response.Header.Set("ETag", `"e1"`)
		ctx.Response.Header.Set("Surrogate-Key", "red blue")
		if string(ctx.Path()) == "/v" {
			ctx.Response.Header.Set("Vary", "Accept-Language")
		}
		ctx.SetBodyString("body:" + string(ctx.Request.Header.Peek("Accept-Language")))
	})
}

func lookup(t *testing.T, g *gatewaytest.Gateway, rawURL string, header ...string) (int, gateway.Inspection, string) {
	t.Helper()
	q := url.Values{"url": {rawURL}, "header": header}
	status, body := g.Admin(t, "/cache/lookup?"+q.Encode(), "")
	var in gateway.Inspection
	if status == 200 {
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Fatal(err)
		}
	}
	return status, in, body
}

// TestInspect_Variants: /cache/lookup shows the route, policy, key, both
// tiers, every variant with its Vary values, TTL, windows, size, tags and
// validators, and which one a request with the given header would get; it
// asks no upstream and changes nothing.
func TestInspect_Variants(t *testing.T) {
	t.Parallel()
	o := inspectOrigin(t)
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	g.Do(t, "GET", "/v?b=2", "Accept-Language: en")
	g.Do(t, "GET", "/v?b=2", "Accept-Language: fr")
	before := o.Requests()
	status, in, body := lookup(t, g, "http://example.test/v?b=2", "Accept-Language: fr")
	if status != 200 {
		t.Fatalf("lookup = %d %s", status, body)
	}
	if in.Route != "api" || in.Policy != "default" || in.Key.Host != "example.test" || in.Key.Target != "/v?b=2" || !in.InL1 || in.InL2 {
		t.Errorf("lookup = %s", body)
	}
	if len(in.Vary) != 1 || in.Vary[0] != "accept-language" || len(in.Variants) != 2 {
		t.Fatalf("vary %v, %d variants, want accept-language and 2: %s", in.Vary, len(in.Variants), body)
	}
	var fr *gateway.InspectedEntry
	for i := range in.Variants {
		v := &in.Variants[i]
		if v.Matches != (v.VaryValues["accept-language"] == "fr") {
			t.Errorf("variant %v: matches %v", v.VaryValues, v.Matches)
		}
		if v.Matches {
			fr = v
		}
	}
	if fr == nil {
		t.Fatalf("no variant matches fr: %s", body)
	}
	if fr.Status != 200 || fr.TTL != 600 || fr.TTLLeft <= 0 || fr.TTLLeft > 600 || fr.StaleWhileRevalidate != 30 ||
		fr.Size != int64(len("body:fr")) || fr.Tags != "red blue" || fr.ETag != `"e1"` || fr.StoredAt.IsZero() || fr.Invalidated || !fr.InL1 {
		t.Errorf("fr variant = %+v", *fr)
	}
	if in.Answer != "hit" || !strings.HasPrefix(in.CacheStatus, "flowcache; hit") {
		t.Errorf("answer %q, cache status %q, want a hit", in.Answer, in.CacheStatus)
	}
	if _, de, _ := lookup(t, g, "http://example.test/v?b=2", "Accept-Language: de"); de.Answer != "miss" || len(de.Variants) != 2 {
		t.Errorf("lookup for de: answer %q with %d variants, want miss with 2", de.Answer, len(de.Variants))
	}
	if o.Requests() != before {
		t.Errorf("lookup asked the upstream %d times", o.Requests()-before)
	}
	if r := g.Do(t, "GET", "/v?b=2", "Accept-Language: fr"); r.Get("X-Cache") != "HIT" || string(r.Body) != "body:fr" {
		t.Errorf("GET after lookup: %s %q, want the stored hit", r.Get("X-Cache"), r.Body)
	}
	// A soft purge shows as invalidated and revalidate.
	g.Do(t, "PURGE", "/v?b=2&soft=1")
	if _, in, body := lookup(t, g, "http://example.test/v?b=2", "Accept-Language: fr"); in.Answer != "revalidate" || !in.Variants[0].Invalidated {
		t.Errorf("after a soft purge: %s", body)
	}
}

// TestInspect_Answers: a URL not stored is a miss; a no_cache route is a
// bypass; bad input is 400, a URL no route takes 404.
func TestInspect_Answers(t *testing.T) {
	t.Parallel()
	o := inspectOrigin(t)
	cfg := gatewaytest.Config(o.URL)
	cfg.Routes[0].Host = "example.test"
	cfg.Routes = append(cfg.Routes, gateway.RouteConfig{Name: "live", Host: "example.test", PathPrefix: "/live/", Upstreams: []string{o.URL}, NoCache: true})
	gateway.RouteDefaults(&cfg.Routes[1])
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	if _, in, body := lookup(t, g, "http://example.test/nothing"); in.Answer != "miss" || in.InL1 || len(in.Variants) != 0 {
		t.Errorf("not stored: %s", body)
	}
	if _, in, body := lookup(t, g, "http://example.test/live/x"); in.Answer != "bypass" || in.Route != "live" {
		t.Errorf("no_cache route: %s", body)
	}
	for _, tc := range []struct {
		url, header string
		status      int
		msg         string
	}{
		{"/relative", "", 400, "absolute http or https URL"},
		{"ftp://example.test/x", "", 400, "absolute http or https URL"},
		{"http://example.test/x", "no colon", 400, `want \"Name: value\"`},
		{"http://other.test/x", "", 404, "no route"},
	} {
		var h []string
		if tc.header != "" {
			h = []string{tc.header}
		}
		if status, _, body := lookup(t, g, tc.url, h...); status != tc.status || !strings.Contains(body, tc.msg) {
			t.Errorf("lookup %q %q = %d %s, want %d with %q", tc.url, tc.header, status, body, tc.status, tc.msg)
		}
	}
	if o.Requests() != 0 {
		t.Errorf("lookups asked the upstream %d times", o.Requests())
	}
}

// TestInspect_L2: a node that never served the URL sees it in L2 only
// (answer hit-l2), and looking does not copy it into its L1.
func TestInspect_L2(t *testing.T) {
	t.Parallel()
	rd := gatewaytest.StartRedis(t)
	o := inspectOrigin(t)
	node := func() *gatewaytest.Gateway {
		cfg := gatewaytest.Config(o.URL)
		cfg.Redis.Addrs = []string{rd.Addr}
		return gatewaytest.StartGateway(t, cfg, gateway.Options{})
	}
	a, b := node(), node()
	a.Do(t, "GET", "/p")
	gatewaytest.WaitFor(t, "the entry in L2", func() bool {
		_, in, _ := lookup(t, b, "http://example.test/p")
		return in.InL2
	})
	for range 2 {
		_, in, body := lookup(t, b, "http://example.test/p")
		if in.InL1 || !in.InL2 || in.Answer != "hit-l2" || len(in.Variants) != 1 || in.Variants[0].InL1 {
			t.Errorf("lookup on b: %s", body)
		}
	}
}
