package plugins

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/policy"
)

// errmsgWasm explains its failures through flowcache_error; built from
// testdata/errmsg.wat by wat2wasm errmsg.wat -o errmsg.wasm.
//
//go:embed testdata/errmsg.wasm
var errmsgWasm []byte

// TestGuestError_Init: the load error of a failed flowcache_init carries
// the guest's message on one line, with the code; without the export it
// keeps "returned N".
func TestGuestError_Init(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Options{})
	cfg := DefaultConfig()
	cfg.Config = map[string]any{"rules": 1}
	_, err := rt.LoadBytes(context.Background(), "ttl", errmsgWasm, &cfg)
	want := `plugins: policy "ttl": initialisation failed: flowcache_init: rules[0].ttl: "1 minute" is not a duration; rules[2]: unknown key "tll" (code 7)`
	if err == nil || err.Error() != want || !errors.Is(err, ErrInit) {
		t.Errorf("LoadBytes = %v,\nwant %s", err, want)
	}
	def := DefaultConfig()
	_, err = rt.LoadBytes(context.Background(), "old", initfailWasm, &def)
	if err == nil || !strings.HasSuffix(err.Error(), "flowcache_init returned 3") {
		t.Errorf("LoadBytes(initfail) = %v, want ... flowcache_init returned 3", err)
	}
}

// TestGuestError_Call: the error result's message reaches the CallError
// and the failure log, which names policy, version, route and target; a
// module with no message keeps "returned -1".
func TestGuestError_Call(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	rt := newTestRuntime(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	m := mustLoad(t, rt, "errmsg", errmsgWasm, nil)
	m.version = "0123456789ab"
	r := &policy.Request{Method: []byte("GET"), Scheme: []byte("https"), Host: []byte("h"), Path: []byte("/a"), Query: []byte("b=1"), Route: []byte("api")}
	var k policy.Key
	err := m.Key(r, &k)
	if err == nil || !errors.Is(err, ErrGuest) ||
		err.Error() != `plugins: policy "errmsg" version 0123456789ab: key: guest error: Key: no route for this host` {
		t.Errorf("Key = %v", err)
	}
	for _, want := range []string{"policy=errmsg", "version=0123456789ab", "route=api", "target=\"/a?b=1\"", "op=key", "no route for this host"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %q lacks %q", logs.String(), want)
		}
	}
	var d policy.Decision
	err = m.Decide(r, &policy.Response{Status: 200}, &d)
	if err == nil || !strings.HasSuffix(err.Error(), "decide: guest error: decide returned -1") {
		t.Errorf("Decide = %v", err)
	}
	if s := m.Stats(); s.GuestErrors != 2 || s.InstancesDiscarded != 0 {
		t.Errorf("Stats = %+v, want 2 guest errors, no instance discarded", s)
	}
}

// TestRuntime_Totals: failure counters by policy name add up across the
// modules loaded under that name (a swap, a rollback), where each
// module's Stats start at zero.
func TestRuntime_Totals(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Options{})
	r := &policy.Request{Method: []byte("GET"), Host: []byte("h"), Path: []byte("/")}
	call := func(m *Module, n int) {
		for range n {
			var k policy.Key
			if err := m.Key(r, &k); err == nil {
				t.Fatal("Key succeeded")
			}
		}
	}
	dry := mustLoad(t, rt, "swapped", errmsgWasm, nil)
	call(dry, 1) // no version: a dry run, not counted
	v1 := mustLoad(t, rt, "swapped", errmsgWasm, nil)
	v1.version = "v1" // as Store sets it when it activates the module
	call(v1, 2)
	v2 := mustLoad(t, rt, "swapped", trapWasm, nil)
	v2.version = "v2"
	call(v2, 3)
	call(v1, 1) // a call in flight on the old version still counts
	if got := rt.Totals("swapped"); got.GuestErrors != 3 || got.Traps != 3 || got.InstancesDiscarded != 3 || got.Failures() != 6 {
		t.Errorf("Totals = %+v, want 3 guest errors, 3 traps", got)
	}
	if got := v2.Stats(); got.Traps != 3 || got.GuestErrors != 0 {
		t.Errorf("v2.Stats = %+v, want its own 3 traps", got)
	}
	if got := rt.Totals("other"); got.Failures() != 0 {
		t.Errorf("Totals(other) = %+v", got)
	}
}

func TestOneLineMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		cut  bool
		want string
	}{
		{"a\nb\r\nc\n", false, "a; b; c"},
		{"tab\there\x00\x7f", false, "tab here  "},
		{"bad \xff utf8", false, "bad \uFFFD utf8"},
		{"cut in é"[:len("cut in é")-1], true, "cut in …"},
	}
	for _, tt := range tests {
		if got := oneLineMessage([]byte(tt.in), tt.cut); got != tt.want {
			t.Errorf("oneLineMessage(%q, %t) = %q, want %q", tt.in, tt.cut, got, tt.want)
		}
	}
}
