package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// Test_run_healthcheck: 0 and "ready" from a running gateway; an error
// that says why for a listener that is not there and for a 503.
func Test_run_healthcheck(t *testing.T) {
	t.Parallel()
	g := gatewaytest.StartGateway(t, gatewaytest.Config("http://127.0.0.1:9"), gateway.Options{})
	var out bytes.Buffer
	if err := run(t.Context(), []string{"healthcheck", "-admin", "http://" + g.AdminAddr}, &out, io.Discard); err != nil {
		t.Fatalf("healthcheck on a running gateway = %v", err)
	}
	if !strings.HasPrefix(out.String(), `ready: {"status":"ready"`) {
		t.Errorf("healthcheck printed %q", out.String())
	}
	err := run(t.Context(), []string{"healthcheck", "-admin", "http://" + freeAddr(t), "-timeout", "2s"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "healthcheck: not ready: ") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("healthcheck on a closed port = %v, want connection refused", err)
	}
	// What a draining gateway answers (TestServe_ScaleIn sees the real one).
	draining := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"status":"shutting down"}`+"\n") // the test reads the status
	}))
	defer draining.Close()
	err = run(t.Context(), []string{"healthcheck", "-admin", draining.URL}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `/readyz answered 503 Service Unavailable {"status":"shutting down"}`) {
		t.Errorf("healthcheck on a 503 = %v", err)
	}
	if err := run(t.Context(), []string{"healthcheck", "-admin", "ftp://x"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "-admin: invalid URL") {
		t.Errorf("healthcheck -admin ftp://x = %v", err)
	}
}

func TestHealthcheckURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ listen, want string }{
		{"", defaultAdminURL},
		{"0.0.0.0:9191", "http://127.0.0.1:9191"},
		{"[::]:9090", "http://127.0.0.1:9090"},
		{"nonsense", defaultAdminURL},
	} {
		if got := healthcheckURL(tt.listen); got != tt.want {
			t.Errorf("healthcheckURL(%q) = %q, want %q", tt.listen, got, tt.want)
		}
	}
}
