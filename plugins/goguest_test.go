package plugins

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/flowcache/flowcache/policy"
)

var goGuest struct {
	once sync.Once
	wasm []byte
	err  error
}

// goGuestWasm builds testdata/goguest with the standard Go toolchain
// (GOOS=wasip1, -buildmode=c-shared), once per test binary. It skips the test
// under -short or without a go command.
func goGuestWasm(t testing.TB) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a Go guest; skipped with -short")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the Go guest")
	}
	goGuest.once.Do(func() {
		dir, err := os.MkdirTemp("", "goguest-")
		if err != nil {
			goGuest.err = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "goguest.wasm")
		cmd := exec.Command(goCmd, "build", "-buildmode=c-shared", "-o", out, "./testdata/goguest")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if msg, err := cmd.CombinedOutput(); err != nil {
			goGuest.err = errors.New(string(msg) + err.Error())
			return
		}
		goGuest.wasm, goGuest.err = os.ReadFile(out)
	})
	if goGuest.err != nil {
		t.Fatalf("building the Go guest: %v", goGuest.err)
	}
	return goGuest.wasm
}

// TestModule_GoGuest runs a policy built with the standard Go toolchain: it
// must be started through _initialize (its package variables are set by
// then), and a Go panic is contained like a trap.
func TestModule_GoGuest(t *testing.T) {
	t.Parallel()
	wasm := goGuestWasm(t)
	m := mustLoad(t, newTestRuntime(t, Options{}), "go", wasm, nil)
	req := &policy.Request{Method: []byte("GET"), Host: []byte("h"), Path: []byte("/p")}
	var k policy.Key
	if err := m.Key(req, &k); err != nil {
		t.Fatalf("Key: %v", err)
	}
	if string(k.Host) != "h" || string(k.Target) != "/p" || string(k.Variant) != "go:" {
		t.Errorf("Key = %q %q %q, want h /p go: (package initialised by _initialize)", k.Host, k.Target, k.Variant)
	}
	req.Path = []byte("/panic")
	k.Reset()
	// A Go panic ends in proc_exit(2) or, from an export, in unreachable.
	if err := m.Key(req, &k); !errors.Is(err, ErrExit) && !errors.Is(err, ErrTrap) {
		t.Errorf("Key(/panic) = %v, want ErrExit or ErrTrap", err)
	}
	req.Path = []byte("/again") // the next call gets a fresh instance
	k.Reset()
	if err := m.Key(req, &k); err != nil || string(k.Target) != "/again" {
		t.Errorf("Key after panic = %q, %v", k.Target, err)
	}
	d := policy.Decision{Store: true, TTL: 1}
	if err := m.Decide(req, &policy.Response{Status: 200}, &d); err != nil || !d.Store || d.TTL != 1 {
		t.Errorf("Decide = %+v, %v, want the default kept", d, err)
	}
}

// BenchmarkModule_KeyGoGuest is the key call of a Go guest (standard
// toolchain) on the realistic request.
func BenchmarkModule_KeyGoGuest(b *testing.B) {
	m := mustLoad(b, newTestRuntime(b, Options{}), "go", goGuestWasm(b), nil)
	benchKey(b, m)
}

func TestModule_GoGuestPanicLogged(t *testing.T) {
	t.Parallel()
	wasm := goGuestWasm(t)
	h := &recordHandler{}
	m := mustLoad(t, newTestRuntime(t, Options{Logger: slog.New(h)}), "go", wasm, nil)
	var k policy.Key
	if err := m.Key(&policy.Request{Method: []byte("GET"), Path: []byte("/panic")}, &k); err == nil {
		t.Fatal("Key(/panic) = nil error")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.records) != 1 {
		t.Fatalf("%d log records, want 1", len(h.records))
	}
	var stderr string
	h.records[0].Attrs(func(a slog.Attr) bool {
		if a.Key == "guest_stderr" {
			stderr = a.Value.String()
		}
		return true
	})
	if !strings.Contains(stderr, "panic: boom") {
		t.Errorf("guest_stderr = %q, want the Go panic message", stderr)
	}
}

// BenchmarkModule_KeyGoGuestUnmetered is BenchmarkModule_KeyGoGuest without
// the fuel budget.
func BenchmarkModule_KeyGoGuestUnmetered(b *testing.B) {
	m := mustLoad(b, newTestRuntime(b, Options{noMeter: true}), "go", goGuestWasm(b), nil)
	benchKey(b, m)
}

// benchGuests are the two guests the benchmarks compare: the WAT module
// and the Go guest (built on first use).
var benchGuests = []struct {
	name string
	wasm func(testing.TB) []byte
}{
	{"wat", func(testing.TB) []byte { return minimalWasm }},
	{"go", goGuestWasm},
}

// BenchmarkModule_Instantiate measures creating (and closing) one instance:
// what a request pays when the pool is empty.
func BenchmarkModule_Instantiate(b *testing.B) {
	for _, tt := range benchGuests {
		b.Run(tt.name, func(b *testing.B) {
			m := mustLoad(b, newTestRuntime(b, Options{}), tt.name, tt.wasm(b), nil)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				inst, err := m.newInstance(ctx, false)
				if err != nil {
					b.Fatal(err)
				}
				inst.close()
			}
		})
	}
}
