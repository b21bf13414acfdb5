package gateway_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// TestGateway_StatusLine_RFC9112_4: every answer of the cache path carries
// the reason phrase of its own status code (RFC 9112, Section 4), not the
// "OK" of the 200 head the origin's Date is copied in with.
func TestGateway_StatusLine_RFC9112_4(t *testing.T) {
	t.Parallel()
	const lm = "Mon, 02 Jan 2006 15:04:05 GMT"
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Last-Modified", lm)
		if r.URL.Path == "/missing" {
			http.Error(w, "no such page", http.StatusNotFound)
			return
		}
		fmt.Fprint(w, "0123456789")
	}))
	t.Cleanup(origin.Close)
	g := gatewaytest.StartGateway(t, gatewaytest.Config(origin.URL), gateway.Options{})
	tests := []struct {
		name, path, header, want string
	}{
		{"404 miss", "/missing", "", "HTTP/1.1 404 Not Found"},
		{"404 hit", "/missing", "", "HTTP/1.1 404 Not Found"},
		{"200 miss", "/page", "", "HTTP/1.1 200 OK"},
		{"206 hit", "/page", "Range: bytes=0-1", "HTTP/1.1 206 Partial Content"},
		{"416 hit", "/page", "Range: bytes=50-", "HTTP/1.1 416 Requested Range Not Satisfiable"},
		{"304 hit", "/page", "If-Modified-Since: " + lm, "HTTP/1.1 304 Not Modified"},
	}
	for _, tt := range tests { // in order: the hits follow their misses
		if got := statusLine(t, g.Addr, tt.path, tt.header); got != tt.want {
			t.Errorf("%s: status line %q, want %q", tt.name, got, tt.want)
		}
	}
}

// statusLine sends GET path with one extra header line to addr and
// returns the status line of the answer.
func statusLine(t *testing.T, addr, path, header string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if header != "" {
		header += "\r\n"
	}
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: example.test\r\n%sConnection: close\r\n\r\n", path, header); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return strings.TrimRight(line, "\r\n")
}
