package plugins

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/flowcache/flowcache/policy"
)

// TestStore_DryRunRandom checks that an upload is tried with requests a
// module cannot recognise: one that behaves only on a fixed request (the
// old /flowcache/dry-run) and loops on any other is refused.
func TestStore_DryRunRandom(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, "")
	_, err := s.Put(context.Background(), "cloak", cloakWasm, nil)
	if !errors.Is(err, ErrDryRun) || !errors.Is(err, ErrFuel) {
		t.Fatalf("Put(cloak) = %v, want a dry run failure: fuel exhausted", err)
	}
	if _, err := s.Put(context.Background(), "minimal", minimalWasm, nil); err != nil {
		t.Fatalf("Put(minimal) = %v", err)
	}
}

// TestDryRunCases checks that the cases differ between uploads and look
// like traffic: a path, a Host header that matches the host, a response
// with a status.
func TestDryRunCases(t *testing.T) {
	t.Parallel()
	a, b := dryRunCases(dryRunRequests), dryRunCases(dryRunRequests)
	if len(a) != dryRunRequests {
		t.Fatalf("%d cases, want %d", len(a), dryRunRequests)
	}
	same := 0
	for i := range a {
		r := &a[i].req
		if len(r.Path) == 0 || r.Path[0] != '/' || bytes.Contains(r.Path, []byte("dry-run")) {
			t.Errorf("case %d: path %q", i, r.Path)
		}
		if v, ok := header(r.Headers, "Host"); !ok || !bytes.Equal(v, r.Host) {
			t.Errorf("case %d: Host header %q, host %q", i, v, r.Host)
		}
		if a[i].resp.Status < 200 || a[i].resp.Status > 599 {
			t.Errorf("case %d: status %d", i, a[i].resp.Status)
		}
		if bytes.Equal(a[i].req.Path, b[i].req.Path) && bytes.Equal(a[i].req.Host, b[i].req.Host) {
			same++
		}
	}
	if same == len(a) {
		t.Errorf("two draws gave the same requests: %q", a[0].req.Path)
	}
}

func header(h policy.Headers, name string) ([]byte, bool) {
	for i := range h {
		if string(h[i].Name) == name {
			return h[i].Value, true
		}
	}
	return nil, false
}
