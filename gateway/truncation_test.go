package gateway_test

import (
	"bufio"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// cuttingOrigin answers every request with head followed by body, then
// closes the connection: the body is cut short by the origin. It returns
// the origin's URL and a count of requests.
func cuttingOrigin(t *testing.T, head, body string) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // bounded: a test origin
				tr := textproto.NewReader(bufio.NewReader(c))
				if _, err := tr.ReadLine(); err != nil { // request line
					return
				}
				if _, err := tr.ReadMIMEHeader(); err != nil {
					return
				}
				n.Add(1)
				_, _ = c.Write([]byte(head + body)) // the test checks what the gateway made of it
			}()
		}
	}()
	return "http://" + ln.Addr().String(), &n
}

// chunks returns n bytes of body as chunked coding of 16KiB chunks,
// without the last chunk.
func chunks(n int) string {
	var b strings.Builder
	for n > 0 {
		c := min(n, 16<<10)
		fmt.Fprintf(&b, "%x\r\n%s\r\n", c, strings.Repeat("x", c))
		n -= c
	}
	return b.String()
}

// TestGateway_UpstreamCut: a body the upstream cuts short (connection
// closed before the last chunk, or before Content-Length bytes) is never
// passed to the client as a whole response and never stored. The chunked
// case closed exactly between two chunks is the one fasthttp's stream
// reports as a normal end.
func TestGateway_UpstreamCut(t *testing.T) {
	t.Parallel()
	const chunkedHead = "HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nTransfer-Encoding: chunked\r\n\r\n"
	tests := []struct {
		name string
		head string
		body string
	}{
		{"chunked, small (read to store)", chunkedHead, chunks(1000)},
		{"chunked, over max_object_size (streamed)", chunkedHead, chunks(1 << 20)},
		{"content-length, small", "HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nContent-Length: 2000\r\n\r\n", strings.Repeat("x", 1000)},
		{"content-length, over max_object_size", "HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nContent-Length: 2097152\r\n\r\n", strings.Repeat("x", 1<<20)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url, requests := cuttingOrigin(t, tc.head, tc.body)
			g := gatewaytest.StartGateway(t, gatewaytest.Config(url), gateway.Options{})
			for round := 1; round <= 2; round++ {
				status, raw := g.Raw(t, "GET /cut HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
				head, body, _ := strings.Cut(raw, "\r\n\r\n")
				switch {
				case status == 502:
				case status == 200 && strings.Contains(strings.ToLower(head), "transfer-encoding: chunked"):
					if strings.HasSuffix(body, "0\r\n\r\n") {
						t.Fatalf("round %d: a cut body reached the client with a last chunk, as if whole", round)
					}
				case status == 200:
					if cl := headerValue(head, "Content-Length"); cl == "" || len(body) >= atoi(t, cl) {
						t.Fatalf("round %d: a cut body reached the client as a whole response (Content-Length %q, %d bytes)", round, cl, len(body))
					}
				default:
					t.Fatalf("round %d: status %d, want 502 or a 200 cut short", round, status)
				}
				if x := headerValue(head, "X-Cache"); x == "HIT" {
					t.Fatalf("round %d: a cut body was stored and served (X-Cache %q)", round, x)
				}
			}
			if got := requests.Load(); got != 2 {
				t.Errorf("origin saw %d requests, want 2 (nothing stored)", got)
			}
		})
	}
}

func headerValue(head, name string) string {
	for _, line := range strings.Split(head, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("bad number %q", s)
	}
	return n
}
