package sdk

import (
	"github.com/flowcache/flowcache/wasm/abi"
)

// guest is the module's state: the registered policy, the input buffer the
// host writes blobs into, and the reused views and builders handed to the
// policy. It is touched by one call at a time (see ABI.md, 1.1).
type guest struct {
	registered bool
	policy     Policy
	keyFunc    func(*Request, *KeyBuilder) error // policy.Key, or defaultKey
	headers    []byte                            // flowcache_headers answer
	config     []byte                            // the configuration given to Init

	in   []byte // input buffer, returned by alloc
	req  Request
	resp Response
	kb   *KeyBuilder
	dec  Decision

	// errMsg explains the last error result, for flowcache_error.
	errMsg []byte
}

// fail records why the current call returns the error result (ABI.md,
// section 11): the host reads it through flowcache_error, and shows it in
// its error, log and admin API.
func (g *guest) fail(what string, err error) {
	g.errMsg = append(g.errMsg[:0], what...)
	if err != nil {
		g.errMsg = append(g.errMsg, ": "...)
		g.errMsg = append(g.errMsg, err.Error()...)
	}
}

// g is the module's only guest; see Register.
var g guest

// minInput is the smallest input buffer alloc hands out.
const minInput = 64 << 10

// alloc returns a buffer of at least size bytes: the current input buffer if
// it is large enough, else a new one that replaces it.
func (g *guest) alloc(size uint32) []byte {
	if uint64(size) > uint64(cap(g.in)) || g.in == nil {
		n := max(uint64(size), minInput)
		n = (n + minInput - 1) / minInput * minInput
		if n > 1<<31 {
			return nil
		}
		g.in = make([]byte, n)
		if g.kb != nil { // nil until Register
			g.kb.setInput(g.in)
		}
	}
	return g.in[:cap(g.in)]
}

// input returns the n bytes at offset off of the input buffer, or false if
// they are not inside it.
func (g *guest) input(off, n uint32) ([]byte, bool) {
	if uint64(off)+uint64(n) > uint64(len(g.in)) {
		return nil, false
	}
	return g.in[off : off+n : off+n], true
}

// Results of flowcache_init besides 0, in the host's "init returned N".
const (
	initFailed       = 1 // Policy.Init returned an error
	initBadInput     = 2 // the configuration is not in the input buffer
	initNoRegistered = 3 // no policy: sdk.Register was not called from init
)

// init runs the policy's Init on a copy of config; it returns 0 on success.
func (g *guest) init(config []byte) int32 {
	if !g.registered {
		g.fail("no policy: sdk.Register was not called from the module's init", nil)
		return initNoRegistered
	}
	g.config = append(g.config[:0], config...)
	if g.policy.Init == nil {
		return 0
	}
	if err := g.policy.Init(g.config); err != nil {
		g.fail("Init", err)
		return initFailed
	}
	return 0
}

// key runs the policy's Key on the request blob in and returns the key
// result (nil for bypass), or ok=false for the error result.
func (g *guest) key(in []byte) ([]byte, bool) {
	if !g.registered {
		g.fail("no policy: sdk.Register was not called", nil)
		return nil, false
	}
	// The request blob: its six fields must lie inside it. Only a blob
	// with header fields goes through abi.ParseRequest, which also checks
	// the header list: most requests carry none of the headers a policy
	// declares, and in a wasm guest the general check costs more than the
	// rest of a simple key.
	switch checkSlots(in) {
	case slotsBad:
		g.fail("malformed request blob", nil)
		return nil, false
	case slotsNoHeaders: // g.req.v is left as it is: Request does not read it
		g.req.b, g.req.noHeaders = in, true
	default:
		if !g.parseRequest(in) {
			return nil, false
		}
	}
	k := g.kb
	k.reset()
	if err := g.keyFunc(&g.req, k); err != nil {
		g.fail("Key", err)
		return nil, false
	}
	// g.req and k keep referring to the input buffer, which g holds anyway.
	res, err := k.finish()
	if err != nil {
		g.fail("KeyBuilder", err)
		return nil, false
	}
	return res, true
}

// parseRequest sets g.req to the request blob in, which holds header
// fields, and reports whether it is well-formed. It is out of line: the
// guest's code in the request path is kept small, as the machine code that
// wazero makes of Go is large, and the gateway runs other code between two
// calls.
//
//go:noinline
func (g *guest) parseRequest(in []byte) bool {
	v, err := abi.ParseRequest(in)
	if err != nil {
		g.fail("malformed request blob", err)
		return false
	}
	g.req.v, g.req.b, g.req.noHeaders = v, in, false
	return true
}

// decide runs the policy's Decide on the decide blob in. It returns the
// decision bytes to answer with (in place, at the start of in), nil to keep
// the default, or ok=false for the error result.
func (g *guest) decide(in []byte) ([]byte, bool) {
	if !g.registered {
		g.fail("no policy: sdk.Register was not called", nil)
		return nil, false
	}
	v, err := abi.ParseDecide(in)
	if err != nil {
		g.fail("malformed decide blob", err)
		return nil, false
	}
	if g.policy.Decide == nil {
		return nil, true
	}
	g.resp.v = v
	g.resp.req.v, g.resp.req.b = v.Request(), in[blobU32(in, decideRequestOff):]
	g.resp.req.noHeaders = false
	var def abi.Decision
	v.Default(&def)
	g.dec = Decision(def)
	err = g.policy.Decide(&g.resp, &g.dec)
	if err != nil {
		g.fail("Decide", err)
		return nil, false
	}
	d := abi.Decision(g.dec)
	if d == def {
		return nil, true
	}
	if d.Tier > abi.TierL2 {
		g.fail("Decide: Decision.Tier is not TierBoth, TierL1 or TierL2", nil)
		return nil, false
	}
	b := v.DecisionBytes()
	abi.PutDecision(b, &d)
	return b, true
}

// decideRequestOff is the offset of request_off in a decide blob (ABI.md,
// section 4).
const decideRequestOff = 60

// blobU32 reads the little-endian u32 at off in b.
func blobU32(b []byte, off int) int {
	return int(b[off]) | int(b[off+1])<<8 | int(b[off+2])<<16 | int(b[off+3])<<24
}
