package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// serveSecurity runs `flowcache serve` in front of an origin that answers
// "host path" of what it received (cacheable for a minute), with the given
// [admin] token, and returns the data and admin addresses.
func serveSecurity(t *testing.T, token string) (listen, admin string) {
	t.Helper()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if a := r.Header.Get("Authorization"); a != "" {
			w.Header().Set("X-Origin-Saw-Authorization", a)
		}
		_, _ = io.WriteString(w, r.Host+" "+r.URL.Path) // read back by the test
	}))
	t.Cleanup(origin.Close)
	listen, admin = freeAddr(t), freeAddr(t)
	cfg := writeConfig(t, fmt.Sprintf(`
[server]
listen = %q
shutdown_timeout = "5s"
[admin]
listen = %q
token = %q
[log]
level = "error"
[[routes]]
name = "test"
upstreams = [%q]
`, listen, admin, token, origin.URL))
	t.Cleanup(startServe(t, cfg, listen, admin))
	return listen, admin
}

// rawHTTP writes a whole request on a new connection to addr and returns
// the status code and the raw answer, read until the server closes the
// connection (the request says Connection: close, or is refused).
func rawHTTP(t *testing.T, addr, raw string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	var status int
	if _, serr := fmt.Sscanf(string(b), "HTTP/1.1 %d", &status); serr != nil {
		t.Fatalf("answer %q (%v): no status line", b, err)
	}
	return status, string(b)
}

// Test_run_serveHostPoisoning: through `flowcache serve`, a Host that
// fasthttp would read as userinfo is refused, so that the plain request
// after it gets its own host's answer; and a port reaches neither the key
// nor the origin.
func Test_run_serveHostPoisoning(t *testing.T) {
	t.Parallel()
	listen, _ := serveSecurity(t, "")
	status, resp := rawHTTP(t, listen, "GET /p HTTP/1.1\r\nHost: victim.com:@evil.com\r\nConnection: close\r\n\r\n")
	if status != http.StatusBadRequest {
		t.Errorf("Host victim.com:@evil.com = %d, want 400:\n%s", status, resp)
	}
	for _, host := range []string{"victim.com", "victim.com:1337"} {
		status, resp = rawHTTP(t, listen, "GET /p HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
		if status != http.StatusOK || !strings.HasSuffix(resp, "\r\n\r\nvictim.com /p") ||
			strings.Contains(resp, "X-Origin-Saw-Authorization") {
			t.Errorf("GET /p Host %s = %d, want victim.com's answer:\n%s", host, status, resp)
		}
	}
}

// Test_run_servePurgeToken: with [admin] token set, PURGE needs it even
// from loopback.
func Test_run_servePurgeToken(t *testing.T) {
	t.Parallel()
	listen, admin := serveSecurity(t, "s3cret")
	if status, resp := rawHTTP(t, listen, "GET /x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"); status != http.StatusOK {
		t.Fatalf("GET /x = %d:\n%s", status, resp)
	}
	tests := []struct {
		name, auth string
		status     int
	}{
		{"no token", "", http.StatusForbidden},
		{"wrong token", "Bearer nope", http.StatusForbidden},
		{"right token", "Bearer s3cret", http.StatusOK},
	}
	for _, tc := range tests {
		head := "PURGE /x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n"
		if tc.auth != "" {
			head += "Authorization: " + tc.auth + "\r\n"
		}
		if status, resp := rawHTTP(t, listen, head+"\r\n"); status != tc.status {
			t.Errorf("PURGE, %s = %d, want %d:\n%s", tc.name, status, tc.status, resp)
		}
	}
	// The admin API too, and before reading an announced 22MiB body.
	status, resp := rawHTTP(t, admin, "POST /purge HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer nope\r\n"+
		"Content-Type: application/json\r\nContent-Length: 23068672\r\n\r\n")
	if status != http.StatusForbidden {
		t.Errorf("admin POST /purge, wrong token = %d, want 403 before the body:\n%s", status, resp)
	}
}

// Test_run_serveAdminCSRF: with no token, what a web page can send to the
// loopback admin API (a no-cors POST, a cross-site Origin) changes
// nothing; the CLI's JSON request does.
func Test_run_serveAdminCSRF(t *testing.T) {
	t.Parallel()
	_, admin := serveSecurity(t, "")
	const body = `{"all":true}`
	tests := []struct {
		name, extra string
		status      int
	}{
		{"no-cors fetch (text/plain)", "Content-Type: text/plain;charset=UTF-8\r\nOrigin: http://evil.example\r\nSec-Fetch-Site: cross-site\r\n", http.StatusForbidden},
		{"text/plain, no Origin", "Content-Type: text/plain;charset=UTF-8\r\n", http.StatusUnsupportedMediaType},
		{"JSON from another site", "Content-Type: application/json\r\nOrigin: http://evil.example\r\n", http.StatusForbidden},
		{"JSON from the CLI", "Content-Type: application/json\r\n", http.StatusOK},
	}
	for _, tc := range tests {
		raw := fmt.Sprintf("POST /purge HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%sContent-Length: %d\r\n\r\n%s", tc.extra, len(body), body)
		if status, resp := rawHTTP(t, admin, raw); status != tc.status {
			t.Errorf("%s: POST /purge = %d, want %d:\n%s", tc.name, status, tc.status, resp)
		}
	}
}
