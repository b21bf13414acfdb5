package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowcache/flowcache/internal/poll"
)

// loadingConfig writes a config with server.listen_while_loading and the
// module at modulePath as policy NAME on route "api", and returns its path
// and the data and admin addresses.
func loadingConfig(t *testing.T, originURL, modulePath, name string) (cfgPath, listen, admin string) {
	t.Helper()
	dir := t.TempDir()
	wasm, err := os.ReadFile(modulePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".wasm"), wasm, 0o600); err != nil {
		t.Fatal(err)
	}
	listen, admin = freeAddr(t), freeAddr(t)
	cfgPath = filepath.Join(dir, "config.toml")
	src := fmt.Sprintf(`[server]
listen = %q
shutdown_timeout = "5s"
listen_while_loading = true
[admin]
listen = %q
compilation_cache = false
[log]
level = "warn"
[[routes]]
name = "api"
upstreams = [%q]
policy = %q
[policies.%s]
module = "%s.wasm"
`, listen, admin, originURL, name, name, name)
	if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, listen, admin
}

// Test_run_listenWhileLoading: with server.listen_while_loading the node
// becomes ready once its policy is loaded, and then serves with it.
func Test_run_listenWhileLoading(t *testing.T) {
	t.Parallel()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, r.URL.Query().Get("tag")) // read back by the test
	}))
	t.Cleanup(origin.Close)
	cfgPath, listen, admin := loadingConfig(t, origin.URL, "testdata/policies/tagged.wasm", "tagged")
	stop := startServe(t, cfgPath, listen, admin)
	defer stop()
	poll.WaitFor(t, "/readyz 200", func() bool {
		resp, err := http.Get("http://" + admin + "/readyz") //nolint:noctx // a test against a loopback server
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body) // a short read shows as a wrong body
		if resp.StatusCode == http.StatusServiceUnavailable && !strings.Contains(string(b), `"policies":"loading"`) {
			t.Errorf("/readyz = 503 %q, want loading", b)
		}
		return resp.StatusCode == http.StatusOK
	})
	if status, label, body := get(t, "http://"+listen+"/x"); status != 200 || body != "v0000000" || !strings.HasPrefix(label, "tagged@") {
		t.Errorf("GET = %d %q %q, want the tagged policy's answer", status, label, body)
	}
}

// Test_run_listenWhileLoadingFails: a module that fails to load in the
// background stops the node with the same error as at a normal start.
func Test_run_listenWhileLoadingFails(t *testing.T) {
	t.Parallel()
	cfgPath, _, _ := loadingConfig(t, "http://127.0.0.1:9", "testdata/policyload/trap.wasm", "trapper")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	err := run(ctx, []string{"serve", "-config", cfgPath}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `policies.trapper.module: plugins: policy "trapper"`) || !strings.Contains(err.Error(), "dry run failed") {
		t.Errorf("serve = %v, want the policy's load error", err)
	}
	if ctx.Err() != nil {
		t.Error("serve ran until the test's deadline: the load error did not stop it")
	}
}
