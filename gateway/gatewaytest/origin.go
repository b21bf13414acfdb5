package gatewaytest

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
)

// Origin is an upstream HTTP server on a free loopback port, running a
// test's handler. It counts the requests it receives and remembers the
// last one. It is closed in t.Cleanup.
type Origin struct {
	// URL is the origin's base URL, "http://127.0.0.1:PORT", as a route's
	// upstreams entry.
	URL string
	// Addr is the host:port it listens on.
	Addr string

	requests atomic.Int64
	conns    atomic.Int64
	mu       sync.Mutex
	last     fasthttp.RequestHeader
	lastBody []byte
	srv      *fasthttp.Server
}

// StartOrigin starts an origin serving h. h may be called concurrently.
func StartOrigin(tb testing.TB, h fasthttp.RequestHandler) *Origin {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("gatewaytest: origin listen: %v", err)
	}
	o := &Origin{Addr: ln.Addr().String()}
	o.URL = "http://" + o.Addr
	o.srv = &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			o.requests.Add(1)
			o.mu.Lock()
			ctx.Request.Header.CopyTo(&o.last)
			o.lastBody = append(o.lastBody[:0], ctx.Request.Body()...)
			o.mu.Unlock()
			h(ctx)
		},
		DisableHeaderNamesNormalizing: true,
		// No automatic Date: a test's handler sets Date from its clock
		// with SetDate when it wants one, so that ages are exact.
		NoDefaultDate: true,
		ConnState: func(_ net.Conn, s fasthttp.ConnState) {
			if s == fasthttp.StateNew {
				o.conns.Add(1)
			}
		},
	}
	go func() {
		// Serve returns when the listener is closed in Cleanup.
		_ = o.srv.Serve(ln)
	}()
	tb.Cleanup(func() {
		// Shutdown only fails on a server that was never started.
		_ = o.srv.Shutdown()
	})
	return o
}

// Requests returns how many requests the origin has received.
func (o *Origin) Requests() int64 { return o.requests.Load() }

// Conns returns how many connections the origin has accepted.
func (o *Origin) Conns() int64 { return o.conns.Load() }

// LastHeader returns a copy of the last request's header.
func (o *Origin) LastHeader() *fasthttp.RequestHeader {
	o.mu.Lock()
	defer o.mu.Unlock()
	var h fasthttp.RequestHeader
	o.last.CopyTo(&h)
	return &h
}

// LastBody returns a copy of the last request's body.
func (o *Origin) LastBody() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]byte(nil), o.lastBody...)
}

// DeadOrigin returns the URL of a loopback address that accepts
// connections and closes them at once, and a counter of the connections
// it accepted: a target that fails every request.
func DeadOrigin(tb testing.TB) (url string, accepted *atomic.Int64) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("gatewaytest: dead origin listen: %v", err)
	}
	accepted = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			// Closing is the point; its error is irrelevant.
			_ = c.Close()
		}
	}()
	tb.Cleanup(func() {
		// The accept loop ends with the listener.
		_ = ln.Close()
	})
	return "http://" + ln.Addr().String(), accepted
}

// SetDate gives the response of an origin handler the Date field date (an
// HTTP date). It must come first in the handler: it replaces the
// response's header. fasthttp drops a Date given to ResponseHeader.Set or
// Add (it writes its own), so the field is parsed into the header instead.
func SetDate(tb testing.TB, ctx *fasthttp.RequestCtx, date string) {
	tb.Helper()
	head := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDate: " + date + "\r\n\r\n"
	if err := ctx.Response.Header.Read(bufio.NewReader(strings.NewReader(head))); err != nil {
		tb.Errorf("gatewaytest: SetDate(%q): %v", date, err)
	}
}
