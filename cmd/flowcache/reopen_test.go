package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/flowcache/flowcache/internal/poll"
)

// Test_run_accessLogReopen: serve writes the access log to access_file
// and, on SIGUSR1, reopens it: after logrotate moved the file, the next
// lines go to a new one at the path.
func Test_run_accessLogReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	listen, _ := serveSimple(t, dir, fmt.Sprintf("access = \"combined\"\naccess_file = %q\n", logPath))
	waitLine := func(path, want string) {
		t.Helper()
		poll.WaitFor(t, fmt.Sprintf("%q in %s", want, path), func() bool {
			b, _ := os.ReadFile(path) //nolint:errcheck // missing until the first line: read as empty
			return strings.Contains(string(b), want)
		})
	}
	get(t, "http://"+listen+"/before")
	waitLine(logPath, `"GET /before HTTP/1.1" 200`)
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	// The reopen is asynchronous: send requests until one lands in a new
	// file at the path.
	poll.WaitFor(t, "SIGUSR1 to reopen the access log", func() bool {
		get(t, "http://"+listen+"/after")
		b, err := os.ReadFile(logPath)
		return err == nil && strings.Contains(string(b), "/after")
	})
	if b, _ := os.ReadFile(logPath + ".1"); strings.Count(string(b), "\n") < 1 || !strings.Contains(string(b), "/before") { //nolint:errcheck // checked by the assertion
		t.Errorf("rotated file = %q, want the /before line", b)
	}
}

// serveSimple runs `flowcache serve` with one cached route in front of a
// local origin, with extraLog added to [log], until the test ends, and
// returns the data and admin addresses.
func serveSimple(t *testing.T, dir, extraLog string) (listen, admin string) {
	t.Helper()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("hello")) // the test reads the answers
	}))
	t.Cleanup(origin.Close)
	listen, admin = freeAddr(t), freeAddr(t)
	cfgPath := filepath.Join(dir, "config.toml")
	src := fmt.Sprintf(`[server]
listen = %q
shutdown_timeout = "5s"
[admin]
listen = %q
[log]
level = "warn"
%s[[routes]]
name = "api"
upstreams = [%q]
`, listen, admin, extraLog, origin.URL)
	if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	startServe(t, cfgPath, listen, admin)
	return listen, admin
}
