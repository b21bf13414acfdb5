package plugins

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/flowcache/flowcache/policy"
	"github.com/flowcache/flowcache/wasm/abi"
)

// guestMessage calls the module's optional flowcache_error export (ABI.md,
// section 11) within fuel, after a call returned the error result, and
// returns its message: at most abi.MaxErrorLen bytes, on one line, valid
// UTF-8; "" when the module exports none or gives none. ok is false when
// the call trapped, exited or ran out of fuel: the instance must then be
// closed.
func (inst *core) guestMessage(ctx context.Context, fuel int64) (msg string, ok bool) {
	fn := inst.mod.ExportedFunction(abi.ExportError)
	if fn == nil {
		return "", true
	}
	inst.setFuel(fuel)
	if err := fn.CallWithStack(ctx, inst.stack[:]); err != nil {
		return "", false
	}
	ptr, n := abi.Unpack(inst.stack[0])
	if n == 0 {
		return "", true
	}
	b, readOK := inst.mem.Read(ptr, min(n, abi.MaxErrorLen))
	if !readOK {
		return fmt.Sprintf("(%s returned [%d, +%d), outside memory)", abi.ExportError, ptr, n), true
	}
	return oneLineMessage(b, n > abi.MaxErrorLen), true
}

// oneLineMessage makes a guest's message safe for a log line or a JSON
// answer: valid UTF-8, line breaks as "; ", other control characters as
// spaces, "…" when cut.
func oneLineMessage(b []byte, cut bool) string {
	var sb strings.Builder
	if cut { // the cut may have split a character: drop its bytes
		for i := 0; i < utf8.UTFMax-1 && len(b) > 0; i++ {
			if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size != 1 {
				break
			}
			b = b[:len(b)-1]
		}
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.TrimRight(s, "\r\n")
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
		case c == '\n' || c == '\r':
			sb.WriteString("; ")
		case c < 0x20 || c == 0x7f:
			sb.WriteByte(' ')
		default:
			sb.WriteByte(c)
		}
	}
	if cut {
		sb.WriteString("…")
	}
	return sb.String()
}

// initError is the load error of a flowcache_init that returned rc: with
// the guest's message when it gives one ("flowcache_init: rules[0].ttl:
// ... (code 1)"), else "flowcache_init returned 1".
func (inst *core) initError(ctx context.Context, rc int32) error {
	msg, _ := inst.guestMessage(ctx, initFuel) // the instance is closed anyway
	if msg == "" {
		return fmt.Errorf("%w: %s returned %d", ErrInit, abi.ExportInit, rc)
	}
	return fmt.Errorf("%w: %s: %s (code %d)", ErrInit, abi.ExportInit, msg, rc)
}

// requestTarget is r's path and query, for failure logs.
func requestTarget(r *policy.Request) string {
	if len(r.Query) == 0 {
		return string(r.Path)
	}
	return string(r.Path) + "?" + string(r.Query)
}

// policyTotals holds the failure counters of every module a Runtime
// loaded, by policy name.
type policyTotals struct {
	m sync.Map // name -> *counters
}

// totals returns the counters that add up the failures of every version
// of m's policy a Store served, or nil when no Store serves m (it has no
// version: a module being tried by an upload's dry run, or loaded outside
// a Store).
func (m *Module) totals() *counters {
	if m.version == "" {
		return nil
	}
	return m.rt.totals(m.name)
}

// totals returns the counters that add up the failures of the versions of
// policy name.
func (rt *Runtime) totals(name string) *counters {
	if c, ok := rt.tot.m.Load(name); ok {
		return c.(*counters)
	}
	c, _ := rt.tot.m.LoadOrStore(name, new(counters))
	return c.(*counters)
}

// Totals returns the failures of the versions of policy name that a Store
// served since the Runtime started: every version, before and after swaps
// and rollbacks, calls in flight on a retired version included, upload dry
// runs not. Unlike
// [Module.Stats], which start at zero with each module, they never go
// down: the gateway's /metrics reads its per-kind failure counters here.
// Only the failure kinds and InstancesDiscarded are set.
func (rt *Runtime) Totals(name string) Stats {
	c := rt.totals(name)
	return Stats{
		Traps: c.traps.Load(), FuelExhausted: c.fuel.Load(), Backstops: c.backstops.Load(), Exits: c.exits.Load(),
		BadResults: c.results.Load(), GuestErrors: c.guest.Load(), InstantiateErrors: c.instantiate.Load(),
		InstancesDiscarded: c.discarded.Load(),
	}
}

// Totals is [Runtime.Totals] of the store's runtime.
func (s *Store) Totals(name string) Stats { return s.rt.Totals(name) }
