package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowcache/flowcache/policy"
)

func TestParseShare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Share
		err  string
	}{
		{"10%", 1000, ""}, {"10", 1000, ""}, {"2.5%", 250, ""}, {"0.01%", 1, ""}, {"100%", 10000, ""}, {"0", 0, ""},
		{" 5% ", 500, ""}, {"101%", 0, "more than 100%"}, {"1.234%", 0, "at most two decimals"}, {"", 0, "want a percentage"},
		{"-1%", 0, "want a percentage"}, {"5.%", 0, "want a percentage"}, {"abc", 0, "want a percentage"}, {"1000", 0, "want a percentage"},
	}
	for _, tt := range tests {
		got, err := ParseShare(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseShare(%q) = %v, %v; want an error with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseShare(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if back, err := ParseShare(got.String()); err != nil || back != got {
			t.Errorf("ParseShare(%q) does not read back %v: %v, %v", got.String(), got, back, err)
		}
	}
}

// TestCanaryBucket: stable, blind to the host's case, and spread evenly
// enough that a 10% canary gets about 10% of distinct paths.
func TestCanaryBucket(t *testing.T) {
	t.Parallel()
	if a, b := CanaryBucket([]byte("API.example.com"), []byte("/x")), CanaryBucket([]byte("api.example.com"), []byte("/x")); a != b {
		t.Errorf("CanaryBucket differs by the host's case: %d, %d", a, b)
	}
	if a, b := CanaryBucket([]byte("a.b"), []byte("/x")), CanaryBucket([]byte("a.b"), []byte("/X")); a == b {
		t.Logf("paths /x and /X share a bucket (allowed, unlikely)")
	}
	// A value that must not change between releases: nodes of two versions
	// must put a request on the same side.
	if got := CanaryBucket([]byte("example.test"), []byte("/item/1")); got != CanaryBucket([]byte("example.test"), []byte("/item/1")) || got >= 10000 {
		t.Errorf("CanaryBucket = %d", got)
	}
	in := 0
	const n = 20000
	for i := range n {
		if CanaryBucket([]byte("shop.example.com"), fmt.Appendf(nil, "/products/%d", i)) < 1000 {
			in++
		}
	}
	if in < n*8/100 || in > n*12/100 {
		t.Errorf("%d of %d paths in a 10%% share, want about %d", in, n, n/10)
	}
}

// servedKey calls Key through the version of name serving path.
func servedKey(t *testing.T, s *Store, name, path string) (label string, err error) {
	t.Helper()
	p, ok := s.PolicyFor(name, []byte("example.test"), []byte(path))
	if !ok {
		t.Fatalf("PolicyFor(%q): not found", name)
	}
	a := p.(*Active)
	defer a.Release()
	var k policy.Key
	err = a.Key(&policy.Request{Method: []byte("GET"), Host: []byte("example.test"), Path: []byte(path)}, &k)
	return string(a.Label()), err
}

// TestStore_Canary: a canary serves its share of paths, the same path
// always on the same side; a step changes the share; promote keeps its
// namespace; discard drops it.
func TestStore_Canary(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, "")
	ctx := context.Background()
	v0, err := s.Put(ctx, "p", minimalWasm, map[string]any{"v": 0})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := s.Stage(ctx, "p", minimalWasm, map[string]any{"v": 1}, ModeCanary, 1000)
	if err != nil {
		t.Fatal(err)
	}
	count := func() (onCanary int) {
		for i := range 1000 {
			path := fmt.Sprintf("/p/%d", i)
			label, err := servedKey(t, s, "p", path)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := servedKey(t, s, "p", path)
			if label != again {
				t.Fatalf("%s served by %s then %s", path, label, again)
			}
			if label == "p@"+v1.Version[:12] {
				onCanary++
			}
		}
		return onCanary
	}
	if n := count(); n < 60 || n > 140 {
		t.Errorf("%d of 1000 paths on a 10%% canary", n)
	}
	if err := s.SetShare("p", "", 5000); err != nil {
		t.Fatal(err)
	}
	if n := count(); n < 420 || n > 580 {
		t.Errorf("%d of 1000 paths on a 50%% canary", n)
	}
	c, _ := s.Canary("p")
	ns := string(c.(*Active).Namespace())
	c.(*Active).Release()
	if _, err := s.Promote("p"); err != nil {
		t.Fatal(err)
	}
	a := lease(t, s, "p")
	if a.Version() != v1.Version || string(a.Namespace()) != ns {
		t.Errorf("promoted: %s in namespace %s, want %s in the canary's %s", a.Version()[:12], a.Namespace(), v1.Version[:12], ns)
	}
	a.Release()
	in, _ := s.Get("p")
	if in.Previous != v0.Version || in.Candidate != nil || in.WatchedUntil == nil {
		t.Errorf("after promote: previous %.12s candidate %v watched %v; want %.12s, none, watched", in.Previous, in.Candidate, in.WatchedUntil, v0.Version)
	}
	if _, ok := s.Canary("p"); ok {
		t.Error("a canary after promote")
	}
	if err := s.Discard("p"); !errors.Is(err, ErrConflict) {
		t.Errorf("Discard without a candidate = %v, want ErrConflict", err)
	}
}

// TestStore_AutoRollback: a canary failing over its threshold is
// discarded; a freshly uploaded version failing within its window is
// replaced by the previous one; both give the reason, and the events say
// so to the other nodes.
func TestStore_AutoRollback(t *testing.T) {
	t.Parallel()
	var (
		mu     sync.Mutex // the monitor's rollbacks call OnChange on its goroutine
		events []Event
	)
	s, err := OpenStore(newTestRuntime(t, Options{}), StoreOptions{
		Rollout: RolloutConfig{MinCalls: 10},
		OnChange: func(ev Event) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := context.Background()
	v0, err := s.Put(ctx, "p", minimalWasm, map[string]any{"v": 0})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := s.Stage(ctx, "p", minimalWasm, map[string]any{"v": 1}, ModeCanary, FullShare)
	if err != nil {
		t.Fatal(err)
	}
	// minimal answers the error result (-1) for paths starting "/!".
	for i := range 20 {
		if _, err := servedKey(t, s, "p", fmt.Sprintf("/!%d", i)); err == nil {
			t.Fatal("no error on /!")
		}
	}
	waitFor(t, "the canary rolled back", func() bool { in, _ := s.Get("p"); return in.Candidate == nil })
	in, _ := s.Get("p")
	if rb := in.LastRollback; rb == nil || rb.Version != v1.Version || rb.Stage != "canary" || rb.Kind != "failure_rate" || in.Active != v0.Version {
		t.Fatalf("after the canary's rollback: active %.12s, %+v", in.Active, in.LastRollback)
	}
	if in.Rollout.Rollbacks["failure_rate"] != 1 {
		t.Errorf("rollbacks = %v, want one failure_rate", in.Rollout.Rollbacks)
	}

	v2, err := s.Put(ctx, "p", minimalWasm, map[string]any{"v": 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		_, _ = servedKey(t, s, "p", fmt.Sprintf("/ok/%d", i))
		_, _ = servedKey(t, s, "p", fmt.Sprintf("/!%d", i))
	}
	waitFor(t, "the upload rolled back", func() bool { in, _ := s.Get("p"); return in.Active == v0.Version })
	in, _ = s.Get("p")
	if rb := in.LastRollback; rb == nil || rb.Version != v2.Version || rb.Stage != "swap" || in.WatchedUntil != nil {
		t.Errorf("after the swap's rollback: %+v, watched until %v; want %.12s rolled back and no watch", rb, in.WatchedUntil, v2.Version)
	}
	mu.Lock()
	defer mu.Unlock()
	last := events[len(events)-1]
	if last.LastRollback == nil || last.LastRollback.Version != v2.Version || last.Version.ID != v0.Version {
		t.Errorf("last event %+v, want the rollback to %.12s", last, v0.Version)
	}

	// Another node applies the events: it ends with v0 and the reason.
	b := newTestStore(t, "")
	for _, ev := range events {
		if err := b.Apply(ctx, ev, s.Module); err != nil {
			t.Fatalf("Apply(%+v): %v", ev, err)
		}
	}
	if in, _ := b.Get("p"); in.Active != v0.Version || in.LastRollback == nil || in.LastRollback.Version != v2.Version {
		t.Errorf("the other node: active %.12s, last rollback %+v", in.Active, in.LastRollback)
	}
}

// TestStore_Tombstone: a delete is an event; a node applying it deletes
// the policy, and no older event brings it back.
func TestStore_Tombstone(t *testing.T) {
	t.Parallel()
	var events []Event
	a, err := OpenStore(newTestRuntime(t, Options{}), StoreOptions{OnChange: func(ev Event) { events = append(events, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	ctx := context.Background()
	if _, err := a.Put(ctx, "p", minimalWasm, nil); err != nil {
		t.Fatal(err)
	}
	b := newTestStore(t, t.TempDir())
	if err := b.Apply(ctx, events[0], a.Module); err != nil {
		t.Fatal(err)
	}
	put := events[0]
	if err := a.Delete(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	tomb := events[len(events)-1]
	if !tomb.Deleted || tomb.Order() <= put.Order() {
		t.Fatalf("delete event %+v, want a tombstone after %d", tomb, put.Order())
	}
	if err := b.Apply(ctx, tomb, a.Module); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Get("p"); ok {
		t.Error("b has p after the tombstone")
	}
	if err := b.Apply(ctx, put, a.Module); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Get("p"); ok {
		t.Error("an older event brought p back")
	}
	if st := b.State(); len(st) != 1 || !st[0].Deleted {
		t.Errorf("b's state %+v, want the tombstone (shared with the others)", st)
	}
	if _, ok := b.Policy("p"); ok {
		t.Error("b serves p")
	}
	// A new upload after the delete is newer.
	r, err := a.Put(ctx, "p", minimalWasm, map[string]any{"new": true})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(ctx, events[len(events)-1], a.Module); err != nil {
		t.Fatal(err)
	}
	if in, ok := b.Get("p"); !ok || in.Active != r.Version {
		t.Errorf("after a new upload: %+v", in)
	}
}

// TestStore_VectorsOnApply: a node refuses to activate a synced version
// whose vectors fail there.
func TestStore_VectorsOnApply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var events []Event
	a, err := OpenStore(newTestRuntime(t, Options{}), StoreOptions{OnChange: func(ev Event) { events = append(events, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	good := []byte(`[{"name": "x", "request": {"host": "h.test", "path": "/a"}, "key": {"host": "h.test", "target": "/a"}}]`)
	if _, err := a.Upload(ctx, "p", Upload{Module: minimalWasm, Vectors: good}); err != nil {
		t.Fatal(err)
	}
	bad := []byte(`[{"name": "y", "request": {"host": "h.test", "path": "/a"}, "key": {"host": "h.test", "target": "/b"}}]`)
	_, err = a.Upload(ctx, "p", Upload{Module: minimalWasm, Config: map[string]any{"v": 1}, Vectors: bad})
	var vf *VectorsFailedError
	if !errors.As(err, &vf) || len(vf.Failed) != 1 || !strings.Contains(err.Error(), `key.target: want "/b", got "/a"`) {
		t.Fatalf("upload with failing vectors = %v, want a VectorsFailedError with the diff", err)
	}
	ev := events[0]
	b := newTestStore(t, "")
	if err := b.Apply(ctx, ev, a.Module); err != nil {
		t.Fatalf("Apply with passing vectors: %v", err)
	}
	// The same version announced with vectors it fails (as a node with
	// other limits would find them): refused, nothing changes.
	badSum := versionIDOf(bad)
	ev2 := ev
	ev2.Seq = ev.Order() + 1
	ev2.Version.VectorsSHA256, ev2.Version.VectorsSize = badSum, len(bad)
	c := newTestStore(t, "")
	err = c.Apply(ctx, ev2, func(sha string) ([]byte, error) {
		if sha == badSum {
			return bad, nil
		}
		return a.Module(sha)
	})
	if !errors.Is(err, ErrVectorsFailed) {
		t.Errorf("Apply with failing vectors = %v, want ErrVectorsFailed", err)
	}
	if _, ok := c.Get("p"); ok {
		t.Error("the version was activated despite its vectors")
	}
}

func versionIDOf(b []byte) string { id, _ := versionID(b, nil); return id }

// TestStore_ShadowDrops: with a queue of one job, a burst of sampled calls
// is partly dropped, and counted; every sample is either run or dropped.
func TestStore_ShadowDrops(t *testing.T) {
	t.Parallel()
	s, err := OpenStore(newTestRuntime(t, Options{}), StoreOptions{Rollout: RolloutConfig{ShadowQueue: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := context.Background()
	if _, err := s.Put(ctx, "p", minimalWasm, map[string]any{"v": 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Shadow("p"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Shadow without a shadow = %v, want ErrNotFound", err)
	}
	if _, err := s.Stage(ctx, "p", minimalWasm, map[string]any{"v": 1}, ModeShadow, FullShare); err != nil {
		t.Fatal(err)
	}
	const calls = 2000
	for i := range calls {
		if _, err := servedKey(t, s, "p", fmt.Sprintf("/x/%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var rep ShadowReport
	waitFor(t, "every sample run or dropped", func() bool {
		rep, err = s.Shadow("p")
		return err == nil && rep.Calls+rep.Dropped == calls
	})
	if rep.Sampled != calls || rep.Dropped == 0 || rep.KeyDiffs != 0 || rep.Errors != 0 {
		t.Errorf("report %+v: want %d sampled, some dropped, no difference", rep, calls)
	}
	if in, _ := s.Get("p"); in.Rollout.ShadowDropped != rep.Dropped || in.Rollout.ShadowCalls != rep.Calls {
		t.Errorf("policy counters %+v, want the report's %d calls and %d drops", in.Rollout, rep.Calls, rep.Dropped)
	}
}

// TestStore_ShadowDecisionDiff: a shadow whose decide gives another TTL
// is reported with both decisions and the response's status.
func TestStore_ShadowDecisionDiff(t *testing.T) {
	t.Parallel()
	// minimal.wasm with its decide's ttl (i64.const 60000) patched to 30000.
	ttl60, ttl30 := []byte{0x42, 0xe0, 0xd4, 0x03}, []byte{0x42, 0xb0, 0xea, 0x01}
	if bytes.Count(minimalWasm, ttl60) != 1 {
		t.Fatal("minimal.wasm: its ttl constant is not where this test expects it")
	}
	shorter := bytes.Replace(minimalWasm, ttl60, ttl30, 1)
	s := newTestStore(t, "")
	ctx := context.Background()
	if _, err := s.Put(ctx, "p", minimalWasm, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stage(ctx, "p", shorter, nil, ModeShadow, FullShare); err != nil {
		t.Fatal(err)
	}
	req := &policy.Request{Method: []byte("GET"), Host: []byte("h.test"), Path: []byte("/a")}
	resp := &policy.Response{Status: 200}
	p, _ := s.Policy("p")
	a := p.(*Active)
	var d policy.Decision
	d.Reset()
	if err := a.Decide(req, resp, &d); err != nil || d.TTL != time.Minute {
		t.Fatalf("Decide = %v, ttl %v; want the active version's 1m", err, d.TTL)
	}
	a.Release()
	var rep ShadowReport
	waitFor(t, "the decision compared", func() bool {
		var err error
		rep, err = s.Shadow("p")
		return err == nil && rep.DecideCalls == 1
	})
	if rep.DecisionDiffs != 1 || len(rep.Samples) != 1 {
		t.Fatalf("report %+v, want one decision difference", rep)
	}
	sm := rep.Samples[0]
	if sm.Kind != "decision" || sm.Status != 200 || sm.ActiveDecision.TTL != "1m0s" || sm.CandidateDecision.TTL != "30s" {
		t.Errorf("sample %+v (active %+v, shadow %+v), want ttl 1m0s vs 30s on a 200", sm, sm.ActiveDecision, sm.CandidateDecision)
	}
}

// TestStore_ApplyCandidateRefused: a node that cannot run a candidate
// (its vectors fail there) applies the rest of the change without it.
func TestStore_ApplyCandidateRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var events []Event
	a, err := OpenStore(newTestRuntime(t, Options{}), StoreOptions{OnChange: func(ev Event) { events = append(events, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	v0, err := a.Put(ctx, "p", minimalWasm, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Stage(ctx, "p", minimalWasm, map[string]any{"v": 1}, ModeCanary, 1000); err != nil {
		t.Fatal(err)
	}
	ev := events[len(events)-1]
	bad := []byte(`[{"name": "y", "request": {"host": "h.test", "path": "/a"}, "key": {"host": "h.test", "target": "/b"}}]`)
	badSum := versionIDOf(bad)
	ev.Candidate.Version.VectorsSHA256, ev.Candidate.Version.VectorsSize = badSum, len(bad)
	b := newTestStore(t, "")
	err = b.Apply(ctx, ev, func(sha string) ([]byte, error) {
		if sha == badSum {
			return bad, nil
		}
		return a.Module(sha)
	})
	if err != nil {
		t.Fatalf("Apply = %v, want the change applied without its candidate", err)
	}
	if in, ok := b.Get("p"); !ok || in.Active != v0.Version || in.Candidate != nil {
		t.Errorf("b: %+v, want %.12s active and no candidate", in, v0.Version)
	}
}

// FuzzParseShare: ParseShare never panics, accepts only shares up to 100%,
// and what it accepts reads back from its String.
func FuzzParseShare(f *testing.F) {
	for _, s := range []string{"10%", "2.5", "100", "0.01%", "", "%", "1.", "99.99%", "-0", "1e2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseShare(s)
		if err != nil {
			return
		}
		if v > FullShare {
			t.Fatalf("ParseShare(%q) = %d, more than 100%%", s, v)
		}
		if back, err := ParseShare(v.String()); err != nil || back != v {
			t.Fatalf("ParseShare(%q) = %d; its String %q reads back as %d, %v", s, v, v.String(), back, err)
		}
	})
}

// FuzzStore_ApplyEvent: an event decoded from untrusted bytes (Redis) is
// either refused or applied without panicking.
func FuzzStore_ApplyEvent(f *testing.F) {
	f.Add([]byte(`{"name":"p","version":{"id":"0123456789abcdef","module_sha256":"` + strings.Repeat("a", 64) + `","size":10},"activation":1}`))
	f.Add([]byte(`{"name":"p","activation":3,"seq":4,"deleted":true}`))
	f.Add([]byte(`{"name":"p","version":{"id":"0123456789abcdef","module_sha256":"` + strings.Repeat("a", 64) + `","size":10},"activation":1,"candidate":{"mode":"canary","share":"10%","activation":2,"version":{"id":"0123456789abcdee","module_sha256":"` + strings.Repeat("b", 64) + `","size":10}}}`))
	s, err := OpenStore(newTestRuntime(f, Options{}), StoreOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev Event
		if json.Unmarshal(b, &ev) != nil {
			return
		}
		_ = s.Apply(context.Background(), ev, func(string) ([]byte, error) { return nil, errors.New("no module") }) // refused or applied: not a panic
	})
}
