package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestRun fills and loads a stand-in server on loopback for a bounded
// number of requests, in both modes.
func TestRun(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		switch {
		case ctx.IsPut():
			ctx.SetStatusCode(fasthttp.StatusNoContent)
		case ctx.IsPost() && strings.HasSuffix(string(ctx.Path()), "/_mget"):
			ctx.SetBodyString(`{"items":[]}`)
		default:
			ctx.SetBodyString("value")
		}
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	for _, mode := range []string{"get", "mget"} {
		var out, errb bytes.Buffer
		err := run(context.Background(), []string{"-url", "http://" + ln.Addr().String(), "-mode", mode, "-conns", "4", "-keys", "10", "-requests", "200", "-duration", "30s"}, &out, &errb)
		if err != nil {
			t.Fatalf("%s: %v (%s)", mode, err, errb.String())
		}
		if !strings.Contains(out.String(), "requests=200 errors=0") || !strings.Contains(out.String(), "p99=") {
			t.Errorf("%s: output %q", mode, out.String())
		}
	}
	if err := run(context.Background(), []string{"-mode", "nope"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("-mode nope: no error")
	}
}
