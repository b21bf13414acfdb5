package gateway_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// browser is an HTTP client with a cookie jar, as a browser on the
// admin listener.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, g *gatewaytest.Gateway) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: "http://" + g.AdminAddr, c: &http.Client{
		Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) do(method, path, contentType, body string, header ...string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body)) //nolint:noctx // a test against a loopback server
	if err != nil {
		b.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, sb.String()
}

func (b *browser) login(token string, header ...string) *http.Response {
	b.t.Helper()
	resp, _ := b.do("POST", "/login", "application/x-www-form-urlencoded", url.Values{"token": {token}}.Encode(), header...)
	return resp
}

// TestSession_Login: with a token set, a browser logs in with a form,
// gets a HttpOnly SameSite=Strict session cookie, uses the admin API with
// it (state changes need the session's CSRF token), and logs out.
func TestSession_Login(t *testing.T) {
	t.Parallel()
	const tok = "s3cret-token"
	o := cachedOrigin(t)
	cfg := gatewaytest.Config(o.URL)
	cfg.Admin.Token = tok
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	b := newBrowser(t, g)
	if resp, body := b.do("GET", "/", "", ""); resp.StatusCode != 200 || !strings.Contains(body, `action="/login"`) {
		t.Fatalf("GET / without a session = %d, want the login form:\n%s", resp.StatusCode, body)
	}
	if resp := b.login("wrong"); resp.StatusCode != 403 {
		t.Errorf("wrong token: %d, want 403", resp.StatusCode)
	}
	if resp := b.login(tok, "Sec-Fetch-Site", "cross-site"); resp.StatusCode != 403 {
		t.Errorf("cross-site login: %d, want 403", resp.StatusCode)
	}
	resp := b.login(tok)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login = %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"flowcache_session=", "HttpOnly", "SameSite=Strict", "max-age=43200", "path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("Set-Cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "secure") {
		t.Errorf("Set-Cookie %q: secure over plain http", cookie)
	}
	if resp, body := b.do("GET", "/", "", ""); resp.StatusCode != 200 || !strings.Contains(body, `id="m-hits"`) {
		t.Errorf("GET / with a session = %d, want the admin page", resp.StatusCode)
	}
	_, sess := b.do("GET", "/session", "", "")
	csrf := between(sess, `"csrf":"`, `"`)
	if !strings.Contains(sess, `"auth":"session"`) || len(csrf) != 64 {
		t.Fatalf("GET /session = %s", sess)
	}
	if resp, _ := b.do("POST", "/purge", "application/json", `{"all":true}`); resp.StatusCode != 403 {
		t.Errorf("POST /purge with the session but no CSRF token = %d, want 403", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/purge", "application/json", `{"all":true}`, "X-CSRF-Token", strings.Repeat("0", 64)); resp.StatusCode != 403 {
		t.Errorf("POST /purge with a wrong CSRF token = %d, want 403", resp.StatusCode)
	}
	if resp, body := b.do("POST", "/purge", "application/json", `{"all":true}`, "X-CSRF-Token", csrf); resp.StatusCode != 200 {
		t.Errorf("POST /purge with the session's CSRF token = %d %s", resp.StatusCode, body)
	}
	a := getAudit(t, g, tok, "")
	if len(a.Events) < 3 || a.Events[0].Action != "purge" || a.Events[0].Auth != "session" || a.Events[1].Action != "login" || a.Events[1].Result != "ok" {
		t.Errorf("audit after a session purge: %+v", a.Events)
	}
	if resp, _ := b.do("POST", "/logout", "application/json", "", "X-CSRF-Token", csrf); resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Set-Cookie"), "flowcache_session=;") {
		t.Errorf("logout = %d, Set-Cookie %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
	if resp, _ := b.do("GET", "/routes", "", ""); resp.StatusCode != 403 {
		t.Errorf("GET /routes after logout = %d, want 403", resp.StatusCode)
	}
	// The bearer header keeps working for tools, without a CSRF token.
	if status, _ := adminRequest(t, g, "POST", "/purge", tok, `{"all":true}`); status != 200 {
		t.Errorf("POST /purge with the bearer token = %d", status)
	}
}

// TestSession_SecureBehindHTTPS: behind a trusted proxy that says https,
// the session cookie is Secure.
func TestSession_SecureBehindHTTPS(t *testing.T) {
	t.Parallel()
	cfg := gatewaytest.Config("http://127.0.0.1:1")
	cfg.Admin.Token = "tok"
	cfg.Server.TrustedProxies = []string{"127.0.0.0/8"}
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	resp := newBrowser(t, g).login("tok", "X-Forwarded-For", "203.0.113.9", "X-Forwarded-Proto", "https")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Set-Cookie"), "secure") {
		t.Errorf("login behind https = %d, Set-Cookie %q, want secure", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
}

// TestPprof: /debug/pprof/ is on the admin listener, behind its check.
func TestPprof(t *testing.T) {
	t.Parallel()
	cfg := gatewaytest.Config("http://127.0.0.1:1")
	cfg.Admin.Token = "tok"
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	if status, _ := g.Admin(t, "/debug/pprof/", ""); status != 403 {
		t.Errorf("pprof without the token = %d, want 403", status)
	}
	if status, body := g.Admin(t, "/debug/pprof/", "tok"); status != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("pprof index = %d", status)
	}
	if status, body := g.Admin(t, "/debug/pprof/goroutine?debug=1", "tok"); status != 200 || !strings.Contains(body, "goroutine profile") {
		t.Errorf("goroutine profile = %d %.100s", status, body)
	}
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}
