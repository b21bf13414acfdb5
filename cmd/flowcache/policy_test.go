package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/flowcache/flowcache/internal/poll"
)

// TestCheck_PolicyErrors checks the startup error of every config in
// testdata/policyload, whose policy module fails to load, against its
// .golden file (-update rewrites them): it names the file and line, the
// policy, the module and the reason.
func TestCheck_PolicyErrors(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/policyload/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/policyload/*.toml: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			cfg, err := loadConfig(file)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			err = checkPolicies(t.Context(), &cfg, file)
			if err == nil {
				t.Fatal("checkPolicies = nil, want an error")
			}
			checkGolden(t, file, "checkPolicies(%q)", err)
		})
	}
}

// servePolicies runs `flowcache serve` with a policy "tagged" on route
// "api" and a data_dir until the test ends, and returns the config path and
// the data and admin addresses.
func servePolicies(t *testing.T, extra string) (cfgPath, listen, admin string) {
	t.Helper()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, r.URL.Query().Get("tag")) // read back by the test
	}))
	t.Cleanup(origin.Close)
	return servePolicy(t, origin.URL, "testdata/policies/tagged.wasm", "tagged", "warn", extra)
}

// servePolicy runs `flowcache serve` in front of originURL with the module
// at modulePath as policy NAME on route "api" (extra: more keys of
// [policies.NAME]) and a data_dir, until the test ends, and returns the
// config path and the data and admin addresses.
func servePolicy(t *testing.T, originURL, modulePath, name, logLevel, extra string) (cfgPath, listen, admin string) {
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
[admin]
listen = %q
data_dir = %q
[log]
level = %q
[[routes]]
name = "api"
upstreams = [%q]
policy = %q
[policies.%s]
module = "%s.wasm"
%s`, listen, admin, filepath.Join(dir, "data"), logLevel, originURL, name, name, name, extra)
	if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	stop := startServe(t, cfgPath, listen, admin)
	t.Cleanup(stop)
	return cfgPath, listen, admin
}

// startServe runs `flowcache serve -config cfgPath` until stop, which
// waits for it to return.
func startServe(t *testing.T, cfgPath, listen, admin string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"serve", "-config", cfgPath}, io.Discard, io.Discard) }()
	waitListening(t, admin, errc)
	waitListening(t, listen, errc)
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
}

// Test_run_policyRestart: a pushed version is still active after the
// process restarts on the same data_dir.
func Test_run_policyRestart(t *testing.T) {
	t.Parallel()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, r.URL.Query().Get("tag")) // read back by the test
	}))
	t.Cleanup(origin.Close)
	dir := t.TempDir()
	wasm, err := os.ReadFile("testdata/policies/tagged.wasm")
	if err != nil {
		t.Fatal(err)
	}
	v5 := filepath.Join(dir, "v5.wasm")
	for file, b := range map[string][]byte{
		filepath.Join(dir, "tagged.wasm"): wasm,
		v5:                                bytes.Replace(wasm, []byte("v0000000"), []byte("v0000005"), 1),
	} {
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	listen, admin := freeAddr(t), freeAddr(t)
	cfgPath := filepath.Join(dir, "config.toml")
	src := fmt.Sprintf(`[server]
listen = %q
shutdown_timeout = "5s"
[admin]
listen = %q
data_dir = "data"
[log]
level = "warn"
[[routes]]
name = "api"
upstreams = [%q]
policy = "tagged"
[policies.tagged]
module = "tagged.wasm"
`, listen, admin, origin.URL)
	if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	adminURL := "http://" + admin
	stop := startServe(t, cfgPath, listen, admin)
	var out bytes.Buffer
	if err := run(t.Context(), []string{"policy", "push", "-admin", adminURL, "tagged", v5}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	pushed := out.String()
	stop()

	stop = startServe(t, cfgPath, listen, admin)
	defer stop()
	out.Reset()
	if err := run(t.Context(), []string{"policy", "list", "-admin", adminURL}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	// "tagged: version ID active (previous ...)" and "tagged  ID  2  api ..."
	f := strings.Fields(pushed)
	if len(f) < 3 || !strings.Contains(out.String(), "tagged  "+f[2]+"  2 ") {
		t.Errorf("after restart, list:\n%s\nwant version %v active of 2", out.String(), f)
	}
	if status, label, body := get(t, "http://"+listen+"/x"); status != 200 || body != "v0000005" || label != "tagged@"+f[2] {
		t.Errorf("after restart: GET = %d %q %q, want the pushed version", status, label, body)
	}
}

func get(t *testing.T, url string) (status int, policy, body string) {
	t.Helper()
	resp, err := http.Get(url) //nolint:noctx // a test against a loopback server
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body) // a short read shows as a wrong body
	return resp.StatusCode, resp.Header.Get("Flowcache-Policy"), string(b)
}

// Test_run_policyCLI pushes, lists and rolls back a policy of a gateway
// started with run, through the CLI.
func Test_run_policyCLI(t *testing.T) {
	t.Parallel()
	_, listen, admin := servePolicies(t, "")
	adminURL := "http://" + admin
	dir := t.TempDir()
	wasm, err := os.ReadFile("testdata/policies/tagged.wasm")
	if err != nil {
		t.Fatal(err)
	}
	v1 := filepath.Join(dir, "v1.wasm")
	if err := os.WriteFile(v1, bytes.Replace(wasm, []byte("v0000000"), []byte("v0000001"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.wasm")
	if err := os.WriteFile(bad, []byte("not wasm"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(t.Context(), append([]string{"policy"}, args...), &out, &errb)
		return out.String() + errb.String(), err
	}
	tests := []struct {
		name    string
		args    []string
		want    string // in the output, or in the error
		wantErr bool
	}{
		{"push", []string{"push", "tagged", v1, "-admin", adminURL}, "tagged: version ", false},
		{"push with config", []string{"push", "-admin", adminURL, "-config", `{"a":1}`, "tagged", v1}, "tagged: version ", false},
		{"list", []string{"list", "-admin", adminURL}, "tagged", false},
		{"rollback", []string{"rollback", "-admin", adminURL, "tagged"}, "tagged: version ", false},
		{"rollback twice", []string{"rollback", "-admin", adminURL, "tagged"}, "tagged: version ", false},
		{"push not wasm", []string{"push", "-admin", adminURL, "tagged", bad}, "400 Bad Request: plugins: policy \"tagged\": malformed module", true},
		{"rollback unknown", []string{"rollback", "-admin", adminURL, "tagged", "ffffffffff"}, "404 Not Found", true},
		{"bad -config", []string{"push", "-admin", adminURL, "-config", "[1]", "tagged", v1}, "-config: want a JSON object", true},
		{"missing file", []string{"push", "-admin", adminURL, "tagged", filepath.Join(dir, "nope.wasm")}, "no such file", true},
		{"too few arguments", []string{"push", "tagged"}, "1 arguments, want 2 to 2", true},
		{"no gateway", []string{"list", "-admin", "http://" + freeAddr(t)}, "connection refused", true},
	}
	for _, tt := range tests {
		out, err := cli(tt.args...)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err %v, want error %v (output %q)", tt.name, err, tt.wantErr, out)
		}
		if err != nil {
			out += err.Error()
		}
		if !strings.Contains(out, tt.want) {
			t.Errorf("%s: output %q, want %q", tt.name, out, tt.want)
		}
	}
	// The list shows the route using it; the last rollback went back to
	// the version with config, whose tag is v0000001 too.
	out, err := cli("list", "-admin", adminURL)
	if err != nil || !strings.Contains(out, "NAME") || !strings.Contains(out, " api ") {
		t.Errorf("list = %q, %v", out, err)
	}
	if status, label, body := get(t, "http://"+listen+"/x"); status != 200 || body != "v0000001" || !strings.HasPrefix(label, "tagged@") {
		t.Errorf("GET = %d %q %q", status, label, body)
	}
}

// Test_run_reload: POST /reload with a broken file answers 400 with the
// file's line and keeps serving; SIGHUP with a fixed file applies it.
func Test_run_reload(t *testing.T) {
	t.Parallel()
	cfgPath, listen, admin := servePolicies(t, "")
	orig, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	post := func() (int, string) {
		resp, err := http.Post("http://"+admin+"/reload", "application/json", nil) //nolint:noctx // a test against a loopback server
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body) // a short read shows in the assertion
		return resp.StatusCode, string(b)
	}
	broken := strings.Replace(string(orig), `policy = "tagged"`, `policy = "nope"`, 1)
	if err := os.WriteFile(cfgPath, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	status, body := post()
	if status != 400 || !strings.Contains(body, `config.toml:12: routes[0].policy: \"nope\" is neither`) {
		t.Errorf("reload of a broken file = %d %s", status, body)
	}
	if status, _, body := get(t, "http://"+listen+"/a"); status != 200 || body != "v0000000" {
		t.Errorf("after a failed reload: %d %q, want the old config serving", status, body)
	}
	fixed := string(orig) + "\n[[routes]]\nname = \"b\"\npath_prefix = \"/b/\"\nupstreams = [\"http://127.0.0.1:1\"]\nno_cache = true\n"
	if err := os.WriteFile(cfgPath, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	poll.WaitFor(t, "SIGHUP to apply the fixed file", func() bool {
		// Route b's upstream refuses connections: 502 means route b exists.
		status, _, _ := get(t, "http://"+listen+"/b/x")
		return status == http.StatusBadGateway
	})
	if status, body := post(); status != 200 {
		t.Errorf("reload of the fixed file = %d %s", status, body)
	}
}
