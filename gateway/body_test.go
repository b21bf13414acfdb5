package gateway_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// TestGateway_BodyLimitAtHead: a head declaring a body over its method's
// limit (64KiB for methods whose body means nothing, max_body_size for the
// others) is answered 413 at once: the test sends the head only, and the
// answer comes without the body being sent. Nothing reaches the origin.
func TestGateway_BodyLimitAtHead(t *testing.T) {
	t.Parallel()
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{}) // max_body_size 10MiB
	tests := []struct {
		method string
		length int
		extra  string // more header lines
	}{
		{"POST", 1 << 30, "Expect: 100-continue\r\n"},
		{"POST", 1 << 30, "expect: 100-continue\r\n"},
		{"GET", 10 << 20, ""},
		{"GET", 64<<10 + 1, ""},
		{"HEAD", 1 << 20, ""},
		{"DELETE", 64<<10 + 1, ""},
		{"OPTIONS", 1 << 20, ""},
		{"TRACE", 1 << 20, ""},
		{"PURGE", 1 << 20, ""},
		{"POST", 10<<20 + 1, ""},
		{"PUT", 1 << 30, ""},
		{"PATCH", 10<<20 + 1, ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s %d %s", tc.method, tc.length, tc.extra), func(t *testing.T) {
			t.Parallel()
			// Raw reads until the gateway closes the connection: the body
			// is never sent.
			status, resp := g.Raw(t, fmt.Sprintf("%s /x HTTP/1.1\r\nHost: example.test\r\nContent-Length: %d\r\n%s\r\n", tc.method, tc.length, tc.extra))
			if status != 413 {
				t.Errorf("status %d, want 413; response:\n%s", status, resp)
			}
			if !strings.Contains(resp, "Connection: close") {
				t.Errorf("response has no Connection: close:\n%s", resp)
			}
		})
	}
	t.Cleanup(func() {
		if n := o.Requests(); n != 0 {
			t.Errorf("origin saw %d requests, want 0", n)
		}
	})
}

// TestGateway_BodyWithinLimit: bodies within their method's limit pass; a
// GET body is dropped, a DELETE body is forwarded.
func TestGateway_BodyWithinLimit(t *testing.T) {
	t.Parallel()
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString(string(ctx.Method()) + " " + strconv.Itoa(len(ctx.Request.Body())))
	})
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{})
	body := strings.Repeat("b", 64<<10)
	for _, tc := range []struct{ method, want string }{
		{"GET", "GET 0"},
		{"DELETE", "DELETE 65536"},
		{"POST", "POST 65536"},
	} {
		status, resp := g.Raw(t, tc.method+" /x HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\nContent-Length: 65536\r\n\r\n"+body)
		if status != 200 || !strings.HasSuffix(resp, "\r\n\r\n"+tc.want) {
			t.Errorf("%s with a 64KiB body: status %d, want 200 and %q; response:\n%s", tc.method, status, tc.want, resp)
		}
	}
}

// TestGateway_StreamedUpload: a 5MiB POST reaches the origin intact, with
// its framing (Content-Length, or chunked), and streamed: the origin reads
// a quarter of the body before the client sends its second half (a gateway
// that buffered the body whole would forward nothing before the end; one
// that streams may hold back a write buffer's worth, hence a quarter).
func TestGateway_StreamedUpload(t *testing.T) {
	t.Parallel()
	const size = 5 << 20
	firstQuarter := make(chan struct{}, 1)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		if _, err := io.CopyN(h, r.Body, size/4); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		firstQuarter <- struct{}{}
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%d %v %d %s", r.ContentLength, r.TransferEncoding, size/4+n, hex.EncodeToString(h.Sum(nil)))
	}))
	t.Cleanup(origin.Close)
	g := gatewaytest.StartGateway(t, gatewaytest.Config(origin.URL), gateway.Options{})

	body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	sum := sha256.Sum256(body)
	tests := []struct {
		name    string
		framing string
		first   []byte // first half of the body as sent
		second  []byte
		want    string
	}{
		{
			name: "Content-Length", framing: "Content-Length: " + strconv.Itoa(size),
			first: body[:size/2], second: body[size/2:],
			want: fmt.Sprintf("%d [] %d %x", size, size, sum),
		},
		{
			name: "chunked", framing: "Transfer-Encoding: chunked",
			first:  chunk(body[:size/2]),
			second: append(chunk(body[size/2:]), "0\r\n\r\n"...),
			want:   fmt.Sprintf("-1 [chunked] %d %x", size, sum),
		},
	}
	for _, tc := range tests {
		c := dial(t, g.Addr)
		if _, err := io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: example.test\r\n"+tc.framing+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(tc.first); err != nil {
			t.Fatal(err)
		}
		select {
		case <-firstQuarter:
		case <-time.After(time.Minute):
			t.Fatalf("%s: the origin got no quarter of the body before the client sent its second half: the body is buffered, not streamed", tc.name)
		}
		if _, err := c.Write(tc.second); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s: read response: %v", tc.name, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || string(got) != tc.want {
			t.Errorf("%s: %d %q, want 200 %q", tc.name, resp.StatusCode, got, tc.want)
		}
	}
}

// dial connects to addr, with a minute for everything that follows; the
// connection is closed in t.Cleanup.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	return c
}

// chunk frames b as one chunk of a chunked body.
func chunk(b []byte) []byte {
	return append(append(fmt.Appendf(nil, "%x\r\n", len(b)), b...), "\r\n"...)
}

// TestGateway_ChunkedBodyOverLimit: a chunked body has no declared length;
// past max_body_size (or 64KiB for DELETE) the upstream request is aborted
// (the origin never gets a whole request), and the client gets 413 or, if
// it was still sending, a closed connection. The target is not marked down.
func TestGateway_ChunkedBodyOverLimit(t *testing.T) {
	t.Parallel()
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	cfg := gatewaytest.Config(o.URL)
	cfg.Server.MaxBodySize = 256 << 10
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	for _, tc := range []struct {
		method string
		size   int
	}{
		{"POST", 256<<10 + 1},
		{"DELETE", 64<<10 + 1},
	} {
		c := dial(t, g.Addr)
		raw := append([]byte(tc.method+" /x HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n"), chunk(make([]byte, tc.size))...)
		raw = append(raw, "0\r\n\r\n"...)
		werr := make(chan error, 1)
		go func() { _, err := c.Write(raw); werr <- err }()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		<-werr // a write cut by the gateway's close is one of the allowed outcomes
		switch {
		case err != nil:
			t.Logf("%s %d: connection closed before a response: %v", tc.method, tc.size, err)
		case resp.StatusCode != 413 || !resp.Close:
			t.Errorf("%s %d: status %d (close %v), want 413 and Connection: close", tc.method, tc.size, resp.StatusCode, resp.Close)
		}
	}
	if n := o.Requests(); n != 0 {
		t.Errorf("origin saw %d whole requests, want 0", n)
	}
	// The origin is not blamed: the next request goes through.
	if r := g.Do(t, "POST", "/x"); r.Status != 200 {
		t.Errorf("POST after the refused bodies: status %d, want 200", r.Status)
	}
	if v := g.Metric(t, `flowcache_upstream_up{route="api",target="`+o.URL+`"}`); v != 1 {
		t.Errorf("flowcache_upstream_up = %v, want 1", v)
	}
}

// TestGateway_MaxConns: max_conns connections are served, idle keep-alive
// ones included; one more is answered 503 and closed. The default is
// finite.
func TestGateway_MaxConns(t *testing.T) {
	t.Parallel()
	if n := gateway.DefaultConfig().Server.MaxConns; n != 10000 {
		t.Errorf("default server.max_conns = %d, want 10000", n)
	}
	for _, n := range []int{0, -1} {
		cfg := gatewaytest.Config("http://127.0.0.1:1")
		cfg.Server.MaxConns = n
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "server.max_conns: must be positive") {
			t.Errorf("Validate() with max_conns = %d: %v, want server.max_conns: must be positive", n, err)
		}
	}

	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	cfg := gatewaytest.Config(o.URL)
	cfg.Server.MaxConns = 2
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	for i := range 2 {
		c := dial(t, g.Addr)
		if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: example.test\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("connection %d: status %d, want 200", i, resp.StatusCode)
		}
	}
	// Both connections are open and idle: the third is one too many.
	status, resp := g.Raw(t, "GET /x HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
	if status != 503 {
		t.Errorf("third connection: status %d, want 503; response:\n%s", status, resp)
	}
}
