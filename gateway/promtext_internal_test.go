package gateway

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/flowcache/flowcache/plugins"
)

func TestMonotonic_Value(t *testing.T) {
	t.Parallel()
	var m monotonic
	for i, tc := range []struct{ in, want uint64 }{
		{3, 3}, {5, 5}, {5, 5}, {1, 6}, {4, 9}, {0, 9}, {2, 11},
	} {
		if got := m.value(tc.in); got != tc.want {
			t.Fatalf("reading %d: value(%d) = %d, want %d", i, tc.in, got, tc.want)
		}
	}
}

// scrape returns the value of series in set's exposition, or -1.
func scrape(t *testing.T, set *metrics.Set, series string) float64 {
	t.Helper()
	var b bytes.Buffer
	set.WritePrometheus(&b)
	for _, l := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return -1
}

// TestL1Cache_CountersSurviveClear: flushing L1 (after a Redis
// reconnection) does not take its eviction and overwrite counters back to
// zero, as freecache's own do.
func TestL1Cache_CountersSurviveClear(t *testing.T) {
	t.Parallel()
	l := newL1Cache(0, time.Now)
	set := metrics.NewSet()
	l.register(set)
	val := make([]byte, 400) // under maxKV of the smallest L1
	for i := range 2000 {
		l.set(fmt.Appendf(nil, "k%d", i), val, time.Hour)
	}
	l.set([]byte("k1999"), val, time.Hour)
	ev := scrape(t, set, "flowcache_l1_evictions_total")
	ow := scrape(t, set, "flowcache_l1_overwrites_total")
	if ev <= 0 || ow <= 0 {
		t.Fatalf("before clear: evictions %v, overwrites %v, want > 0", ev, ow)
	}
	l.clear()
	if got := scrape(t, set, "flowcache_l1_evictions_total"); got != ev {
		t.Errorf("evictions after clear = %v, want %v", got, ev)
	}
	l.set([]byte("k0"), val, time.Hour)
	l.set([]byte("k0"), val, time.Hour)
	if got := scrape(t, set, "flowcache_l1_overwrites_total"); got != ow+1 {
		t.Errorf("overwrites after clear and one more = %v, want %v", got, ow+1)
	}
}

// TestPolicyCounters_NeverDown: a new policy version restarts its
// counters in the store; /metrics carries on from the old total. A
// deleted policy leaves /metrics.
func TestPolicyCounters_NeverDown(t *testing.T) {
	t.Parallel()
	var pc policyCounters
	write := func(infos ...plugins.Info) string {
		var b bytes.Buffer
		pc.writePolicyMetrics(&b, infos, nil)
		return b.String()
	}
	in := plugins.Info{Name: "p", Calls: 10}
	in.Stats.Traps = 5
	write(in)
	in.Calls, in.Stats.Traps = 12, 1 // a new version: its traps start again
	out := write(in, plugins.Info{Name: "q"})
	for _, s := range []string{`flowcache_policy_traps_total{policy="p"} 6`, `flowcache_policy_calls_total{policy="p"} 12`, `flowcache_policy_calls_total{policy="q"} 0`} {
		if !strings.Contains(out, s+"\n") {
			t.Errorf("after a new version, /metrics lacks %s:\n%s", s, out)
		}
	}
	if out := write(in); strings.Contains(out, `policy="q"`) {
		t.Errorf("deleted policy q still written:\n%s", out)
	}
}

// TestAnnotate: metadata once per family, before its samples, kept when
// already written; vmrange histograms and misnamed runtime families left
// out.
func TestAnnotate(t *testing.T) {
	t.Parallel()
	src := `flowcache_cache_hits_total{route="a"} 1
flowcache_cache_hits_total{route="b"} 2
flowcache_http_request_duration_seconds_bucket{route="a",outcome="hit",le="+Inf"} 1
flowcache_http_request_duration_seconds_sum{route="a",outcome="hit"} 0.5
flowcache_http_request_duration_seconds_count{route="a",outcome="hit"} 1
# HELP flowcache_policy_calls_total Calls.
# TYPE flowcache_policy_calls_total counter
flowcache_policy_calls_total{policy="p"} 3
go_cpu_count 2
old_seconds_bucket{vmrange="1.000e-01...1.136e-01"} 1
go_gc_pauses_seconds_bucket{le="+Inf"} 0
`
	want := `# HELP flowcache_cache_hits_total Fresh answers from the cache, by route.
# TYPE flowcache_cache_hits_total counter
flowcache_cache_hits_total{route="a"} 1
flowcache_cache_hits_total{route="b"} 2
# HELP flowcache_http_request_duration_seconds ` + metricFamilies["flowcache_http_request_duration_seconds"].help + `
# TYPE flowcache_http_request_duration_seconds histogram
flowcache_http_request_duration_seconds_bucket{route="a",outcome="hit",le="+Inf"} 1
flowcache_http_request_duration_seconds_sum{route="a",outcome="hit"} 0.5
flowcache_http_request_duration_seconds_count{route="a",outcome="hit"} 1
# HELP flowcache_policy_calls_total Calls.
# TYPE flowcache_policy_calls_total counter
flowcache_policy_calls_total{policy="p"} 3
# HELP go_gc_pauses_seconds ` + runtimeHelp + `
# TYPE go_gc_pauses_seconds histogram
go_gc_pauses_seconds_bucket{le="+Inf"} 0
`
	var b bytes.Buffer
	annotate(&b, []byte(src))
	if b.String() != want {
		t.Errorf("annotate =\n%s\nwant\n%s", b.String(), want)
	}
}
