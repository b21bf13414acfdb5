package gateway_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// TestConsole_Browser drives the admin page in headless Chromium over the
// DevTools protocol, as an operator would: log in with the token, look up
// a cached URL in the key inspector, purge it with the purge form, find
// the purge (made by the session) in the audit log, and roll a policy back
// with its button.
func TestConsole_Browser(t *testing.T) {
	t.Parallel()
	path := chromium(t)
	const tok = "browser-s3cret"
	origin := echoOrigin(t)
	dir := t.TempDir()
	cfg := policyConfig(origin.URL, writeModule(t, dir, "tagged.wasm", tagged(t, tagName(0))))
	cfg.Admin.Token = tok
	g := startPolicyGateway(t, cfg, "", gateway.Options{})
	first := g.store.List()[0].Active
	if _, err := g.store.Put(context.Background(), "tagged", tagged(t, tagName(1)), nil); err != nil {
		t.Fatal(err)
	}
	if r := g.Do(t, "GET", "/r?tag=x"); r.Status != 200 {
		t.Fatalf("GET /r = %d", r.Status)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(browserDir(t)), chromedp.Flag("disable-quic", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	text := func(sel chromedp.CSS) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("browser: text of %s: %v", sel, err)
		}
		return s
	}
	poll := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second))
	}
	base := "http://" + g.AdminAddr
	step("log in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), tok),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("logout")))
	step("search a key",
		chromedp.SetValue(chromedp.ID("insp-url"), "http://example.test/r?tag=x"),
		chromedp.Click(chromedp.ID("insp-go")),
		chromedp.WaitVisible(chromedp.ID("insp-answer")))
	answer := text("#insp-answer")
	step("purge",
		chromedp.SetValue(chromedp.ID("p-value"), "http://example.test/r"),
		chromedp.Click(chromedp.CSS("#purge button")),
		poll(`document.getElementById("purge-result").textContent.indexOf("HTTP 200") === 0`))
	purged := text("#purge-result")
	step("see the purge in the audit log", chromedp.WaitVisible(chromedp.CSS("#audit tr.audit-purge")))
	auditRow := text("#audit tr.audit-purge")
	step("roll back",
		chromedp.WaitEnabled(chromedp.ID("rollback-tagged")),
		chromedp.Click(chromedp.ID("rollback-tagged")),
		poll(`document.getElementById("rollback-result").textContent.indexOf("tagged: active") === 0`),
		chromedp.WaitVisible(chromedp.CSS("#audit tr.audit-policy_rollback")))
	rolled := text("#rollback-result")
	if !strings.Contains(answer, "hit") {
		t.Errorf("inspector answer %q, want a hit", answer)
	}
	if !strings.Contains(purged, `"purged":1`) {
		t.Errorf("purge result %q, want one entry purged", purged)
	}
	if !strings.Contains(auditRow, "(session)") || !strings.Contains(auditRow, "example.test") {
		t.Errorf("audit row %q, want the session's purge of example.test", auditRow)
	}
	if in, _ := g.store.Get("tagged"); in.Active != first || !strings.Contains(rolled, first) {
		t.Errorf("after the rollback button: active %s (page: %q), want %s", in.Active, rolled, first)
	}
	if r := g.Do(t, "GET", "/r?tag=x"); r.Get("X-Cache") == "HIT" {
		t.Errorf("GET /r after the purge: X-Cache %s", r.Get("X-Cache"))
	}
}

// browserDir returns a Chromium profile directory for the test, removed at
// its end; Chromium's children may still write there for a moment after
// it stops, so removal is retried (bounded).
func browserDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "flowcache-chromium")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		gatewaytest.WaitFor(t, "the removal of "+dir, func() bool { return os.RemoveAll(dir) == nil })
	})
	return dir
}
