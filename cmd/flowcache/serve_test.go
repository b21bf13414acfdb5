package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/internal/poll"
)

// Test_run serves a real origin through `flowcache serve` on free loopback
// ports: the first request is a miss, the second a hit, and cancelling the
// context (what SIGINT and SIGTERM do in main) makes run return nil.
func Test_run(t *testing.T) {
	t.Parallel()
	var originHits atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		originHits.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "hello from origin") // the test reads it back
	}))
	t.Cleanup(origin.Close)

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
name = "test"
upstreams = [%q]
`, listen, admin, origin.URL))

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stderr lockedBuffer
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"serve", "-config", cfg}, io.Discard, &stderr) }()
	waitListening(t, listen, errc)

	for i, want := range []string{"MISS", "HIT"} {
		resp, err := http.Get("http://" + listen + "/hello")
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		if got := resp.Header.Get("X-Cache"); got != want {
			t.Errorf("request %d: X-Cache = %q, want %q", i+1, got, want)
		}
		if string(body) != "hello from origin" {
			t.Errorf("request %d: body = %q, want %q", i+1, body, "hello from origin")
		}
	}
	if n := originHits.Load(); n != 1 {
		t.Errorf("origin saw %d requests, want 1", n)
	}

	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run(serve) = %v after cancel, want nil\nstderr:\n%s", err, stderr.String())
	}
}

func Test_run_serveErrors(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	tests := []struct {
		name    string
		args    func(t *testing.T) []string
		wantErr string
	}{
		{
			name:    "invalid config",
			args:    func(*testing.T) []string { return []string{"serve", "-config", "testdata/config/no_upstream.toml"} },
			wantErr: "no_upstream.toml:5: routes[1].upstreams: at least one upstream is required",
		},
		{
			name: "explicit config missing",
			args: func(t *testing.T) []string {
				return []string{"serve", "-config", filepath.Join(t.TempDir(), "config.toml")}
			},
			wantErr: "no such file",
		},
		{
			name: "listen address in use",
			args: func(t *testing.T) []string {
				return []string{"serve", "-config", writeConfig(t, fmt.Sprintf(
					"[server]\nlisten = %q\n[admin]\nlisten = %q\n[[routes]]\nname = \"a\"\nupstreams = [\"http://127.0.0.1:9\"]\n",
					busy.Addr().String(), freeAddr(t)))}
			},
			wantErr: "server.listen:",
		},
		{
			name: "admin address in use",
			args: func(t *testing.T) []string {
				return []string{"serve", "-config", writeConfig(t, fmt.Sprintf(
					"[server]\nlisten = %q\n[admin]\nlisten = %q\n[[routes]]\nname = \"a\"\nupstreams = [\"http://127.0.0.1:9\"]\n",
					freeAddr(t), busy.Addr().String()))}
			},
			wantErr: "admin.listen:",
		},
		{
			name:    "extra argument",
			args:    func(*testing.T) []string { return []string{"serve", "x"} },
			wantErr: errUsage.Error(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := tt.args(t)
			err := run(t.Context(), args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("run(%q) = %v, want an error containing %q", args, err, tt.wantErr)
			}
		})
	}
}

func TestServeConfig(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "config.toml")
	cfg, source, err := serveConfig(missing, false)
	if err != nil || source != embeddedSource || len(cfg.Routes) != 1 || cfg.Routes[0].Upstreams[0] != exampleOrigin {
		t.Errorf("serveConfig(missing default) = %+v, %v, %v; want the embedded defaults", cfg.Routes, source, err)
	}
	if _, _, err := serveConfig(missing, true); err == nil {
		t.Error("serveConfig(missing, explicit) = nil error, want one")
	}
	cfg, source, err = serveConfig("testdata/valid/full.toml", false)
	if err != nil || source != "testdata/valid/full.toml" || cfg.Server.Listen != "0.0.0.0:8080" {
		t.Errorf("serveConfig(full.toml) = %q, %v, %v; want the file", cfg.Server.Listen, source, err)
	}
}

func TestNewLogger(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level, format string
		wantDebug     bool
		wantPrefix    string
		wantErr       bool
	}{
		{level: "debug", format: "text", wantDebug: true, wantPrefix: "time="},
		{level: "info", format: "json", wantPrefix: "{"},
		{level: "warn", format: "text"},
		{level: "loud", format: "text", wantErr: true},
		{level: "info", format: "xml", wantErr: true},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		logger, err := newLogger(gateway.LogConfig{Level: tt.level, Format: tt.format}, &buf)
		if (err != nil) != tt.wantErr {
			t.Errorf("newLogger(%q, %q) error = %v, want error: %v", tt.level, tt.format, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if got := logger.Enabled(t.Context(), -4); got != tt.wantDebug {
			t.Errorf("newLogger(%q, %q): debug enabled = %v, want %v", tt.level, tt.format, got, tt.wantDebug)
		}
		logger.Error("probe")
		if !strings.HasPrefix(buf.String(), tt.wantPrefix) {
			t.Errorf("newLogger(%q, %q) wrote %q, want prefix %q", tt.level, tt.format, buf.String(), tt.wantPrefix)
		}
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func writeConfig(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitListening returns once addr accepts connections; it fails the test if
// run returns first, or if nothing listens within 10s.
func waitListening(t *testing.T, addr string, errc <-chan error) {
	t.Helper()
	poll.WaitFor(t, "a listener on "+addr, func() bool {
		select {
		case err := <-errc:
			t.Fatalf("run returned before listening on %s: %v", addr, err)
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		conn.Close()
		return true
	})
}

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
