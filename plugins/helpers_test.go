package plugins

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/flowcache/flowcache/policy"
)

// sharedCacheDir is the compilation cache of the tests' runtimes, so that
// each module is compiled once per test binary (the Go guest takes seconds,
// more under -race).
var sharedCacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "plugins-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedCacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newTestRuntime returns a Runtime closed at the end of the test. It uses the
// shared compilation cache unless opts.CacheDir is set.
func newTestRuntime(t testing.TB, opts Options) *Runtime {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = sharedCacheDir
	}
	rt, err := NewRuntime(opts)
	if err != nil {
		t.Fatalf("NewRuntime: %v", err)
	}
	t.Cleanup(func() {
		if err := rt.Close(context.Background()); err != nil {
			t.Errorf("Runtime.Close: %v", err)
		}
	})
	return rt
}

// mustLoad loads wasm with cfg (DefaultConfig if nil).
func mustLoad(t testing.TB, rt *Runtime, name string, wasm []byte, cfg *Config) *Module {
	t.Helper()
	if cfg == nil {
		c := DefaultConfig()
		cfg = &c
	}
	m, err := rt.LoadBytes(context.Background(), name, wasm, cfg)
	if err != nil {
		t.Fatalf("LoadBytes(%s): %v", name, err)
	}
	return m
}

func hdrs(kv ...string) policy.Headers {
	h := make(policy.Headers, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		h = append(h, policy.Header{Name: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return h
}

// benchRequest is the realistic request of the design measurements: GET, a
// 60-byte path, 5 query parameters, 8 headers.
func benchRequest() *policy.Request {
	return &policy.Request{
		Method: []byte("GET"), Scheme: []byte("https"), Host: []byte("API.Example.com"),
		Path:  []byte("/v1/catalog/products/electronics/phones/smartphones/item-1234"),
		Query: []byte("utm_source=news&b=2&a=1&page=3&sort=price"),
		Route: []byte("api"),
		Headers: hdrs("Accept", "application/json", "Accept-Encoding", "gzip, br",
			"Accept-Language", "en-GB,en;q=0.9", "User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
			"X-Device", "mobile", "X-Request-Id", "0f8fad5b-d9cb-469f-a165-70867728950e",
			"Referer", "https://www.example.com/", "Priority", "u=1"),
	}
}

// recordHandler is a slog.Handler that keeps records.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error { //nolint:gocritic // slog.Handler's signature
	h.mu.Lock()
	h.records = append(h.records, r)
	h.mu.Unlock()
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordHandler) messages(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for i := range h.records {
		if h.records[i].Message == msg {
			n++
		}
	}
	return n
}
