package sdk

import (
	"errors"
	"testing"
	"time"

	"github.com/flowcache/flowcache/wasm/abi"
)

func TestRequest_Accessors(t *testing.T) {
	t.Parallel()
	var seen struct {
		method, scheme, host, path, query, route, ua, page, sid string
		hasPage, hasSID, hasNone                                bool
		headers                                                 int
	}
	gs := testGuest(t, Policy{
		Headers: []string{"user-agent", "cookie"},
		Key: func(r *Request, k *KeyBuilder) error {
			seen.method, seen.scheme, seen.host = string(r.Method()), string(r.Scheme()), string(r.Host())
			seen.path, seen.query, seen.route = string(r.Path()), string(r.Query()), string(r.Route())
			seen.ua = string(r.Header("USER-AGENT"))
			p, ok := r.Param("page")
			seen.page, seen.hasPage = string(p), ok
			c, ok := r.Cookie("sid")
			seen.sid, seen.hasSID = string(c), ok
			_, seen.hasNone = r.Cookie("none")
			hs := r.Headers()
			for _, _, ok := hs.Next(); ok; _, _, ok = hs.Next() {
				seen.headers++
			}
			k.Default(r)
			return nil
		},
	})
	if string(gs.headers) != "user-agent, cookie" {
		t.Errorf("headers = %q", gs.headers)
	}
	r := req("h", "/p", "a=1&page=2", "User-Agent", "UA/1", "Cookie", "a=1", "Cookie", `theme=dark; sid="s1" `)
	if _, ok := callKey(t, gs, &r); !ok {
		t.Fatal("Key failed")
	}
	if seen.method != "GET" || seen.scheme != "https" || seen.host != "h" || seen.path != "/p" || seen.query != "a=1&page=2" ||
		seen.route != "r" || seen.ua != "UA/1" || seen.page != "2" || !seen.hasPage || seen.sid != "s1" || !seen.hasSID ||
		seen.hasNone || seen.headers != 3 {
		t.Errorf("the policy saw %+v", seen)
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	def := abi.Decision{Store: true, Admit: true, TTL: time.Minute}
	tests := []struct {
		name   string
		decide func(r *Response, d *Decision) error
		want   abi.Decision
		fails  bool
	}{
		{name: "nil keeps the default", want: def},
		{name: "unchanged keeps the default", decide: func(*Response, *Decision) error { return nil }, want: def},
		{name: "override", decide: func(r *Response, d *Decision) error {
			if r.Status() != 404 || r.BodySize() != 10 || r.NowUnixMilli() != 1234 || string(r.Header("x-a")) != "1" ||
				string(r.Request().Path()) != "/p" || string(r.Request().Header("accept")) != "text/html" {
				return errors.New("bad view")
			}
			d.Cache(time.Hour)
			d.Stale(time.Second, 2*time.Second)
			d.Admit, d.Tier = false, TierL2
			return nil
		}, want: abi.Decision{Store: true, Tier: abi.TierL2, TTL: time.Hour, StaleWhileRevalidate: time.Second, StaleIfError: 2 * time.Second}},
		{name: "dont store", decide: func(_ *Response, d *Decision) error { d.DontStore(); return nil }, want: abi.Decision{Admit: true, TTL: time.Minute}},
		{name: "negative durations are zero", decide: func(_ *Response, d *Decision) error { d.TTL = -time.Second; return nil }, want: abi.Decision{Store: true, Admit: true}},
		{name: "bad tier", decide: func(_ *Response, d *Decision) error { d.Tier = 7; return nil }, fails: true},
		{name: "error", decide: func(*Response, *Decision) error { return errors.New("no") }, fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gs := testGuest(t, Policy{Headers: []string{"accept"}, Decide: tt.decide})
			r := req("h", "/p", "", "Accept", "text/html")
			got, ok := callDecide(t, gs, &r, abi.Response{Status: 404, BodySize: 10, NowUnixMilli: 1234}, def, "X-A", "1")
			if ok == tt.fails {
				t.Fatalf("Decide ok = %v, want %v", ok, !tt.fails)
			}
			if ok && got != tt.want {
				t.Fatalf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestGuest_Init(t *testing.T) {
	t.Parallel()
	var got string
	gs := testGuest(t, Policy{Init: func(c []byte) error {
		got = string(c)
		if got == "bad" {
			return errors.New("bad config")
		}
		return nil
	}})
	cfg := gs.alloc(5)
	copy(cfg, "{\"a\"}")
	if rc := gs.init(cfg[:5]); rc != 0 || got != `{"a"}` {
		t.Errorf("init = %d, Init saw %q", rc, got)
	}
	copy(cfg, "bad")
	if rc := gs.init(cfg[:3]); rc == 0 {
		t.Error("init of a bad config = 0")
	}
	if rc := testGuest(t, Policy{}).init([]byte("{}")); rc != 0 {
		t.Errorf("init without Init = %d", rc)
	}
	var unregistered guest
	if rc := unregistered.init([]byte("{}")); rc != initNoRegistered {
		t.Errorf("init without Register = %d, want %d", rc, initNoRegistered)
	}
}

func TestGuest_Alloc(t *testing.T) {
	t.Parallel()
	gs := testGuest(t, Policy{})
	a := gs.alloc(10)
	if len(a) != minInput {
		t.Fatalf("alloc(10) = %d bytes, want %d", len(a), minInput)
	}
	if b := gs.alloc(minInput); &b[0] != &a[0] {
		t.Error("alloc(minInput) did not reuse the buffer")
	}
	c := gs.alloc(minInput + 1)
	if len(c) != 2*minInput || &c[0] == &a[0] {
		t.Errorf("alloc(minInput+1) = %d bytes", len(c))
	}
	if _, ok := gs.input(uint32(len(c))-1, 2); ok {
		t.Error("input beyond the buffer accepted")
	}
	if gs.alloc(1<<31+1) != nil {
		t.Error("alloc(2GiB+1) succeeded")
	}
}

func TestGuest_Errors(t *testing.T) {
	t.Parallel()
	var unregistered guest
	if _, ok := unregistered.key(make([]byte, abi.RequestFixedSize)); ok {
		t.Error("key without a policy succeeded")
	}
	if _, ok := unregistered.decide(make([]byte, abi.DecideFixedSize)); ok {
		t.Error("decide without a policy succeeded")
	}
	gs := testGuest(t, Policy{})
	if _, ok := gs.key([]byte("short")); ok {
		t.Error("key of a truncated blob succeeded")
	}
	if _, ok := gs.decide([]byte("short")); ok {
		t.Error("decide of a truncated blob succeeded")
	}
	if _, err := newGuest(Policy{Headers: []string{"bad name"}}); err == nil {
		t.Error("newGuest accepted an invalid header name")
	}
}

// FuzzGuest_Key feeds arbitrary bytes to the key handler, as a buggy or
// hostile host might: it must not panic, and whatever it answers must be
// a key the host accepts.
func FuzzGuest_Key(f *testing.F) {
	gs, err := newGuest(Policy{Headers: []string{"cookie"}, Key: normalize})
	if err != nil {
		f.Fatal(err)
	}
	r := req("Example.com", "/p", "utm_source=x&b=2&a=1", "Cookie", "a=1")
	n := writeRequest(gs, &r)
	f.Add(append([]byte(nil), gs.in[:n]...))
	f.Add(make([]byte, abi.RequestFixedSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > len(gs.in) {
			return
		}
		copy(gs.in, b)
		in, _ := gs.input(0, uint32(len(b)))
		res, ok := gs.key(in)
		if !ok || res == nil {
			return
		}
		var k abi.Key
		if err := abi.DecodeKey(res, &k); err != nil {
			t.Fatalf("key result %q for blob %q: %v", res, b, err)
		}
	})
}

// FuzzGuest_Decide feeds arbitrary bytes to the decide handler: it must not
// panic, and a decision it writes must be one the host accepts.
func FuzzGuest_Decide(f *testing.F) {
	gs, err := newGuest(Policy{Decide: func(r *Response, d *Decision) error {
		if r.Status() == 404 || HasToken(r.Header("cache-control"), "private") {
			d.Cache(time.Duration(r.BodySize()) * time.Millisecond)
		}
		_ = r.Request().Header("accept")
		return nil
	}})
	if err != nil {
		f.Fatal(err)
	}
	buf := gs.alloc(64 << 10)
	b := abi.AppendDecideInput(buf[:0], &abi.Response{Status: 404, BodySize: 5}, &abi.Decision{Store: true})
	b = abi.AppendResponseHeader(b, 0, []byte("Cache-Control"), []byte("private"))
	r := req("h", "/", "")
	b = abi.AppendDecideRequest(b, 0, &r.Request)
	f.Add(append([]byte(nil), b...))
	f.Add(make([]byte, abi.DecideFixedSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > len(gs.in) {
			return
		}
		copy(gs.in, b)
		in, _ := gs.input(0, uint32(len(b)))
		res, ok := gs.decide(in)
		if !ok || res == nil {
			return
		}
		var d abi.Decision
		if err := abi.DecodeDecision(res, &d); err != nil {
			t.Fatalf("decision %x for blob %q: %v", res, b, err)
		}
	})
}
