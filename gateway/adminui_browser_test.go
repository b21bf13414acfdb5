//go:build unix

package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// chromium returns the path of Debian's headless-capable Chromium, failing
// the test in CI and skipping it elsewhere when it is missing.
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium not found (.ci/deps.sh installs it): %v", err)
		}
		t.Skipf("chromium not found: %v", err)
	}
	return path
}

// runChromium runs headless Chromium with args (after the common ones) and
// returns its stdout. It is bounded by a 60s timeout; on timeout it kills
// the process group of the Chromium it started (its zygote and renderers),
// nothing else.
func runChromium(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	common := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=5000",
	}
	cmd := exec.CommandContext(ctx, chromium(t), append(common, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The negative PID is the process group Setpgid created for it.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("chromium timed out: %v\nstderr:\n%s", ctx.Err(), stderr.Bytes())
	}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || stdout.Len() == 0 {
			t.Fatalf("chromium: %v\nstderr:\n%s", err, stderr.Bytes())
		}
		t.Logf("chromium exited with %v (output kept)", err)
	}
	return stdout.Bytes()
}

// TestAdminUI_Browser loads the admin page in a real headless browser and
// checks that its script filled in data it can only have fetched: the
// route's name from /routes and the hit count from /metrics.
func TestAdminUI_Browser(t *testing.T) {
	t.Parallel()
	chromium(t)
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBodyString("hello")
	})
	cfg := gatewaytest.Config(o.URL)
	cfg.Routes[0].Name = "browser_route"
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	for i, want := range []string{"miss", "hit"} {
		if r := g.Do(t, "GET", "/page"); r.Status != 200 {
			t.Fatalf("request %d (%s) = %d", i, want, r.Status)
		}
	}
	if got := g.Metric(t, `flowcache_cache_hits_total{route="browser_route"}`); got != 1 {
		t.Fatalf("hits = %v, want 1", got)
	}

	dom := string(runChromium(t, "--dump-dom", "http://"+g.AdminAddr+"/"))
	for _, want := range []string{
		`<td class="route-name">browser_route</td>`,
		`id="m-hits">1<`,
		`id="m-misses">1<`,
		`id="m-requests">2<`,
		`id="m-ratio">50.0%<`,
		`<span class="badge ok">up</span>`,
		`id="ready" class="badge ok">ready<`,
		`id="l2">not configured<`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("page DOM lacks %s\nDOM:\n%s", want, dom)
		}
	}
}

// TestAdminUI_BrowserCSRF: a page from another origin, in a real browser,
// sends the admin API the purge-all that a no-cors fetch can send; with no
// token set, the cached entry survives (see adminCSRF).
func TestAdminUI_BrowserCSRF(t *testing.T) {
	t.Parallel()
	chromium(t)
	var g *gatewaytest.Gateway
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/attack" {
			ctx.SetContentType("text/html")
			ctx.SetBodyString(`<html><body><script>
var u = "http://` + g.AdminAddr + `/purge", b = '{"all":true}';
fetch(u, {method: "POST", mode: "no-cors", body: b}).catch(function () {}).then(function () {
  return fetch(u, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: b});
}).catch(function () {}).then(function () { document.body.setAttribute("data-done", "1"); });
</script></body></html>`)
			return
		}
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.SetBodyString("hello")
	})
	g = gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	if r := g.Do(t, "GET", "/page"); r.Status != 200 {
		t.Fatalf("GET /page = %d", r.Status)
	}
	dom := string(runChromium(t, "--dump-dom", o.URL+"/attack"))
	if !strings.Contains(dom, `data-done="1"`) {
		t.Fatalf("the attack page did not finish its requests:\n%s", dom)
	}
	if r := g.Do(t, "GET", "/page"); r.Get("X-Cache") != "HIT" {
		t.Errorf("GET /page after the cross-site page = X-Cache %s, want HIT (nothing purged)", r.Get("X-Cache"))
	}
}
