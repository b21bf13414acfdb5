package sdk

import (
	"testing"

	"github.com/flowcache/flowcache/wasm/abi"
)

// testGuest returns a guest running p, as Register would.
func testGuest(t testing.TB, p Policy) *guest {
	t.Helper()
	gs, err := newGuest(p)
	if err != nil {
		t.Fatalf("newGuest: %v", err)
	}
	return gs
}

// request is a request with header fields given as name, value pairs.
type request struct {
	abi.Request
	headers []string
}

func req(host, path, query string, headers ...string) request {
	return request{
		Request: abi.Request{Method: []byte("GET"), Scheme: []byte("https"), Host: []byte(host), Path: []byte(path), Query: []byte(query), Route: []byte("r")},
		headers: headers,
	}
}

// writeRequest writes the request blob into the guest's input buffer, as
// the host does, and returns its length.
func writeRequest(gs *guest, r *request) uint32 {
	buf := gs.alloc(64 << 10)
	b := abi.AppendRequest(buf[:0], &r.Request)
	for i := 0; i+1 < len(r.headers); i += 2 {
		b = abi.AppendRequestHeader(b, 0, []byte(r.headers[i]), []byte(r.headers[i+1]))
	}
	return uint32(len(b))
}

// callKey runs the guest's key handler like the flowcache_key export and
// decodes the result with the host's decoder: ok is false for the error
// result.
func callKey(t testing.TB, gs *guest, r *request) (k abi.Key, ok bool) {
	t.Helper()
	in, fits := gs.input(0, writeRequest(gs, r))
	if !fits {
		t.Fatal("input does not fit")
	}
	res, ok := gs.key(in)
	if !ok {
		return abi.Key{}, false
	}
	if res == nil {
		return abi.Key{Bypass: true}, true
	}
	if err := abi.DecodeKey(res, &k); err != nil {
		t.Fatalf("host rejects the key result %q: %v", res, err)
	}
	return k, true
}

// callDecide runs the guest's decide handler on a response with the default
// decision def; it returns the decision the host would apply.
func callDecide(t testing.TB, gs *guest, r *request, resp abi.Response, def abi.Decision, headers ...string) (abi.Decision, bool) {
	t.Helper()
	buf := gs.alloc(64 << 10)
	b := abi.AppendDecideInput(buf[:0], &resp, &def)
	for i := 0; i+1 < len(headers); i += 2 {
		b = abi.AppendResponseHeader(b, 0, []byte(headers[i]), []byte(headers[i+1]))
	}
	rs := len(b)
	b = abi.AppendDecideRequest(b, 0, &r.Request)
	for i := 0; i+1 < len(r.headers); i += 2 {
		b = abi.AppendRequestHeader(b, rs, []byte(r.headers[i]), []byte(r.headers[i+1]))
	}
	in, _ := gs.input(0, uint32(len(b)))
	res, ok := gs.decide(in)
	if !ok {
		return abi.Decision{}, false
	}
	if res == nil {
		return def, true
	}
	var d abi.Decision
	if err := abi.DecodeDecision(res, &d); err != nil {
		t.Fatalf("host rejects the decision %x: %v", res, err)
	}
	return d, true
}
