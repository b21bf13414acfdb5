package gateway_test

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// TestGateway_Metrics: /metrics serves every documented series, counting
// what happened.
func TestGateway_Metrics(t *testing.T) {
	t.Parallel()
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBodyString("m")
	})
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	g.Do(t, "GET", "/m")
	g.Do(t, "GET", "/m")
	g.Do(t, "POST", "/m")
	status, body := g.Admin(t, "/metrics", "")
	if status != 200 {
		t.Fatalf("/metrics = %d", status)
	}
	want := map[string]string{
		`flowcache_http_requests_total{route="api"}`:                "3",
		`flowcache_cache_hits_total{route="api"}`:                   "1",
		`flowcache_cache_misses_total{route="api"}`:                 "1",
		`flowcache_cache_bypass_total{route="api"}`:                 "1",
		`flowcache_cache_stores_total{route="api"}`:                 "1",
		`flowcache_cache_stale_total{route="api"}`:                  "0",
		`flowcache_coalesce_waits_total{route="api"}`:               "0",
		`flowcache_upstream_errors_total{route="api"}`:              "0",
		`flowcache_upstream_duration_seconds_count{route="api"}`:    "2",
		`flowcache_l1_entries`:                                      "0", // the POST invalidated /m
		`flowcache_cache_invalidations_total{route="api"}`:          "1",
		`flowcache_l1_capacity_bytes`:                               "4194304",
		`flowcache_l1_evictions_total`:                              "0",
		`flowcache_http_panics_total`:                               "0",
		`flowcache_purge_requests_total`:                            "0",
		`flowcache_upstream_up{route="api",target="` + o.URL + `"}`: "1",
	}
	for series, v := range want {
		if !strings.Contains(body, "\n"+series+" "+v+"\n") {
			t.Errorf("/metrics lacks %s %s", series, v)
		}
	}
	if status, body := g.Admin(t, "/healthz", ""); status != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz = %d %q", status, body)
	}
	if status, _ := g.Admin(t, "/readyz", ""); status != 200 {
		t.Errorf("/readyz = %d", status)
	}
}
