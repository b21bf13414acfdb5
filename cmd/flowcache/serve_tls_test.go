package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// Test_run_tlsUpstreams serves https origins through `flowcache serve`: a
// route trusts its tls_ca_file (relative to the config file), one names
// the certificate with tls_server_name, one whose origin is signed by an
// unknown CA answers 502, and one with tls_insecure_skip_verify works and
// is named in a warning at start. SNI is the TLS name; the Host header is
// the client's.
func Test_run_tlsUpstreams(t *testing.T) {
	t.Parallel()
	ca, other := gatewaytest.NewCA(t), gatewaytest.NewCA(t)
	echo := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "tls "+r.URL.Path) // the test reads it back
	}
	byName := gatewaytest.StartTLSOrigin(t, ca.Certificate(t, "localhost"), echo)
	named := gatewaytest.StartTLSOrigin(t, ca.Certificate(t, "origin.internal"), echo)
	untrusted := gatewaytest.StartTLSOrigin(t, other.Certificate(t, "localhost"), echo)
	insecure := gatewaytest.StartTLSOrigin(t, other.Certificate(t, "localhost"), echo)

	listen, admin := freeAddr(t), freeAddr(t)
	cfg := writeConfig(t, fmt.Sprintf(`
[server]
listen = %q
shutdown_timeout = "5s"
[admin]
listen = %q
[log]
level = "warn"
[[routes]]
name = "byname"
path_prefix = "/byname"
upstreams = [%q]
tls_ca_file = "ca.pem"
[[routes]]
name = "named"
path_prefix = "/named"
upstreams = [%q]
tls_ca_file = "ca.pem"
tls_server_name = "origin.internal"
[[routes]]
name = "untrusted"
path_prefix = "/untrusted"
upstreams = [%q]
tls_ca_file = "ca.pem"
[[routes]]
name = "insecure"
path_prefix = "/insecure"
upstreams = [%q]
tls_insecure_skip_verify = true
`, listen, admin, byName.URL("localhost"), named.URL("127.0.0.1"), untrusted.URL("localhost"), insecure.URL("localhost")))
	pem, err := os.ReadFile(ca.File)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "ca.pem"), pem, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stderr lockedBuffer
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"serve", "-config", cfg}, io.Discard, &stderr) }()
	waitListening(t, listen, errc)

	tests := []struct {
		path   string
		origin *gatewaytest.TLSOrigin
		status int
		sni    string
	}{
		{"/byname/a", byName, 200, "localhost"},
		{"/named/a", named, 200, "origin.internal"},
		{"/untrusted/a", untrusted, 502, ""},
		{"/insecure/a", insecure, 200, "localhost"},
	}
	for _, tc := range tests {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+listen+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "shop.example"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: status %d, want %d; stderr:\n%s", tc.path, resp.StatusCode, tc.status, stderr.String())
			continue
		}
		if tc.status != 200 {
			if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "detail=upstream-error") {
				t.Errorf("GET %s: Cache-Status = %q, want detail=upstream-error", tc.path, cs)
			}
			if n := tc.origin.Requests(); n != 0 {
				t.Errorf("GET %s: origin answered %d requests, want 0", tc.path, n)
			}
			continue
		}
		if want := "tls " + tc.path; string(body) != want {
			t.Errorf("GET %s: body %q, want %q", tc.path, body, want)
		}
		if sni, host := tc.origin.Last(); sni != tc.sni || host != "shop.example" {
			t.Errorf("GET %s: origin saw SNI %q and Host %q, want %q and %q", tc.path, sni, host, tc.sni, "shop.example")
		}
	}
	logs := stderr.String()
	for _, want := range []string{
		"msg=upstream_tls_verify_disabled component=gateway route=insecure",
		"certificate signed by unknown authority",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("stderr has no %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "upstream_tls_verify_disabled component=gateway route=byname") {
		t.Errorf("a verifying route is named in the warning:\n%s", logs)
	}

	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run(serve) = %v after cancel, want nil\nstderr:\n%s", err, stderr.String())
	}
}
