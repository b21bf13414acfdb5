package gateway_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// promtool returns the path of Prometheus' promtool, failing the test in
// CI and skipping it elsewhere when it is missing (.ci/deps.sh installs
// Debian's prometheus package).
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool not found (.ci/deps.sh installs it): %v", err)
		}
		t.Skipf("promtool not found: %v", err)
	}
	return path
}

// runPromtool runs promtool with args and stdin, bounded by 30s, and fails
// the test unless it succeeds.
func runPromtool(t *testing.T, stdin []byte, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool(t), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// metricsGateway serves one cached route, with Redis as L2 so that
// /metrics has every family, and has answered a miss, a hit and a bypass.
func metricsGateway(t *testing.T) (*gatewaytest.Gateway, string) {
	t.Helper()
	rd := gatewaytest.StartRedis(t)
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBodyString("m")
	})
	cfg := gatewaytest.Config(o.URL)
	cfg.Redis.Addrs = []string{rd.Addr}
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	for _, want := range []string{"MISS", "HIT"} {
		if got := g.Do(t, "GET", "/m").Get("X-Cache"); got != want {
			t.Fatalf("GET /m: X-Cache %q, want %q", got, want)
		}
	}
	g.Do(t, "POST", "/m")
	status, body := g.Admin(t, "/metrics", "")
	if status != fasthttp.StatusOK {
		t.Fatalf("/metrics = %d", status)
	}
	return g, body
}

// TestMetrics_Exposition: every family of /metrics has one HELP and one
// TYPE line before its samples, the flowcache_* ones with their own help;
// counters read at scrape time are typed counter; request latency is a
// Prometheus histogram (le buckets) by route and outcome; and promtool
// finds nothing to complain about.
func TestMetrics_Exposition(t *testing.T) {
	t.Parallel()
	_, body := metricsGateway(t)
	if strings.Contains(body, "vmrange") {
		t.Error("/metrics has a vmrange histogram, which Prometheus cannot use")
	}
	help, typ := map[string]string{}, map[string]string{}
	var cur string
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, text, _ := strings.Cut(rest, " ")
			if _, dup := help[name]; dup {
				t.Errorf("HELP %s written twice", name)
			}
			help[name], cur = text, name
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, kind, _ := strings.Cut(rest, " ")
			if name != cur {
				t.Errorf("TYPE %s not after its HELP", name)
			}
			typ[name] = kind
			continue
		}
		name := line[:strings.IndexAny(line, "{ ")]
		if name != cur && !strings.HasPrefix(name, cur+"_") {
			t.Errorf("sample %q outside its family (after the metadata of %s)", line, cur)
		}
	}
	for name, text := range help {
		if strings.HasPrefix(name, "flowcache_") && (text == "" || strings.Contains(text, "Go runtime")) {
			t.Errorf("HELP %s = %q, want the family's own", name, text)
		}
	}
	for name, want := range map[string]string{
		"flowcache_l1_evictions_total":            "counter",
		"flowcache_l2_writes_dropped_full_total":  "counter",
		"flowcache_cache_index_evictions_total":   "counter",
		"flowcache_l2_breaker_state":              "gauge",
		"flowcache_http_request_duration_seconds": "histogram",
		"flowcache_upstream_duration_seconds":     "histogram",
	} {
		if typ[name] != want {
			t.Errorf("TYPE %s = %q, want %q", name, typ[name], want)
		}
	}
	for name, kind := range typ {
		if strings.HasSuffix(name, "_total") && kind != "counter" {
			t.Errorf("TYPE %s = %s, want counter", name, kind)
		}
	}
	for _, s := range []string{
		`flowcache_http_request_duration_seconds_bucket{route="api",outcome="hit",le="+Inf"} 1`,
		`flowcache_http_request_duration_seconds_count{route="api",outcome="miss"} 1`,
		`flowcache_http_request_duration_seconds_count{route="api",outcome="bypass"} 1`,
		`flowcache_upstream_duration_seconds_bucket{route="api",le="+Inf"} 2`,
	} {
		if !strings.Contains(body, "\n"+s+"\n") {
			t.Errorf("/metrics lacks %s", s)
		}
	}
	runPromtool(t, []byte(body), "check", "metrics")
}

// TestMetrics_Monitoring: the shipped alert rules pass promtool, and
// every flowcache_* family the rules and the Grafana dashboard query is
// one /metrics serves.
func TestMetrics_Monitoring(t *testing.T) {
	t.Parallel()
	_, body := metricsGateway(t)
	runPromtool(t, nil, "check", "rules", "../monitoring/alerts.yml")
	name := regexp.MustCompile(`flowcache_[a-z0-9_]+`)
	for _, file := range []string{"../monitoring/alerts.yml", "../monitoring/grafana-dashboard.json"} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range name.FindAllString(string(src), -1) {
			fam := n
			for _, suf := range []string{"_bucket", "_count", "_sum"} {
				fam = strings.TrimSuffix(fam, suf)
			}
			if !strings.Contains(body, "\n# TYPE "+fam+" ") {
				t.Errorf("%s queries %s: no such family in /metrics", file, n)
			}
		}
	}
}

// TestMetrics_Reload: a reload that removes a route removes its series;
// the routes it keeps keep counting from where they were.
func TestMetrics_Reload(t *testing.T) {
	t.Parallel()
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("r") })
	two := func() *gateway.Config {
		cfg := gatewaytest.Config(o.URL)
		cfg.Routes = append(cfg.Routes, gateway.RouteConfig{Name: "gone", PathPrefix: "/gone/", Upstreams: []string{o.URL}})
		gateway.RouteDefaults(&cfg.Routes[1])
		return cfg
	}
	reload := func(context.Context) (*gateway.Config, error) {
		cfg := gatewaytest.Config(o.URL)
		return cfg, cfg.Validate()
	}
	g := gatewaytest.StartGateway(t, two(), gateway.Options{Reload: reload})
	g.Do(t, "GET", "/a")
	g.Do(t, "GET", "/gone/b")
	if v := g.Metric(t, `flowcache_http_requests_total{route="gone"}`); v != 1 {
		t.Fatalf(`requests{route="gone"} = %v before the reload, want 1`, v)
	}
	if err := g.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.Do(t, "GET", "/a")
	if v := g.Metric(t, `flowcache_http_requests_total{route="api"}`); v != 2 {
		t.Errorf(`requests{route="api"} = %v after the reload, want 2`, v)
	}
	_, body := g.Admin(t, "/metrics", "")
	if strings.Contains(body, `route="gone"`) {
		t.Errorf("/metrics still has series of the removed route:\n%s", grepLines(body, `route="gone"`))
	}
}

func grepLines(s, sub string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
