package gateway

import (
	"strings"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// newAdminServer serves the admin plane: /metrics (Prometheus text),
// /healthz (the process answers), /readyz (503 once shutting down), the
// policy API (/policies..., see policyadmin.go), POST /reload, POST
// /purge (purge_admin.go), GET /routes and the admin web page at / and /ui
// (adminui.go). Request
// bodies are bounded by adminBodyLimit (module uploads).
//
// /metrics and every other admin path need "Authorization: Bearer
// <admin.token>" when a token is set; with no token, only loopback clients
// whose Host is a loopback name are answered (a browser page can resolve
// any name to 127.0.0.1). /healthz and /readyz reveal nothing and are open,
// so that probes need no secret.
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
		CloseOnShutdown:       true,
		SecureErrorLogMessage: true,
		NoDefaultContentType:  true,
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
		ctx.SetBodyString(g.readyBody())
		return
	}
	if !g.adminAllowed(ctx) {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="flowcache"`)
		ctx.Error("forbidden\n", fasthttp.StatusForbidden)
		return
	}
	switch path {
	case "/metrics":
		ctx.SetContentType("text/plain; version=0.0.4")
		g.set.WritePrometheus(ctx)
		if g.pstore != nil {
			writePolicyMetrics(ctx, g.pstore.List())
		}
		metrics.WriteProcessMetrics(ctx)
	case "/reload":
		g.handleReload(ctx)
	case "/purge":
		g.handlePurgeAPI(ctx)
	case "/", "/ui":
		g.handleAdminUI(ctx)
	case "/routes":
		g.handleRoutes(ctx)
	default:
		if path == "/policies" || strings.HasPrefix(path, "/policies/") {
			g.handlePolicies(ctx, path)
			return
		}
		ctx.Error("not found\n", fasthttp.StatusNotFound)
	}
}

// adminAllowed: the token when one is set; otherwise a loopback client
// with a loopback Host.
func (g *Gateway) adminAllowed(ctx *fasthttp.RequestCtx) bool {
	if g.cfg.Admin.Token != "" {
		return g.tokenOK(ctx)
	}
	return ctx.RemoteIP().IsLoopback() && loopbackHost(ctx.Request.Header.Host())
}
