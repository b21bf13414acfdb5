package gateway_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// TestPurgeAPI_Refresh: a soft purge with "refresh" revalidates the purged
// entries L1 holds in the background (one conditional request each, a 304),
// so that the next clients get fresh hits; entries outside the purge are
// left alone, and "refresh" without "soft" is refused.
func TestPurgeAPI_Refresh(t *testing.T) {
	t.Parallel()
	o := startVersionedOrigin(t)
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	for i := range 10 {
		g.Do(t, "GET", fmt.Sprintf("/hot/%d", i))
	}
	g.Do(t, "GET", "/cold/1")
	status, body := adminPost(t, g, "/purge", `{"tags": ["t-hot"], "soft": true, "refresh": true}`)
	var answer struct {
		Purged  int `json:"purged"`
		Refresh struct {
			ID   string `json:"id"`
			URLs int    `json:"urls"`
		} `json:"refresh"`
	}
	if err := json.Unmarshal([]byte(body), &answer); status != 200 || err != nil || answer.Purged != 10 || answer.Refresh.URLs != 10 || answer.Refresh.ID == "" {
		t.Fatalf("POST /purge soft refresh = %d %s (%v)", status, body, err)
	}
	gatewaytest.WaitFor(t, "the refresh job", func() bool { return warmJob(t, g, answer.Refresh.ID).State == "done" })
	if st := warmJob(t, g, answer.Refresh.ID); st.Reason != "refresh" || st.Done != 10 || st.Errors != 0 {
		t.Errorf("refresh job = %+v", st)
	}
	for i := range 10 {
		path := fmt.Sprintf("/hot/%d", i)
		if all, cond := o.count(path); all != 2 || cond != 1 {
			t.Errorf("%s: origin saw %d requests (%d conditional), want 2 (1): one revalidation", path, all, cond)
		}
		if r := g.Do(t, "GET", path); r.Get("X-Cache") != "HIT" || !strings.HasPrefix(r.Get("Cache-Status"), "flowcache; hit") {
			t.Errorf("GET %s after the refresh: %q %q, want a fresh hit", path, r.Get("X-Cache"), r.Get("Cache-Status"))
		}
		if all, _ := o.count(path); all != 2 {
			t.Errorf("%s: the client's GET reached the origin", path)
		}
	}
	if all, _ := o.count("/cold/1"); all != 1 {
		t.Errorf("/cold/1 (not purged) was requested again")
	}
	if status, body := adminPost(t, g, "/purge", `{"tags": ["t-hot"], "refresh": true}`); status != 400 || !strings.Contains(body, `\"refresh\" goes with \"soft\"`) {
		t.Errorf("refresh without soft = %d %s, want 400", status, body)
	}
	if status, body := adminPost(t, g, "/purge", `{"tags": ["nothing"], "soft": true, "refresh": true}`); status != 200 || body != "{\"purged\":0,\"refresh\":{\"urls\":0}}\n" {
		t.Errorf("refresh of nothing = %d %q", status, body)
	}
}
