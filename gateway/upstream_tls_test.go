package gateway_test

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// TestUpstream_TLS proxies to real https origins: a certificate from the
// route's tls_ca_file is trusted, SNI carries tls_server_name or the
// upstream URL's host, the Host header is the client's whatever the TLS
// name, and a certificate that does not verify is a 502 whose log says why.
func TestUpstream_TLS(t *testing.T) {
	t.Parallel()
	ca, other := gatewaytest.NewCA(t), gatewaytest.NewCA(t)
	tests := []struct {
		name     string
		signer   *gatewaytest.CA
		certFor  string // the server certificate's name
		dialHost string // the host in the upstream URL
		route    func(rc *gateway.RouteConfig)
		status   int
		sni      string // SNI the origin must see (200 only)
		log      string // in the gateway's log
	}{
		{
			name: "trusted CA", signer: ca, certFor: "localhost", dialHost: "localhost",
			route:  func(rc *gateway.RouteConfig) { rc.TLSCAFile = ca.File },
			status: 200, sni: "localhost",
		},
		{
			name: "server name override", signer: ca, certFor: "origin.internal", dialHost: "127.0.0.1",
			route: func(rc *gateway.RouteConfig) {
				rc.TLSCAFile = ca.File
				rc.TLSServerName = "origin.internal"
			},
			status: 200, sni: "origin.internal",
		},
		{
			name: "name mismatch", signer: ca, certFor: "origin.internal", dialHost: "localhost",
			route:  func(rc *gateway.RouteConfig) { rc.TLSCAFile = ca.File },
			status: 502, log: "certificate is valid for origin.internal, not localhost",
		},
		{
			name: "wrong CA", signer: other, certFor: "localhost", dialHost: "localhost",
			route:  func(rc *gateway.RouteConfig) { rc.TLSCAFile = ca.File },
			status: 502, log: "certificate signed by unknown authority",
		},
		{
			name: "system roots", signer: ca, certFor: "localhost", dialHost: "localhost",
			route:  func(*gateway.RouteConfig) {},
			status: 502, log: "certificate signed by unknown authority",
		},
		{
			name: "skip verify", signer: other, certFor: "origin.internal", dialHost: "localhost",
			route:  func(rc *gateway.RouteConfig) { rc.TLSInsecureSkipVerify = true },
			status: 200, sni: "localhost",
			log: `level=WARN msg=upstream_tls_verify_disabled component=gateway route=api`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := gatewaytest.StartTLSOrigin(t, tc.signer.Certificate(t, tc.certFor), func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				body, _ := io.ReadAll(r.Body) // a short read shows in the echo
				_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(body))
			})
			cfg := gatewaytest.Config(o.URL(tc.dialHost))
			tc.route(&cfg.Routes[0])
			logs := &logBuffer{}
			g := gatewaytest.StartGateway(t, cfg, gateway.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})

			r := g.Do(t, "GET", "/tls?a=1")
			if r.Status != tc.status {
				t.Fatalf("GET: status %d, want %d; body %q; log:\n%s", r.Status, tc.status, r.Body, logs.String())
			}
			if tc.log != "" && logs.count(tc.log) == 0 {
				t.Errorf("log has no %q:\n%s", tc.log, logs.String())
			}
			if tc.status != 200 {
				if cs := r.Get("Cache-Status"); !strings.Contains(cs, "detail=upstream-error") {
					t.Errorf("Cache-Status = %q, want detail=upstream-error", cs)
				}
				if n := o.Requests(); n != 0 {
					t.Errorf("origin answered %d requests, want 0", n)
				}
				return
			}
			if got, want := string(r.Body), "GET /tls?a=1 "; got != want {
				t.Errorf("GET body = %q, want %q", got, want)
			}
			sni, host := o.Last()
			if sni != tc.sni || host != "example.test" {
				t.Errorf("origin saw SNI %q and Host %q, want %q and %q", sni, host, tc.sni, "example.test")
			}
			if r := g.Do(t, "GET", "/tls?a=1"); r.Get("X-Cache") != "HIT" {
				t.Errorf("second GET: X-Cache = %q, want HIT", r.Get("X-Cache"))
			}
			// An unsafe method takes the forwarding path, body included.
			req := g.Do(t, "POST", "/tls", "Content-Type: text/plain")
			if req.Status != 200 || string(req.Body) != "POST /tls " {
				t.Errorf("POST: %d %q, want 200 %q", req.Status, req.Body, "POST /tls ")
			}
			if n := o.Requests(); n != 2 {
				t.Errorf("origin answered %d requests, want 2 (a miss and the POST)", n)
			}
		})
	}
}

// TestConfig_ValidateTLS: the tls_* keys of a route are checked at load,
// each error naming its key.
func TestConfig_ValidateTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := gatewaytest.NewCA(t)
	tests := []struct {
		name     string
		upstream string
		route    func(rc *gateway.RouteConfig)
		want     string // "" for valid
	}{
		{"CA file", "https://a:1", func(rc *gateway.RouteConfig) { rc.TLSCAFile = ca.File }, ""},
		{"all keys", "https://a:1", func(rc *gateway.RouteConfig) {
			rc.TLSCAFile, rc.TLSServerName, rc.TLSInsecureSkipVerify = ca.File, "b.internal", true
		}, ""},
		{"missing CA file", "https://a:1", func(rc *gateway.RouteConfig) { rc.TLSCAFile = filepath.Join(dir, "nope.pem") }, "routes[0].tls_ca_file: open "},
		{"CA file without certificate", "https://a:1", func(rc *gateway.RouteConfig) { rc.TLSCAFile = notPEM }, "routes[0].tls_ca_file: " + notPEM + ": no PEM certificate found"},
		{"server name with port", "https://a:1", func(rc *gateway.RouteConfig) { rc.TLSServerName = "b:443" }, "routes[0].tls_server_name: must be a host name without port"},
		{"no https upstream", "http://a:1", func(rc *gateway.RouteConfig) { rc.TLSInsecureSkipVerify = true }, "routes[0]: tls_ca_file, tls_server_name and tls_insecure_skip_verify need an https upstream"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := gatewaytest.Config(tc.upstream)
			tc.route(&cfg.Routes[0])
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// String returns everything logged so far.
func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
