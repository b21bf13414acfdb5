package gateway_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// warmStatus is GET /warm/ID's answer.
type warmStatus = gateway.WarmStatus

func startWarm(t *testing.T, g *gatewaytest.Gateway, body string) warmStatus {
	t.Helper()
	status, resp := adminPost(t, g, "/warm", body)
	if status != 202 {
		t.Fatalf("POST /warm = %d %s", status, resp)
	}
	var st warmStatus
	if err := json.Unmarshal([]byte(resp), &st); err != nil || st.ID == "" {
		t.Fatalf("POST /warm answer %q: %v", resp, err)
	}
	return st
}

func warmJob(t *testing.T, g *gatewaytest.Gateway, id string) warmStatus {
	t.Helper()
	status, body := g.Admin(t, "/warm/"+id, "")
	if status != 200 {
		t.Fatalf("GET /warm/%s = %d %s", id, status, body)
	}
	var st warmStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestWarm: a job requests every URL through the data plane: cacheable
// answers are stored (and are hits afterwards), no-store ones counted as
// not cacheable, 5xx as errors, and URLs already cached as cached; the
// headers given select the Vary variant warmed.
func TestWarm(t *testing.T) {
	t.Parallel()
	var originHits atomic.Int64
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		originHits.Add(1)
		p := string(ctx.Path())
		switch {
		case strings.HasPrefix(p, "/n/"):
			ctx.Response.Header.Set("Cache-Control", "no-store")
		case strings.HasPrefix(p, "/e/"):
			ctx.SetStatusCode(503)
		default:
			ctx.Response.Header.Set("Cache-Control", "max-age=600")
			ctx.Response.Header.Set("Vary", "Accept-Language")
		}
		fmt.Fprintf(ctx, "%s %s", p, ctx.Request.Header.Peek("Accept-Language"))
	})
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	var urls []string
	for i := range 40 {
		urls = append(urls, fmt.Sprintf("http://api.test/c/%d", i))
	}
	urls = append(urls, "http://api.test/n/1", "http://api.test/e/1", "http://api.test/c/0?again")
	g.Do(t, "GET", "/c/0?again", "Host: api.test", "Accept-Language: fr") // already cached
	body, _ := json.Marshal(map[string]any{"urls": urls, "headers": map[string]string{"Accept-Language": "fr"}, "concurrency": 3})
	st := startWarm(t, g, string(body))
	if st.State != "running" || st.Total != 43 || st.Concurrency != 3 {
		t.Errorf("POST /warm = %+v", st)
	}
	gatewaytest.WaitFor(t, "the warm job", func() bool { return warmJob(t, g, st.ID).State == "done" })
	st = warmJob(t, g, st.ID)
	if st.Done != 43 || st.Stored != 40 || st.Cached != 1 || st.NotCacheable != 1 || st.Errors != 1 || !strings.Contains(st.LastError, "503") {
		t.Errorf("job = %+v, want 43 done: 40 stored, 1 cached, 1 not cacheable, 1 error (503)", st)
	}
	hits := originHits.Load()
	for _, u := range urls[:40] {
		path := strings.TrimPrefix(u, "http://api.test")
		if r := g.Do(t, "GET", path, "Host: api.test", "Accept-Language: fr"); r.Get("X-Cache") != "HIT" {
			t.Fatalf("GET %s after warming: X-Cache %q, want HIT", path, r.Get("X-Cache"))
		}
	}
	if n := originHits.Load(); n != hits {
		t.Errorf("the origin got %d requests after warming, want 0", n-hits)
	}
	if r := g.Do(t, "GET", "/c/1", "Host: api.test", "Accept-Language: en"); r.Get("X-Cache") != "MISS" {
		t.Errorf("another Vary variant: X-Cache %q, want MISS", r.Get("X-Cache"))
	}
	if m := g.Metric(t, "flowcache_warm_stored_total"); m != 40 {
		t.Errorf("flowcache_warm_stored_total = %v, want 40", m)
	}
	status, list := g.Admin(t, "/warm", "")
	if status != 200 || !strings.Contains(list, `"id":"`+st.ID+`"`) {
		t.Errorf("GET /warm = %d %s", status, list)
	}
	// The hot URLs, newest first: /c/1 was just stored again (another
	// variant) and comes first.
	status, hot := g.Admin(t, "/warm/hot?limit=3", "")
	var h struct{ URLs []string }
	if err := json.Unmarshal([]byte(hot), &h); status != 200 || err != nil || len(h.URLs) != 3 || h.URLs[0] != "http://api.test/c/1" {
		t.Errorf("GET /warm/hot?limit=3 = %d %s", status, hot)
	}
	for _, bad := range []string{"0", "x", "100001"} {
		if status, _ := g.Admin(t, "/warm/hot?limit="+bad, ""); status != 400 {
			t.Errorf("GET /warm/hot?limit=%s = %d, want 400", bad, status)
		}
	}
}

// TestWarm_Cancel: DELETE /warm/ID stops a job; the rate cap paces it.
func TestWarm_Cancel(t *testing.T) {
	t.Parallel()
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
	})
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	var urls []string
	for i := range 1000 {
		urls = append(urls, fmt.Sprintf("http://api.test/%d", i))
	}
	body, _ := json.Marshal(map[string]any{"urls": urls, "rate": 20})
	st := startWarm(t, g, string(body))
	gatewaytest.WaitFor(t, "a first request", func() bool { return warmJob(t, g, st.ID).Done > 0 })
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI("http://" + g.AdminAddr + "/warm/" + st.ID)
	req.Header.SetMethod("DELETE")
	req.Header.SetHost("localhost")
	var resp fasthttp.Response
	if err := fasthttp.DoTimeout(req, &resp, 10*time.Second); err != nil || resp.StatusCode() != 200 {
		t.Fatalf("DELETE /warm/%s = %v %d %s", st.ID, err, resp.StatusCode(), resp.Body())
	}
	gatewaytest.WaitFor(t, "the cancelled job", func() bool { return warmJob(t, g, st.ID).State == "cancelled" })
	done := warmJob(t, g, st.ID).Done
	if done >= 1000 {
		t.Errorf("cancelled job did %d of 1000", done)
	}
	if status, _ := g.Admin(t, "/warm/nope", ""); status != 404 {
		t.Errorf("GET /warm/nope = %d, want 404", status)
	}
}

// TestWarm_Errors: bad POST /warm bodies are 400s naming the problem.
func TestWarm_Errors(t *testing.T) {
	t.Parallel()
	g := gatewaytest.StartGateway(t, gatewaytest.Config("http://127.0.0.1:9"), gateway.Options{})
	for body, want := range map[string]string{
		`{}`:              "urls: at least one URL",
		`{"urls":["/x"]}`: "urls[0]",
		`{"urls":["http://h/"],"concurrency":65}`:           "concurrency",
		`{"urls":["http://h/"],"rate":-1}`:                  "rate",
		`{"urls":["http://h/"],"headers":{"Bad Name":"x"}}`: "not a valid header field",
		`{"urls":["http://h/"],"headers":{"Host":"x"}}`:     "set by the gateway",
		`{"urls":["http://h/"],"bogus":1}`:                  "unknown field",
	} {
		status, resp := adminPost(t, g, "/warm", body)
		if status != 400 || !strings.Contains(resp, want) {
			t.Errorf("POST /warm %s = %d %s, want 400 with %q", body, status, resp, want)
		}
	}
}
