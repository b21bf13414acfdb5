package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"html"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// # Browser login
//
// With [admin] token set, a browser cannot send the bearer header. GET /
// then shows a login form; POST /login with the form field "token" checks
// it (constant time) and sets a session cookie: a random id, HttpOnly,
// SameSite=Strict, Secure when the browser reached the listener over
// https (directly, or as trusted_proxies report), expiring after
// adminSessionTTL. A session allows what the token allows, except that a
// state-changing request must also carry the session's CSRF token in
// X-CSRF-Token (the page reads it from GET /session). POST /logout ends
// the session. A session is bound to the token it was opened with: a
// gateway whose token changed (a restart with a new one) honours none of
// the old sessions. Without a token, the admin listener answers loopback
// clients only, as before, and needs no login.

const (
	adminSessionCookie = "flowcache_session"
	adminSessionTTL    = 12 * time.Hour
	adminSessionMax    = 1024 // sessions kept; the oldest goes first
	adminCSRFHeader    = "X-CSRF-Token"
	adminLoginBodyMax  = 4 << 10
)

// adminSession is one browser login.
type adminSession struct {
	csrf    string
	expires time.Time
	token   [sha256.Size]byte // sha256 of the token it was opened with
}

// sessionStore holds the logins of this node. Safe for concurrent use.
type sessionStore struct {
	mu sync.Mutex
	m  map[string]*adminSession
}

func randomHex() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// open starts a session for token and returns its id and CSRF token.
func (s *sessionStore) open(token string, now time.Time) (id string, sess *adminSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*adminSession{}
	}
	if len(s.m) >= adminSessionMax {
		var oldest string
		for k, v := range s.m {
			if oldest == "" || v.expires.Before(s.m[oldest].expires) {
				oldest = k
			}
		}
		delete(s.m, oldest)
	}
	id = randomHex()
	sess = &adminSession{csrf: randomHex(), expires: now.Add(adminSessionTTL), token: sha256.Sum256([]byte(token))}
	s.m[id] = sess
	return id, sess
}

// get returns the live session id, opened with token.
func (s *sessionStore) get(id []byte, token string, now time.Time) *adminSession {
	if len(id) == 0 || token == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.m[string(id)]
	if sess == nil {
		return nil
	}
	sum := sha256.Sum256([]byte(token))
	if !now.Before(sess.expires) || subtle.ConstantTimeCompare(sess.token[:], sum[:]) != 1 {
		delete(s.m, string(id))
		return nil
	}
	return sess
}

func (s *sessionStore) close(id []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, string(id))
}

// session returns the request's live session, if any.
func (g *Gateway) session(h *fasthttp.RequestHeader) *adminSession {
	return g.sessions.get(h.Cookie(adminSessionCookie), g.cfg.Admin.Token, g.now())
}

// sessionCSRF checks the X-CSRF-Token of a state-changing request allowed
// by a session (not by the bearer token).
func (g *Gateway) sessionCSRF(ctx *fasthttp.RequestCtx) bool {
	h := &ctx.Request.Header
	if h.IsGet() || h.IsHead() || h.IsOptions() || g.cfg.Admin.Token == "" || g.tokenOK(ctx) {
		return true
	}
	sess := g.session(h)
	return sess != nil && subtle.ConstantTimeCompare(h.Peek(adminCSRFHeader), []byte(sess.csrf)) == 1
}

// setSessionCookie sets (or, with maxAge < 0, clears) the session cookie.
func (g *Gateway) setSessionCookie(ctx *fasthttp.RequestCtx, id string, maxAge int) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(adminSessionCookie)
	c.SetValue(id)
	c.SetPath("/")
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	c.SetSecure(g.https(ctx))
	if maxAge < 0 {
		c.SetExpire(fasthttp.CookieExpireDelete)
	} else {
		c.SetMaxAge(maxAge)
	}
	ctx.Response.Header.SetCookie(c)
}

// handleLogin answers POST /login (form field "token"): 303 to / with a
// session cookie, or 403 with the form again. It is reachable without
// being allowed, from the same origin only (adminCSRF).
func (g *Gateway) handleLogin(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		adminMethodNotAllowed(ctx, "POST")
		return
	}
	if g.cfg.Admin.Token == "" {
		adminError(ctx, fasthttp.StatusNotFound, errNoLogin)
		return
	}
	if status, err := adminCSRF(&ctx.Request.Header, ""); err != nil {
		adminError(ctx, status, err)
		return
	}
	if err := g.readAdminBody(ctx); err != nil || len(ctx.PostBody()) > adminLoginBodyMax {
		g.loginPage(ctx, fasthttp.StatusBadRequest, "bad login form")
		return
	}
	form, err := url.ParseQuery(string(ctx.PostBody()))
	token := form.Get("token")
	e := AuditEvent{Time: time.Now().UTC(), Action: "login", Auth: "session", Status: fasthttp.StatusSeeOther, Result: "ok"}
	ip, _ := g.client(ctx)
	e.Peer = ip.String()
	if err != nil || subtle.ConstantTimeCompare([]byte(token), []byte(g.cfg.Admin.Token)) != 1 {
		e.Status, e.Result = fasthttp.StatusForbidden, "wrong token"
		g.audit.record(e)
		g.loginPage(ctx, fasthttp.StatusForbidden, "wrong token")
		return
	}
	id, _ := g.sessions.open(g.cfg.Admin.Token, g.now())
	g.audit.record(e)
	g.setSessionCookie(ctx, id, int(adminSessionTTL/time.Second))
	ctx.Response.Header.Set("Location", "/")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetStatusCode(fasthttp.StatusSeeOther)
}

var (
	errNoLogin     = errors.New("admin: no [admin] token: nothing to log in to (loopback clients are allowed)")
	errSessionCSRF = errors.New("admin: " + adminCSRFHeader + " missing or wrong (a logged-in page sends the one GET /session gives)")
)

// handleLogout answers POST /logout: the session ends, its cookie is
// cleared.
func (g *Gateway) handleLogout(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		adminMethodNotAllowed(ctx, "POST")
		return
	}
	g.sessions.close(ctx.Request.Header.Cookie(adminSessionCookie))
	g.setSessionCookie(ctx, "", -1)
	adminJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "logged out"})
}

// handleSession answers GET /session: how this request is allowed
// ("token", "session" or "loopback") and, for a session, its CSRF token
// and expiry.
func (g *Gateway) handleSession(ctx *fasthttp.RequestCtx) {
	out := map[string]any{"auth": "loopback"}
	switch {
	case g.cfg.Admin.Token == "":
	case g.tokenOK(ctx):
		out["auth"] = "token"
	default:
		if sess := g.session(&ctx.Request.Header); sess != nil {
			out["auth"], out["csrf"], out["expires"] = "session", sess.csrf, sess.expires.UTC()
		}
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	adminJSON(ctx, fasthttp.StatusOK, out)
}

// setPageHeaders sets the headers of an admin HTML page: its
// Content-Security-Policy, no caching, no framing, no referrer.
func setPageHeaders(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", adminUICSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	ctx.SetContentType("text/html; charset=utf-8")
}

// loginPage answers the login form with status and a message.
func (g *Gateway) loginPage(ctx *fasthttp.RequestCtx, status int, msg string) {
	setPageHeaders(ctx)
	ctx.SetStatusCode(status)
	page := strings.Replace(adminLoginPage, "{{message}}", html.EscapeString(msg), 1)
	ctx.SetBodyString(page)
}

// adminLoginPage is the login form: no script, no external resource.
const adminLoginPage = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Flow Cache admin: log in</title>
<style>
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; background: #f7f8fa; color: #1d2330; display: grid; place-items: center; min-height: 100vh; }
form { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 1.2rem 1.5rem; display: grid; gap: .6rem; min-width: 320px; }
h1 { margin: 0 0 .4rem; font-size: 1.1rem; }
input { padding: .4rem .5rem; border: 1px solid #cbd5e1; border-radius: 4px; font: inherit; }
button { padding: .4rem .9rem; border: 0; border-radius: 4px; background: #2563eb; color: #fff; font: inherit; cursor: pointer; }
.err { color: #b91c1c; min-height: 1.2em; margin: 0; }
</style></head>
<body><form method="post" action="/login" id="login">
<h1>Flow Cache admin</h1>
<label for="token">Admin token</label>
<input type="password" id="token" name="token" autocomplete="current-password" autofocus required>
<button type="submit" id="login-submit">Log in</button>
<p class="err" id="login-error">{{message}}</p>
</form></body></html>
`
