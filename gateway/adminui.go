package gateway

import (
	"embed"

	"github.com/valyala/fasthttp"
)

// # Admin web page
//
// GET / (and /ui) on the admin listener serves one self-contained HTML page
// (adminui/index.html, embedded) that polls /readyz, /routes, /policies and
// /metrics every few seconds and offers a purge form posting to /purge. It
// is behind the same check as the rest of the admin API. Its script puts
// data into the DOM with textContent only, and the Content-Security-Policy
// allows nothing but same-origin requests and the page's own inline script
// and style.

//go:embed adminui/index.html adminui/console.js
var adminUIFS embed.FS

// adminUIPage is the page's bytes, read once; adminUIConsole its console
// script (adminui/console.js: live chart, hot keys, key inspector, audit
// log, policy rollback, logout), served at /ui/console.js.
var (
	adminUIPage    = mustReadAdminUI("adminui/index.html")
	adminUIConsole = mustReadAdminUI("adminui/console.js")
)

func mustReadAdminUI(name string) []byte {
	b, err := adminUIFS.ReadFile(name)
	if err != nil {
		panic("gateway: embedded admin page: " + err.Error()) // a build defect, not a runtime condition
	}
	return b
}

// handleAdminUIConsole answers GET /ui/console.js.
func (g *Gateway) handleAdminUIConsole(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		adminMethodNotAllowed(ctx, "GET, HEAD")
		return
	}
	setPageHeaders(ctx)
	ctx.SetContentType("text/javascript; charset=utf-8")
	ctx.SetBody(adminUIConsole)
}

// adminUICSP is the admin page's Content-Security-Policy.
const adminUICSP = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'"

// handleAdminUI answers GET or HEAD / and /ui with the admin page.
func (g *Gateway) handleAdminUI(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		adminMethodNotAllowed(ctx, "GET, HEAD")
		return
	}
	setPageHeaders(ctx)
	ctx.SetBody(adminUIPage)
}

// routeView is one route as GET /routes shows it.
type routeView struct {
	Name       string         `json:"name"`
	Host       string         `json:"host"`
	PathPrefix string         `json:"path_prefix"`
	Policy     string         `json:"policy"`
	NoCache    bool           `json:"no_cache"`
	Upstreams  []upstreamView `json:"upstreams"`
}

// upstreamView is one upstream target and whether passive health checks
// keep it in rotation.
type upstreamView struct {
	URL string `json:"url"`
	Up  bool   `json:"up"`
}

// handleRoutes answers GET /routes: {"routes": [...]} in configuration
// order, read from the running configuration (after the last reload).
func (g *Gateway) handleRoutes(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		adminMethodNotAllowed(ctx, "GET")
		return
	}
	routes := g.currentRoutes()
	out := make([]routeView, 0, len(routes))
	for _, rt := range routes {
		rc := rt.cfg
		v := routeView{
			Name:       rc.Name,
			Host:       rc.Host,
			PathPrefix: rc.PathPrefix,
			Policy:     rc.Policy,
			NoCache:    rc.NoCache,
			Upstreams:  make([]upstreamView, 0, len(rt.upstream.targets)),
		}
		now := rt.upstream.now()
		for _, t := range rt.upstream.targets {
			v.Upstreams = append(v.Upstreams, upstreamView{URL: t.url, Up: !t.isDown(now)})
		}
		out = append(out, v)
	}
	adminJSON(ctx, fasthttp.StatusOK, map[string]any{"routes": out})
}
