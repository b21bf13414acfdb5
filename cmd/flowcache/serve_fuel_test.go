package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Test_run_hostilePolicy runs `flowcache serve` with a policy that passes
// its dry run but runs a loop of divisions on every request whose path
// starts with /spin (plugins/testdata/hostile.wat, shape 2): each such
// request is still answered by the origin through the fallback policy
// (never a 5xx), /healthz answers while the hostile calls run, and the
// admin API and the metrics show the fuel error.
func Test_run_hostilePolicy(t *testing.T) {
	t.Parallel()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "ok:"+r.URL.Path)
	}))
	t.Cleanup(origin.Close)
	_, listen, admin := servePolicy(t, origin.URL, "../../plugins/testdata/hostile.wasm", "hostile", "error",
		"call_timeout = \"10s\"\nconfig = { s = 2 }\n") // fuel, not the watchdog, must stop every call, even on a loaded machine

	const workers, perWorker = 2, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				path := fmt.Sprintf("/spin/%d/%d", w, i)
				if status, _, body := get(t, "http://"+listen+path); status != http.StatusOK || body != "ok:"+path {
					t.Errorf("GET %s = %d %q, want 200 from the origin", path, status, body)
				}
			}
		})
	}
	wg.Go(func() {
		for range perWorker {
			if status, _, body := get(t, "http://"+admin+"/healthz"); status != http.StatusOK {
				t.Errorf("GET /healthz during hostile calls = %d %q", status, body)
			}
		}
	})
	wg.Wait()

	var view struct {
		Calls     uint64 `json:"calls"`
		Errors    uint64 `json:"errors"`
		LastError string `json:"last_error"`
		Stats     struct {
			FuelExhausted uint64 `json:"fuel_exhausted"`
		} `json:"stats"`
	}
	status, _, body := get(t, "http://"+admin+"/policies/hostile")
	if err := json.Unmarshal([]byte(body), &view); status != http.StatusOK || err != nil {
		t.Fatalf("GET /policies/hostile = %d %q: %v", status, body, err)
	}
	const want = `: key: fuel exhausted (budget 2000000 units, ~1ms of CPU)`
	if view.Stats.FuelExhausted < workers*perWorker || view.Errors < workers*perWorker ||
		!strings.HasPrefix(view.LastError, `plugins: policy "hostile" version `) || !strings.HasSuffix(view.LastError, want) {
		t.Errorf("GET /policies/hostile: %+v; want %d fuel exhaustions, the last one %q", view, workers*perWorker, want)
	}
	_, _, metrics := get(t, "http://"+admin+"/metrics")
	if line := fmt.Sprintf("flowcache_policy_fuel_exhausted_total{policy=\"hostile\"} %d", view.Stats.FuelExhausted); !strings.Contains(metrics, line) {
		t.Errorf("/metrics has no %q", line)
	}
}
