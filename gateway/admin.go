package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/valyala/fasthttp"
)

// newAdminServer serves the admin plane: /metrics (Prometheus text),
// /healthz (the process answers), /readyz (503 while policies load and once
// shutting down), the
// policy API (/policies..., see policyadmin.go), POST /reload, POST
// /purge (purge_admin.go), /warm (warm.go), GET /routes, GET /kv (kvmetrics.go) and the admin web page at / and /ui
// (adminui.go). Request
// bodies are bounded by adminBodyLimit (module uploads).
//
// /metrics and every other admin path need "Authorization: Bearer
// <admin.token>" when a token is set, from every client; with no token,
// only loopback clients whose Host is a loopback name are answered (a
// browser page can resolve any name to 127.0.0.1). /healthz and /readyz
// reveal nothing and are open, so that probes need no secret. A
// state-changing request must also pass adminCSRF (same origin, JSON or
// wasm body). A request that will be refused gets a 403 before its body
// is read (adminHeaderReceived).
func (g *Gateway) newAdminServer() *fasthttp.Server {
	sc := &g.cfg.Server
	return &fasthttp.Server{
		Handler:               g.handleAdmin,
		Name:                  "flowcache-admin",
		ReadTimeout:           sc.ReadHeaderTimeout.D(),
		WriteTimeout:          sc.WriteTimeout.D(),
		IdleTimeout:           sc.IdleTimeout.D(),
		ErrorHandler:          g.handleAdminParseError,
		MaxRequestBodySize:    adminBodyLimit(g.cfg),
		StreamRequestBody:     true, // read by readAdminBody, once the client is allowed
		HeaderReceived:        g.adminHeaderReceived,
		CloseOnShutdown:       true,
		SecureErrorLogMessage: true,
		NoDefaultContentType:  true,
		Logger:                slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
}

func (g *Gateway) handleAdmin(ctx *fasthttp.RequestCtx) {
	defer func() {
		if p := recover(); p != nil {
			g.gm.panics.Inc()
			ctx.Error("internal error\n", fasthttp.StatusInternalServerError)
		}
	}()
	path := string(ctx.Path())
	switch path {
	case "/healthz":
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":"ok","version":"` + g.version + `"}` + "\n")
		return
	case "/readyz":
		ctx.SetContentType("application/json")
		if g.closing.Load() {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString(`{"status":"shutting down"}` + "\n")
			return
		}
		if g.loading.Load() != nil {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString(`{"status":"loading","policies":"loading"}` + "\n")
			return
		}
		ctx.SetBodyString(g.readyBody())
		return
	}
	if path == "/login" {
		g.handleLogin(ctx) // session.go: open to all, same origin only
		return
	}
	if !g.adminAllowed(ctx) {
		if (path == "/" || path == "/ui") && g.cfg.Admin.Token != "" && (ctx.IsGet() || ctx.IsHead()) {
			g.loginPage(ctx, fasthttp.StatusOK, "")
			return
		}
		adminForbidden(ctx)
		return
	}
	if status, err := adminCSRF(&ctx.Request.Header, path); err != nil {
		adminError(ctx, status, err)
		return
	}
	if !g.sessionCSRF(ctx) {
		adminError(ctx, fasthttp.StatusForbidden, errSessionCSRF)
		return
	}
	if err := g.readAdminBody(ctx); err != nil {
		var se *StatusError
		status := fasthttp.StatusBadRequest
		if errors.As(err, &se) {
			status = se.Status
		}
		adminError(ctx, status, err)
		ctx.SetConnectionClose()
		return
	}
	defer g.auditAdmin(ctx, path)
	switch path {
	case "/metrics":
		ctx.SetContentType("text/plain; version=0.0.4")
		g.writeMetrics(ctx)
	case "/reload":
		g.handleReload(ctx)
	case "/purge":
		g.handlePurgeAPI(ctx)
	case "/", "/ui":
		g.handleAdminUI(ctx)
	case "/ui/console.js":
		g.handleAdminUIConsole(ctx)
	case "/routes":
		g.handleRoutes(ctx)
	case "/audit":
		g.handleAudit(ctx)
	case "/cache/hot":
		g.handleHot(ctx)
	case "/cache/lookup":
		g.handleLookup(ctx)
	case "/session":
		g.handleSession(ctx)
	case "/logout":
		g.handleLogout(ctx)
	case "/kv":
		adminJSON(ctx, fasthttp.StatusOK, map[string]any{"namespaces": g.KVStats()})
	default:
		if path == "/policies" || strings.HasPrefix(path, "/policies/") {
			g.handlePolicies(ctx, path)
			return
		}
		if path == "/debug/pprof" || strings.HasPrefix(path, "/debug/pprof/") {
			handlePprof(ctx, path)
			return
		}
		if path == "/warm" || strings.HasPrefix(path, "/warm/") {
			g.handleWarm(ctx, path)
			return
		}
		ctx.Error("not found\n", fasthttp.StatusNotFound)
	}
}

// adminAllowed: the token when one is set, from every client; otherwise a
// loopback client (the real client behind trusted proxies, see
// Gateway.client) with a loopback Host.
func (g *Gateway) adminAllowed(ctx *fasthttp.RequestCtx) bool {
	if g.cfg.Admin.Token != "" {
		return g.tokenOK(ctx) || g.session(&ctx.Request.Header) != nil
	}
	ip, _ := g.client(ctx)
	return ip.IsLoopback() && loopbackHost(ctx.Request.Header.Host())
}

func adminForbidden(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="flowcache"`)
	ctx.Error("forbidden\n", fasthttp.StatusForbidden)
}

// adminHeaderReceived runs once a request head is read, before its body.
// The admin server streams bodies: the handler reads one (readAdminBody)
// only once adminAllowed and adminCSRF have passed, which need the peer's
// address, so nothing past fasthttp's 8KiB read-ahead is read for a client
// that is refused. A head that cannot be allowed already (adminHeadAllowed,
// adminCSRF without the path's media type rule) is made bodiless and
// Connection: close, and loses its Expect: 100-continue, so that not even
// the read-ahead waits for a body: the handler answers 403 at once and the
// connection closes with the body unread.
func (g *Gateway) adminHeaderReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if g.adminHeadAllowed(h) {
		if _, err := adminCSRF(h, ""); err == nil {
			return fasthttp.RequestConfig{}
		}
	}
	if cl := h.ContentLength(); string(h.RequestURI()) == "/login" && cl >= 0 && cl <= adminLoginBodyMax {
		return fasthttp.RequestConfig{} // the login form: small, read by handleLogin
	}
	if h.ContentLength() != 0 {
		refuseBody(h)
	}
	return fasthttp.RequestConfig{}
}

// readAdminBody reads the streamed body of an allowed admin request into
// the request (where the handlers' PostBody finds it): at most
// adminBodyLimit bytes, else a 413 StatusError.
func (g *Gateway) readAdminBody(ctx *fasthttp.RequestCtx) error {
	limit := adminBodyLimit(g.cfg)
	if cl := ctx.Request.Header.ContentLength(); cl > limit {
		return &StatusError{Status: fasthttp.StatusRequestEntityTooLarge, Err: fmt.Errorf("admin: body of %d bytes over the limit of %d", cl, limit)}
	}
	s := ctx.RequestBodyStream()
	if s == nil {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(s, int64(limit)+1))
	if err != nil {
		return fmt.Errorf("admin: read body: %w", err)
	}
	if len(b) > limit {
		return &StatusError{Status: fasthttp.StatusRequestEntityTooLarge, Err: fmt.Errorf("admin: body over the limit of %d bytes", limit)}
	}
	ctx.Request.SetBodyRaw(b)
	return nil
}

// adminHeadAllowed is what adminAllowed can tell from the head alone: the
// token, or (with no token) a loopback Host. The peer address is checked
// by adminAllowed once the request is read.
func (g *Gateway) adminHeadAllowed(h *fasthttp.RequestHeader) bool {
	if g.cfg.Admin.Token != "" {
		return g.headerTokenOK(h) || g.session(h) != nil
	}
	return loopbackHost(h.Host())
}

var (
	errCrossSite   = errors.New("admin: cross-site request refused (Origin or Sec-Fetch-Site names another site)")
	errContentType = errors.New("admin: Content-Type must be application/json")
	errWasmType    = errors.New("admin: Content-Type must be application/json or application/wasm")
)

// adminCSRF applies the admin API's rule against cross-site request
// forgery to a state-changing request (any method but GET, HEAD and
// OPTIONS); path is the request path ("" when only the origin is checked,
// before the body is read):
//
//   - Sec-Fetch-Site, when present, must be same-origin or none (a
//     same-site page on another origin is refused too); without it (older
//     browsers), Origin, when present, must be this listener's own origin
//     (http://<Host>): else 403. Requests with neither come from no
//     browser. This is the rule of Go's net/http CrossOriginProtection.
//   - The body must be declared Content-Type: application/json, or
//     application/wasm for an upload (PUT /policies/NAME): else 415. A web
//     page can send neither across sites without a CORS preflight, which
//     this API never grants.
//
// It returns the status and error to answer, or a nil error.
func adminCSRF(h *fasthttp.RequestHeader, path string) (int, error) {
	if h.IsGet() || h.IsHead() || h.IsOptions() {
		return 0, nil
	}
	if sfs := trimOWS(peekRequest(h, "sec-fetch-site")); len(sfs) > 0 {
		if !equalFold(sfs, "same-origin") && !equalFold(sfs, "none") {
			return fasthttp.StatusForbidden, errCrossSite
		}
	} else if o := trimOWS(peekRequest(h, "origin")); len(o) > 0 && !sameOrigin(o, h.Host()) {
		return fasthttp.StatusForbidden, errCrossSite
	}
	if path == "" || h.IsDelete() {
		return 0, nil
	}
	mt := h.ContentType()
	if i := indexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = trimOWS(mt)
	if equalFold(mt, "application/json") {
		return 0, nil
	}
	if h.IsPut() && strings.HasPrefix(path, "/policies/") {
		if equalFold(mt, "application/wasm") {
			return 0, nil
		}
		return fasthttp.StatusUnsupportedMediaType, errWasmType
	}
	return fasthttp.StatusUnsupportedMediaType, errContentType
}

// sameOrigin reports whether an Origin field value is http://host or
// https://host for the request's Host.
func sameOrigin(origin, host []byte) bool {
	for _, scheme := range [...]string{"http://", "https://"} {
		if hasPrefixFold(origin, scheme) {
			return len(host) > 0 && equalFoldBytes(origin[len(scheme):], host)
		}
	}
	return false
}

// logOpenAdmin warns at start when no admin token is
// set while a listener takes connections from beyond loopback: PURGE and
// the admin API then trust any loopback client, and behind a proxy, TLS
// terminator or sidecar on the same host that is every client unless the
// proxy is in trusted_proxies.
func logOpenAdmin(log *slog.Logger, cfg *Config) {
	if cfg.Admin.Token != "" {
		return
	}
	for _, l := range [...]struct{ key, addr string }{{"server.listen", cfg.Server.Listen}, {"admin.listen", cfg.Admin.Listen}} {
		if !loopbackListen(l.addr) {
			log.LogAttrs(context.Background(), warnLevel, "admin_token_unset",
				slog.String("listen", l.key+"="+l.addr),
				slog.String("risk", "PURGE and the admin API trust loopback clients: behind a proxy or sidecar on this host every client is loopback unless trusted_proxies names it; set [admin] token"))
			return
		}
	}
}

// loopbackListen reports whether a listen address (host:port) only takes
// connections from loopback: a loopback IP or "localhost".
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
