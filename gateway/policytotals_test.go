package gateway_test

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/gateway"
)

//go:embed testdata/policies/errmsg.wasm
var errmsgWasm []byte

// TestPolicies_FailureCountersAcrossSwaps: the per-kind failure counters
// of /metrics count every failure since start across versions: N guest
// errors on the first version, then M > N on an uploaded one, read N+M
// (a counter that restarted with the version and was only kept from
// going down would read M). The admin API's last error carries the
// guest's message.
func TestPolicies_FailureCountersAcrossSwaps(t *testing.T) {
	t.Parallel()
	origin := echoOrigin(t)
	cfg := policyConfig(origin.URL, writeModule(t, t.TempDir(), "errmsg.wasm", errmsgWasm))
	g := startPolicyGateway(t, cfg, "", gateway.Options{})
	metric := fmt.Sprintf(`flowcache_policy_guest_errors_total{policy=%q}`, "tagged")
	requests := func(n int) {
		for i := range n {
			if resp := g.Do(t, "GET", fmt.Sprintf("/p%d", i)); resp.Status != 200 {
				t.Fatalf("GET = %d, want 200 (the fallback policy)", resp.Status)
			}
		}
	}
	requests(2)
	if got := g.Metric(t, metric); got != 2 {
		t.Errorf("%s = %v after 2 failing requests, want 2", metric, got)
	}
	v2 := bytes.Replace(errmsgWasm, []byte("no route"), []byte("no rouTe"), 1)
	g.put(t, "tagged", v2)
	requests(5)
	if got := g.Metric(t, metric); got != 7 {
		t.Errorf("%s = %v after 2 + 5 failing requests across a swap, want 7", metric, got)
	}
	status, body := g.admin(t, http.MethodGet, "/policies/tagged", nil)
	if status != 200 || !strings.Contains(body, `"errors":7`) || !strings.Contains(body, "Key: no rouTe for this host") {
		t.Errorf("GET /policies/tagged = %d %s, want 7 errors and the guest's message", status, body)
	}
}
