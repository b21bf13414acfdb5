package gateway

import (
	"net/http/pprof"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"github.com/valyala/fasthttp/pprofhandler"
)

// pprofIndex is net/http/pprof's index page, at /debug/pprof/ where its
// relative links resolve.
var pprofIndex = fasthttpadaptor.NewFastHTTPHandlerFunc(pprof.Index)

// handlePprof serves Go's profiles (net/http/pprof) under /debug/pprof/ on
// the admin listener, behind the admin check like every admin path.
func handlePprof(ctx *fasthttp.RequestCtx, path string) {
	switch path {
	case "/debug/pprof":
		ctx.Redirect("/debug/pprof/", fasthttp.StatusMovedPermanently)
	case "/debug/pprof/":
		pprofIndex(ctx)
	default:
		pprofhandler.PprofHandler(ctx)
	}
}
