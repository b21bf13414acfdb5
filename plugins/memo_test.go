package plugins

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/flowcache/flowcache/policy"
	"github.com/flowcache/flowcache/wasm/abi"
)

// randomRequest draws a request from small pools, so that requests repeat
// (memo hits) and some are bypassed (POST) or fail (path "/!...").
func randomRequest(rng *rand.Rand) *policy.Request {
	pick := func(s ...string) []byte { return []byte(s[rng.IntN(len(s))]) }
	r := &policy.Request{
		Method: pick("GET", "GET", "HEAD", "POST"),
		Scheme: pick("http", "https"),
		Host:   pick("Example.com", "example.com", "API.example.com", "b.test"),
		Path:   pick("/", "/a", "/a/b", "/!err", "/v1/items/42"),
		Query:  pick("", "a=1", "b=2&a=1", "utm_source=x"),
		Route:  pick("", "api"),
	}
	switch rng.IntN(3) {
	case 0:
		r.Headers = hdrs("X-Device", string(pick("mobile", "desktop")), "Accept", "*/*")
	case 1:
		r.Headers = hdrs("Accept", string(pick("a", "b")), "User-Agent", "ua")
	}
	return r
}

type keyResult struct {
	key policy.Key
	err bool
}

func keyOf(m *Module, r *policy.Request) keyResult {
	var k policy.Key
	err := m.Key(r, &k)
	return keyResult{key: k, err: err != nil}
}

func sameKey(a, b keyResult) bool {
	return a.err == b.err && a.key.Bypass == b.key.Bypass && bytes.Equal(a.key.Host, b.key.Host) &&
		bytes.Equal(a.key.Target, b.key.Target) && bytes.Equal(a.key.Variant, b.key.Variant)
}

func memoConfig(n int) *Config {
	c := DefaultConfig()
	c.MemoizeKey = n
	return &c
}

// TestKeyMemo_SameAsGuest compares Key with the memo (several table sizes,
// down to one set, which forces replacements) with the guest's answers on
// random requests, each asked twice so that the memo answers too.
func TestKeyMemo_SameAsGuest(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Options{})
	plain := mustLoad(t, rt, "plain", minimalWasm, nil)
	for _, size := range []int{1, 2, 64, 4096} {
		m := mustLoad(t, rt, "memo", minimalWasm, memoConfig(size))
		rng := rand.New(rand.NewPCG(uint64(size), 1))
		hits := 0
		for i := range 3000 {
			r := randomRequest(rng)
			want := keyOf(plain, r)
			for pass := range 2 {
				if got := keyOf(m, r); !sameKey(got, want) {
					t.Fatalf("size %d, request %d pass %d: memo %+v, guest %+v", size, i, pass, got, want)
				}
			}
			// Appending to a non-empty key behaves as the guest call does.
			k := policy.Key{Host: []byte("h:"), Target: []byte("t:"), Variant: []byte("v:")}
			k2 := policy.Key{Host: []byte("h:"), Target: []byte("t:"), Variant: []byte("v:")}
			err, err2 := m.Key(r, &k), plain.Key(r, &k2)
			if (err != nil) != (err2 != nil) || !sameKey(keyResult{key: k}, keyResult{key: k2}) {
				t.Fatalf("size %d, request %d: append: memo %+v, guest %+v", size, i, k, k2)
			}
			var buf []byte
			buf = m.encodeForTest(buf, r)
			if m.memo.lookup(m.memo.hash(buf), buf) != nil {
				hits++
			}
		}
		if hits == 0 {
			t.Errorf("size %d: no request remembered", size)
		}
	}
}

// encodeForTest returns the blob the memo looks r up with.
func (m *Module) encodeForTest(dst []byte, r *policy.Request) []byte {
	p := m.memo.buffer()
	req := requestFields(r)
	b := m.appendRequestHeaders(abi.AppendRequest((*p)[:0], &req), 0, r)
	dst = append(dst, b...)
	m.memo.release(p, b)
	return dst
}

// TestKeyMemo_Collision forces a hash collision in a one-set table: a
// different blob with the same hash is never a hit.
func TestKeyMemo_Collision(t *testing.T) {
	t.Parallel()
	c := newKeyMemo(1)
	if len(c.slots) != 2 {
		t.Fatalf("slots = %d, want 2", len(c.slots))
	}
	const h = 42
	c.insert(h, []byte("blob-a"), false, []byte("a.test"), []byte("/a"), nil)
	if e := c.lookup(h, []byte("blob-b")); e != nil {
		t.Fatalf("collision: blob-b hit %q", e.target)
	}
	if e := c.lookup(h+2, []byte("blob-a")); e != nil {
		t.Fatal("other hash hit")
	}
	e := c.lookup(h, []byte("blob-a"))
	if e == nil || string(e.host) != "a.test" || string(e.target) != "/a" {
		t.Fatalf("lookup(blob-a) = %+v", e)
	}
	// Both ways of the set fill before a replacement; the third replaces.
	c.insert(h, []byte("blob-b"), true, nil, nil, nil)
	if c.lookup(h, []byte("blob-a")) == nil || c.lookup(h, []byte("blob-b")) == nil {
		t.Fatal("two entries of one set did not both stay")
	}
	c.insert(h, []byte("blob-c"), false, []byte("c"), []byte("/c"), []byte("v"))
	if e := c.lookup(h, []byte("blob-c")); e == nil || string(e.variant) != "v" {
		t.Fatalf("lookup(blob-c) = %+v", e)
	}
	if c.lookup(h, []byte("blob-a")) != nil && c.lookup(h, []byte("blob-b")) != nil {
		t.Fatal("a third entry replaced neither way")
	}
	big := bytes.Repeat([]byte("x"), maxMemoEntry)
	c.insert(h+4, big, false, []byte("h"), []byte("/"), nil)
	if c.lookup(h+4, big) != nil {
		t.Fatal("an entry over maxMemoEntry was kept")
	}
	if newKeyMemo(0) != nil || newKeyMemo(-1) != nil {
		t.Fatal("newKeyMemo(<=0) is not nil")
	}
	if n := len(newKeyMemo(1000).slots); n != 1024 {
		t.Fatalf("newKeyMemo(1000) has %d slots, want 1024", n)
	}
}

// TestKeyMemo_ErrorsNotRemembered: a guest error is asked again every time.
func TestKeyMemo_ErrorsNotRemembered(t *testing.T) {
	t.Parallel()
	m := mustLoad(t, newTestRuntime(t, Options{}), "memo", minimalWasm, memoConfig(64))
	r := &policy.Request{Method: []byte("GET"), Scheme: []byte("http"), Host: []byte("a"), Path: []byte("/!x")}
	for range 3 {
		var k policy.Key
		if err := m.Key(r, &k); !errors.Is(err, ErrGuest) {
			t.Fatalf("Key = %v, want ErrGuest", err)
		}
	}
	if n := m.Stats().GuestErrors; n != 3 {
		t.Fatalf("GuestErrors = %d, want 3 (a failure must not be remembered)", n)
	}
}

// TestKeyMemo_Closed: a closed module fails even on a remembered request.
func TestKeyMemo_Closed(t *testing.T) {
	t.Parallel()
	m := mustLoad(t, newTestRuntime(t, Options{}), "memo", minimalWasm, memoConfig(64))
	r := benchRequest()
	if res := keyOf(m, r); res.err {
		t.Fatal("Key failed")
	}
	if err := m.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	var k policy.Key
	if err := m.Key(r, &k); !errors.Is(err, ErrClosed) {
		t.Fatalf("Key after Close = %v, want ErrClosed", err)
	}
}

// TestKeyMemo_Concurrent runs Key from many goroutines on a small table
// (constant replacement) and checks every answer; run it with -race.
func TestKeyMemo_Concurrent(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Options{})
	plain := mustLoad(t, rt, "plain", minimalWasm, nil)
	m := mustLoad(t, rt, "memo", minimalWasm, memoConfig(8))
	rng := rand.New(rand.NewPCG(7, 7))
	reqs := make([]*policy.Request, 64)
	want := make([]keyResult, len(reqs))
	for i := range reqs {
		reqs[i] = randomRequest(rng)
		want[i] = keyOf(plain, reqs[i])
	}
	var wg sync.WaitGroup
	errc := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				j := (i*7 + g) % len(reqs)
				if got := keyOf(m, reqs[j]); !sameKey(got, want[j]) {
					select {
					case errc <- "request " + string(reqs[j].Path):
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for e := range errc {
		t.Error("wrong key for", e)
	}
}

func TestConfig_MemoizeKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n  int
		ok bool
	}{{0, true}, {1, true}, {4096, true}, {MaxMemoizeKey, true}, {-1, false}, {MaxMemoizeKey + 1, false}}
	for _, tt := range tests {
		c := DefaultConfig()
		c.Module = "p.wasm"
		c.MemoizeKey = tt.n
		err := c.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("MemoizeKey %d: Validate = %v, want ok %v", tt.n, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "memoize_key:") {
			t.Errorf("MemoizeKey %d: error %q does not name the key", tt.n, err)
		}
	}
	c := DefaultConfig()
	if _, err := toml.Decode("module = \"p.wasm\"\nmemoize_key = 1000\n", &c); err != nil || c.MemoizeKey != 1000 {
		t.Fatalf("toml memoize_key: %d, %v", c.MemoizeKey, err)
	}
}

// BenchmarkModule_KeyMemo is the key call with the memo off and on (every
// call a hit), for the WAT test policy and a Go guest.
func BenchmarkModule_KeyMemo(b *testing.B) {
	for _, tt := range parallelGuests {
		for _, memo := range []int{0, 4096} {
			name := tt.name + "/off"
			if memo > 0 {
				name = tt.name + "/on"
			}
			b.Run(name, func(b *testing.B) {
				benchKey(b, mustLoad(b, newTestRuntime(b, Options{}), tt.name, tt.wasm(b), memoConfig(memo)))
			})
		}
	}
}

// TestStore_ReloadMemoizeKey: a reload that changes only memoize_key loads
// the module again with it (turning a memo off must take effect).
func TestStore_ReloadMemoizeKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t, t.TempDir())
	path := filepath.Join(t.TempDir(), "p.wasm")
	if err := os.WriteFile(path, minimalWasm, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{64, 0, 128} {
		cfg := DefaultConfig()
		cfg.Module = path
		cfg.MemoizeKey = n
		ch, err := s.Prepare(ctx, map[string]Config{"p": cfg})
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Commit(); err != nil {
			t.Fatal(err)
		}
		a := lease(t, s, "p")
		memo := a.mod.memo
		a.Release()
		if (memo != nil) != (n > 0) || (memo != nil && len(memo.slots) != n) {
			t.Fatalf("memoize_key %d: module memo %v", n, memo)
		}
	}
}

// TestKeyMemo_Stats checks the memo's hit and miss counters, and that a
// module without a memo reports none.
func TestKeyMemo_Stats(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Options{})
	m := mustLoad(t, rt, "memo", minimalWasm, memoConfig(64))
	plain := mustLoad(t, rt, "plain", minimalWasm, nil)
	a := &policy.Request{Method: []byte("GET"), Host: []byte("h"), Path: []byte("/a")}
	b := &policy.Request{Method: []byte("GET"), Host: []byte("h"), Path: []byte("/b")}
	for _, r := range []*policy.Request{a, a, b, a} {
		for _, p := range []*Module{m, plain} {
			var k policy.Key
			if err := p.Key(r, &k); err != nil {
				t.Fatalf("%s: Key(%s): %v", p.Name(), r.Path, err)
			}
		}
	}
	if s := m.Stats(); s.MemoHits != 2 || s.MemoMisses != 2 {
		t.Errorf("memo: hits %d, misses %d, want 2 and 2", s.MemoHits, s.MemoMisses)
	}
	if s := plain.Stats(); s.MemoHits != 0 || s.MemoMisses != 0 {
		t.Errorf("no memo: hits %d, misses %d, want 0 and 0", s.MemoHits, s.MemoMisses)
	}
}
