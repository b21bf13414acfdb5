package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// Test_run_warm: flowcache warm reads a sitemap index (a file) whose
// sitemaps are served over HTTP, has the gateway request every URL, prints
// its summary, and afterwards every URL is a hit; a list file with a 5xx
// URL exits 1 and says so.
func Test_run_warm(t *testing.T) {
	t.Parallel()
	var originHits atomic.Int64
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		originHits.Add(1)
		if strings.HasPrefix(string(ctx.Path()), "/broken") {
			ctx.SetStatusCode(502)
			return
		}
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.SetBodyString("page")
	})
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	const pages = 300
	site := http.NewServeMux()
	for part := range 3 {
		site.HandleFunc(fmt.Sprintf("/sitemap-%d.xml", part), func(w http.ResponseWriter, _ *http.Request) {
			var b strings.Builder
			b.WriteString(`<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`)
			for i := part; i < pages; i += 3 {
				fmt.Fprintf(&b, "<url><loc>http://shop.test/p/%d</loc></url>", i)
			}
			b.WriteString("</urlset>")
			_, _ = io.WriteString(w, b.String()) // the test fails below if the sitemap is cut
		})
	}
	srv := httptest.NewServer(site)
	defer srv.Close()
	index := filepath.Join(t.TempDir(), "sitemap.xml")
	src := `<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`
	for part := range 3 {
		src += fmt.Sprintf("<sitemap><loc>%s/sitemap-%d.xml</loc></sitemap>", srv.URL, part)
	}
	if err := os.WriteFile(index, []byte(src+"</sitemapindex>"), 0o600); err != nil {
		t.Fatal(err)
	}
	admin := "http://" + g.AdminAddr
	var out bytes.Buffer
	args := []string{"warm", "-admin", admin, "-concurrency", "8", "-H", "Accept-Language: fr", index}
	if err := run(t.Context(), args, &out, io.Discard); err != nil {
		t.Fatalf("run(%q) = %v\n%s", args, err, out.String())
	}
	if !strings.Contains(out.String(), fmt.Sprintf("warm done: %d of %d URLs", pages, pages)) ||
		!strings.Contains(out.String(), fmt.Sprintf("stored %d, already cached 0, not cacheable 0, errors 0", pages)) {
		t.Errorf("warm printed:\n%s", out.String())
	}
	hits := originHits.Load()
	for i := range pages {
		if r := g.Do(t, "GET", fmt.Sprintf("/p/%d", i), "Host: shop.test"); r.Get("X-Cache") != "HIT" {
			t.Fatalf("GET /p/%d after warming: X-Cache %q, want HIT", i, r.Get("X-Cache"))
		}
	}
	if n := originHits.Load() - hits; n != 0 {
		t.Errorf("the origin got %d requests after warming, want 0", n)
	}

	// A second node warms from the first one's hot URLs.
	g2 := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	out.Reset()
	args = []string{"warm", "-admin", "http://" + g2.AdminAddr, "-from", admin, "-limit", "100"}
	if err := run(t.Context(), args, &out, io.Discard); err != nil || !strings.Contains(out.String(), "warm done: 100 of 100 URLs") {
		t.Fatalf("run(%q) = %v\n%s", args, err, out.String())
	}
	if r := g2.Do(t, "GET", fmt.Sprintf("/p/%d", pages-1), "Host: shop.test"); r.Get("X-Cache") != "HIT" {
		t.Errorf("node 2, GET of a page hot on node 1: X-Cache %q, want HIT", r.Get("X-Cache"))
	}

	list := filepath.Join(t.TempDir(), "urls.txt")
	if err := os.WriteFile(list, []byte("# two pages\nhttp://shop.test/p/1\nhttp://shop.test/broken/1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err := run(t.Context(), []string{"warm", "-admin", admin, list}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "warm: 1 requests failed (last: shop.test/broken/1: status 502)") {
		t.Errorf("warm with a failing URL = %v", err)
	}
	if !strings.Contains(out.String(), "already cached 1, not cacheable 0, errors 1") {
		t.Errorf("warm with a failing URL printed:\n%s", out.String())
	}
	for _, bad := range [][]string{{}, {"-H", "nocolon", list}, {list, list}, {"-from", admin, list}} {
		args := append([]string{"warm", "-admin", admin}, bad...)
		if err := run(t.Context(), args, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "invalid usage") {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
	if err := run(t.Context(), []string{"warm", "-admin", admin, filepath.Join(t.TempDir(), "none.xml")}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("warm of a missing file = %v", err)
	}
}
