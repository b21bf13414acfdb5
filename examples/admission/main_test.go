//go:build !wasip1

package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/flowcache/flowcache/examples/internal/policytest"
	"github.com/flowcache/flowcache/policy"
)

func request(path string) *policy.Request {
	return &policy.Request{Method: []byte("GET"), Scheme: []byte("http"), Host: []byte("Img.Example"), Path: []byte(path), Route: []byte("r")}
}

var stored = policy.Decision{Store: true, Admit: true, TTL: time.Minute}

// admitted runs Decide for a response of size bytes to path and returns
// Admit.
func admitted(t *testing.T, p policy.Policy, path string, size int64) bool {
	t.Helper()
	d := stored
	if err := p.Decide(request(path), &policy.Response{Status: 200, BodySize: size, Now: time.Unix(1700000000, 0)}, &d); err != nil {
		t.Fatalf("Decide(%s): %v", path, err)
	}
	if !d.Store || d.TTL != time.Minute {
		t.Fatalf("Decide(%s) changed more than Admit: %+v", path, d)
	}
	return d.Admit
}

func get(t *testing.T, p policy.Policy, path string) {
	t.Helper()
	var k policy.Key
	if err := p.Key(request(path), &k); err != nil {
		t.Fatalf("Key(%s): %v", path, err)
	}
	if k.Bypass || string(k.Host) != "img.example" || string(k.Target) != path {
		t.Fatalf("Key(%s) = %+v", path, k)
	}
}

// TestAdmission_Frequency runs the sketch on one instance (the test host),
// where counts are exact enough to assert on.
func TestAdmission_Frequency(t *testing.T) {
	t.Parallel()
	h, err := policytest.NewHost(context.Background(), policytest.Build(t, "."),
		`{"min_hits": 2, "max_object_size": 1000, "width": 1024, "reset_after": 100}`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) }) // a test host: nothing to report

	get(t, h, "/a.png")
	if admitted(t, h, "/a.png", 10) {
		t.Error("a one-hit wonder was admitted")
	}
	get(t, h, "/a.png")
	if !admitted(t, h, "/a.png", 10) {
		t.Error("an object requested twice was not admitted")
	}
	if admitted(t, h, "/never.png", 10) {
		t.Error("an object never requested was admitted")
	}
	if admitted(t, h, "/a.png", 1001) {
		t.Error("an object over max_object_size was admitted")
	}
	if admitted(t, h, "/a.png", -1) {
		t.Error("an object of unknown size was admitted")
	}
	d := policy.Decision{Admit: true}
	if err := h.Decide(request("/a.png"), &policy.Response{Status: 200, BodySize: 10}, &d); err != nil || d != (policy.Decision{Admit: true}) {
		t.Errorf("a response the default does not store: %+v, %v", d, err)
	}
	// Aging: at the 100th request the counters are halved: /a.png (2) falls
	// to 1, below min_hits.
	for i := range 97 { // requests 3 to 99
		get(t, h, "/other/"+strconv.Itoa(i))
	}
	if !admitted(t, h, "/a.png", 10) {
		t.Error("/a.png was forgotten before the halving")
	}
	get(t, h, "/other/last")
	if admitted(t, h, "/a.png", 10) {
		t.Error("/a.png was still admitted after the halving")
	}
}

// TestAdmission_Plugins runs the module in the gateway's host, whose pool
// may spread calls over instances: it checks what does not depend on which
// instance answers.
func TestAdmission_Plugins(t *testing.T) {
	t.Parallel()
	m := policytest.Load(t, policytest.Build(t, "."), map[string]any{"max_object_size": 1000})
	for range 50 {
		get(t, m, "/hot.png")
	}
	if admitted(t, m, "/hot.png", 5000) {
		t.Error("a large object was admitted")
	}
	if admitted(t, m, "/cold.png", 10) {
		t.Error("an object never requested was admitted")
	}
	var k policy.Key
	r := request("/a")
	r.Headers = policy.Headers{{Name: []byte("Cookie"), Value: []byte("a=1")}}
	if err := m.Key(r, &k); err != nil || !k.Bypass {
		t.Errorf("Key with a cookie = %+v, %v; want bypass", k, err)
	}
}

func TestAdmission_Config(t *testing.T) {
	t.Parallel()
	wasm := policytest.Build(t, ".")
	for _, cfg := range []string{`{"width": 1000}`, `{"min_hits": 0}`, `{"min_hits": 300}`, `{"ttl": 1}`, `[]`, `{"reset_after": "x"}`} {
		h, err := policytest.NewHost(context.Background(), wasm, cfg)
		if err == nil {
			_ = h.Close(context.Background()) // the test already failed
			t.Errorf("config %s accepted", cfg)
		}
	}
}
