package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/flowcache/flowcache/policy"
	"github.com/flowcache/flowcache/wasm/abi"
)

// Module is a loaded policy module. It implements [policy.Policy] and is
// safe for concurrent use: each call runs on an instance taken from a per-P
// pool. Key and Decide do not allocate on success.
//
// An error from Key or Decide is a [*CallError]; the gateway then answers the
// request with its fallback policy; k and d are left as they were on entry.
// An instance that trapped, exited or ran out of fuel is closed.
type Module struct {
	name   string
	logger *slog.Logger
	rt     *Runtime
	modCfg wazero.ModuleConfig
	// eng runs the code: new instances come from it. With Options.Tiered
	// it may be the interpreter, until tierUp promotes a compiled engine
	// (tier.go); the one it replaces closes with its last instance. tierMu
	// orders promote and Close; tiered is closed when tierUp ends (nil
	// without one).
	eng     atomic.Pointer[engine]
	tierMu  sync.Mutex
	tiered  chan struct{}
	fuel    int64
	metered bool
	// timeout is the wall-clock backstop of a call (call_timeout), in
	// watchdog ticks in timeoutTicks.
	timeout      time.Duration
	timeoutTicks int64
	// version is the version id (12 characters) of the store's version
	// this module runs, for errors; set before it serves (newActive).
	version  string
	initJSON []byte
	stderr   *tailWriter
	ctx      context.Context // for calls: no deadline (RATIONALE.md, "Why no deadline on the call's context?")

	// headers are the request header names the module reads, lower-case;
	// allHeaders means every header.
	headers    []string
	allHeaders bool
	headerLens uint64 // bit n set: a declared name has length n (n < 64)

	// live holds every open core, for the watchdog (see Runtime.tick).
	liveMu sync.Mutex
	live   map[*core]struct{}

	pool sync.Pool // of *instance
	// slots hold instances that sync.Pool dropped at a GC while the module
	// was in use (RATIONALE.md, "Pooled instances"), one per P (GOMAXPROCS
	// at load).
	// Only the slow paths touch them: the cleanup of a dropped instance, and
	// get when the pool is empty.
	slots []atomic.Pointer[instance]
	// used is set by every call (a load, and a store only when it was
	// clear), and cleared by each GC tick, which then records lastUsed
	// (unix nanoseconds).
	used     atomic.Bool
	lastUsed atomic.Int64
	closed   atomic.Bool

	// memo remembers key results (Config.MemoizeKey); nil when off.
	memo *keyMemo

	stats counters
	prof  fuelProfile // with Options.Profile (profile.go)
	// profiled records the fuel of this module's calls as Options.Profile
	// does for every module: set for a shadow's module (shadow.go).
	profiled atomic.Bool
	lastErr  atomic.Pointer[failure] // the last failed call
	lastLog  atomic.Int64            // unix nanoseconds of the last failure log
	muted    atomic.Uint64
}

// failure is a failed call and when it failed.
type failure struct {
	err *CallError
	at  time.Time
}

type counters struct {
	traps, fuel, backstops, exits, results, guest, instantiate atomic.Uint64
	created, discarded, closed                                 atomic.Uint64
}

// Stats counts a Module's failures and instances since it was loaded.
type Stats struct {
	// Traps, FuelExhausted, Backstops, Exits, BadResults and GuestErrors
	// count failed calls by kind (ErrTrap, ErrFuel, ErrBackstop, ErrExit,
	// ErrResult, ErrGuest).
	Traps, FuelExhausted, Backstops, Exits, BadResults, GuestErrors uint64
	// InstantiateErrors counts failures to create an instance on demand.
	InstantiateErrors uint64
	// InstancesCreated counts instances created; InstancesDiscarded those
	// closed after a failure; InstancesDropped those closed while idle:
	// dropped by the pool at a GC when no slot was free or the module was
	// idle, or kept in a slot through a minute without calls.
	InstancesCreated, InstancesDiscarded, InstancesDropped uint64
	// MemoHits counts key calls answered by the key memo
	// ([Config].MemoizeKey), MemoMisses those that called the guest while
	// it was on.
	MemoHits, MemoMisses uint64
}

// Failures returns the number of calls that returned an error.
func (s Stats) Failures() uint64 {
	return s.Traps + s.FuelExhausted + s.Backstops + s.Exits + s.BadResults + s.GuestErrors + s.InstantiateErrors
}

// Stats returns the counters. It is cheap enough for a metrics scrape.
func (m *Module) Stats() Stats {
	c := &m.stats
	s := Stats{
		Traps: c.traps.Load(), FuelExhausted: c.fuel.Load(), Backstops: c.backstops.Load(), Exits: c.exits.Load(),
		BadResults: c.results.Load(), GuestErrors: c.guest.Load(), InstantiateErrors: c.instantiate.Load(),
		InstancesCreated: c.created.Load(), InstancesDiscarded: c.discarded.Load(), InstancesDropped: c.closed.Load(),
	}
	if m.memo != nil {
		s.MemoHits, s.MemoMisses = m.memo.hits.Load(), m.memo.misses.Load()
	}
	return s
}

// LastFailure returns the error of the last failed call and when it
// failed; nil if no call failed.
func (m *Module) LastFailure() (*CallError, time.Time) {
	f := m.lastErr.Load()
	if f == nil {
		return nil, time.Time{}
	}
	return f.err, f.at
}

// Name returns the policy name given to Load.
func (m *Module) Name() string { return m.name }

// Headers returns the request header names the module declared with
// flowcache_headers (lower-case), and whether it reads all headers. The
// gateway may use it to know which headers can change the key.
func (m *Module) Headers() (names []string, all bool) {
	return append([]string(nil), m.headers...), m.allHeaders
}

// Close closes every instance and releases the compiled code. Later calls
// return an error wrapping [ErrClosed]. Calls in flight when Close is called
// finish, or fail with a [*CallError] (the gateway falls back), and their
// instances are closed, so a reload may swap policies and close the old one
// at once.
func (m *Module) Close(ctx context.Context) error {
	m.tierMu.Lock()
	closed := m.closed.Swap(true)
	m.tierMu.Unlock()
	if closed {
		return nil
	}
	m.rt.untrack(m)
	// Close idle instances now and cancel their cleanups: a cleanup's
	// argument points to m, so a pending one would keep m (and, through the
	// slots, instances' memory) alive.
	for i := range m.slots {
		if inst := m.slots[i].Swap(nil); inst != nil {
			inst.close()
		}
	}
	for v := m.pool.Get(); v != nil; v = m.pool.Get() {
		v.(*instance).close()
	}
	// promote swaps no engine once closed is set: this is the last one. A
	// retired one closes with its last instance (engine.unpin).
	m.eng.Load().close(ctx)
	return nil
}

// instance is a pooled handle on one instantiated module. It is used by
// one goroutine at a time (it lives in Module.pool or Module.slots between
// calls). When sync.Pool drops it at a GC, its cleanup receives the core,
// which does not point back to the handle, and either parks the core in a
// new handle (the module is in use) or closes it.
type instance struct {
	*core
	cleanup runtime.Cleanup
}

// core is one instantiated module with its reused call state.
type core struct {
	m                  *Module
	eng                *engine // the engine it was instantiated from
	mod                api.Module
	mem                api.Memory
	key, decide, alloc api.Function
	fuel, stop         api.MutableGlobal // nil if not metered
	// ctx and cancel, on the interpreter only: the watchdog stops a call
	// by cancelling ctx, which the interpreter polls (setting stop from
	// another goroutine would race with its reads of the global).
	ctx         context.Context
	cancel      context.CancelFunc
	buf, bufLen uint32 // the guest's input buffer
	stack       [2]uint64
	// busy is the watchdog tick at which the running call began, 0
	// between calls, busyStopped once the watchdog stopped it.
	busy atomic.Int64
}

// idleTimeout is how long a module must go without calls before the
// instances kept across GCs are closed.
const idleTimeout = time.Minute

// wrap returns a new handle on c, with the cleanup that runs when the pool
// drops it.
func wrap(c *core) *instance {
	inst := &instance{core: c}
	inst.cleanup = runtime.AddCleanup(inst, dropped, c)
	return inst
}

// dropped runs (on the runtime's cleanup goroutine) when sync.Pool has
// dropped an idle handle on c at a GC. If the module is open and was used
// within idleTimeout, c goes to a free slot in a new handle; otherwise, or
// when every slot is taken, it is closed.
func dropped(c *core) {
	m := c.m
	if c.mod.IsClosed() {
		return
	}
	if !m.closed.Load() && !c.stale() && !m.idle(time.Now().UnixNano()) && m.park(wrap(c)) {
		return
	}
	m.stats.closed.Add(1)
	c.shut()
}

// park puts inst in a free slot; false if there is none (inst is then
// unusable: its caller closes the core). If Close runs meanwhile, inst is
// taken back out and closed.
func (m *Module) park(inst *instance) bool {
	for i := range m.slots {
		s := &m.slots[i]
		if s.Load() == nil && s.CompareAndSwap(nil, inst) {
			// Close may have emptied the slots between the closed check
			// and the swap: then take the instance back out and close it.
			if m.closed.Load() && s.CompareAndSwap(inst, nil) {
				inst.close()
			}
			return true
		}
	}
	inst.cleanup.Stop()
	return false
}

// idle reports whether m has had no call for idleTimeout at now (unix
// nanoseconds), as last recorded by a GC tick.
func (m *Module) idle(now int64) bool {
	return !m.used.Load() && now-m.lastUsed.Load() > int64(idleTimeout)
}

// tick runs at every GC while m is open (see armTick), with the current
// time in unix nanoseconds: it records whether m was used since the last
// tick, and closes the instances kept in the slots once m has been idle for
// idleTimeout. The pool's own instances need nothing: sync.Pool drops them,
// and their cleanups close them.
func (m *Module) tick(now int64) {
	if m.used.Swap(false) {
		m.lastUsed.Store(now)
		return
	}
	if now-m.lastUsed.Load() <= int64(idleTimeout) {
		return
	}
	for i := range m.slots {
		if inst := m.slots[i].Swap(nil); inst != nil {
			inst.close()
			m.stats.closed.Add(1)
		}
	}
}

// gcTick is an object allocated only to learn of the next GC, through its
// cleanup. It is 16 bytes so that it is not tiny-allocated (a cleanup on a
// tiny object may never run).
type gcTick [2]uint64

// armTick calls m.tick at the next GC, and then at every GC until m is
// closed or collected. It holds m weakly: an unclosed module that nothing
// else references can still be collected.
func armTick(w weak.Pointer[Module]) {
	runtime.AddCleanup(new(gcTick), func(w weak.Pointer[Module]) {
		m := w.Value()
		if m == nil || m.closed.Load() {
			return
		}
		m.tick(time.Now().UnixNano())
		armTick(w)
	}, w)
}

// close closes the instance now and cancels its cleanup.
func (inst *instance) close() {
	inst.cleanup.Stop()
	inst.shut()
}

func (inst *core) setFuel(fuel int64) {
	if inst.fuel != nil {
		inst.fuel.Set(uint64(fuel)) //nolint:gosec // an i64 global holds the bits of the int64 budget
	}
}

// call runs fn(buf, n) with a fresh budget, under the watchdog, and returns
// its result.
func (inst *core) call(ctx context.Context, fn api.Function, fuel int64, n uint32) (uint64, error) {
	inst.setFuel(fuel)
	inst.stack[0], inst.stack[1] = uint64(inst.buf), uint64(n)
	err := fn.CallWithStack(inst.begin(ctx), inst.stack[:])
	if inst.end() {
		return 0, inst.backstopError()
	}
	if inst.m.rt.profile || inst.m.profiled.Load() {
		inst.recordFuel(fuel)
	}
	if err != nil {
		return 0, describe(inst, err, fuel)
	}
	return inst.stack[0], nil
}

// allocate asks the guest for n bytes, within fuel, and checks the answer.
// watched says whether the call runs under the watchdog (not the init
// calls).
func (inst *core) allocate(ctx context.Context, n uint32, fuel int64, watched bool) (uint32, error) {
	inst.setFuel(fuel)
	inst.stack[0] = uint64(n)
	if watched {
		ctx = inst.begin(ctx)
	}
	err := inst.alloc.CallWithStack(ctx, inst.stack[:])
	if watched && inst.end() {
		return 0, inst.backstopError()
	}
	if err != nil {
		return 0, describe(inst, err, fuel)
	}
	ptr := uint32(inst.stack[0]) //nolint:gosec // the i32 result of a wasm call
	if ptr == 0 {
		return 0, fmt.Errorf("%w: %s(%d) returned 0", ErrResult, abi.ExportAlloc, n)
	}
	if uint64(ptr)+uint64(n) > uint64(inst.mem.Size()) {
		return 0, fmt.Errorf("%w: %s(%d) returned %d, beyond memory (%d bytes)", ErrResult, abi.ExportAlloc, n, ptr, inst.mem.Size())
	}
	return ptr, nil
}

// input returns the guest input buffer as a zero-length slice to append to.
func (inst *core) input() []byte {
	b, ok := inst.mem.Read(inst.buf, inst.bufLen)
	if !ok {
		return nil // memory cannot shrink: unreachable; append then grows
	}
	return b[:0:inst.bufLen]
}

// commit makes sure blob, built by appending to input(), is in the guest
// buffer: if it outgrew the buffer (append copied it to the host heap), the
// guest allocates a larger one and the blob is copied there.
func (inst *core) commit(ctx context.Context, blob []byte, fuel int64) error {
	if len(blob) <= int(inst.bufLen) {
		return nil
	}
	if len(blob) > 1<<30 {
		return fmt.Errorf("%w: input of %d bytes", ErrResult, len(blob))
	}
	size := (uint32(len(blob)) + minBufferSize - 1) / minBufferSize * minBufferSize //nolint:gosec // len(blob) <= 1<<30, checked above
	ptr, err := inst.allocate(ctx, size, fuel, true)
	if err != nil {
		return err
	}
	inst.mem.Write(ptr, blob) // in bounds: checked by allocate
	inst.buf, inst.bufLen = ptr, size
	return nil
}

// put returns an intact instance after a call: to the first slot if it is
// empty, else to the pool. Refilling that one slot on the way back keeps an
// instance within reach of every P (sync.Pool's per-P private item is not:
// a P whose pool is empty would otherwise create an instance while another
// P's holds one); it is read (not written) while full, so it costs no
// contention.
func (m *Module) put(inst *instance) {
	if m.closed.Load() { // a call that was in flight during Close
		inst.close()
		return
	}
	if inst.stale() { // a call that was in flight during promote
		m.retire(inst)
		return
	}
	if s := &m.slots[0]; s.Load() == nil && s.CompareAndSwap(nil, inst) {
		// Close may have emptied the slots between the check above and
		// the swap: then take the instance back out and close it.
		if m.closed.Load() && s.CompareAndSwap(inst, nil) {
			inst.close()
		}
		return
	}
	m.pool.Put(inst)
}

// markUsed records a call for the idle check. It writes only when the
// flag is clear, so that calls from every P do not contend on it.
func (m *Module) markUsed() {
	if !m.used.Load() {
		m.used.Store(true)
	}
}

// get takes an instance from the pool, else from a slot, else creates one.
func (m *Module) get() (*instance, error) { return m.getFor(nil) }

// getFor is get for a call on request r (named in the failure log).
func (m *Module) getFor(r *policy.Request) (*instance, error) {
	if m.closed.Load() {
		return nil, &CallError{Policy: m.name, Version: m.version, Op: "call", Err: ErrClosed}
	}
	m.markUsed()
	if v := m.pool.Get(); v != nil {
		if inst := v.(*instance); !inst.stale() {
			return inst, nil
		} else {
			m.retire(inst) // left in another P's pool by promote
		}
	}
	for i := range m.slots {
		s := &m.slots[i]
		if s.Load() != nil {
			if inst := s.Swap(nil); inst != nil {
				if !inst.stale() {
					return inst, nil
				}
				m.retire(inst)
			}
		}
	}
	inst, err := m.newInstance(m.ctx, false)
	if err != nil {
		m.stats.instantiate.Add(1)
		if tot := m.totals(); tot != nil {
			tot.instantiate.Add(1)
		}
		ce := &CallError{Policy: m.name, Version: m.version, Op: "instantiate", Err: err}
		m.logFailure(ce, r)
		return nil, ce
	}
	return inst, nil
}

// fail handles a failed call on inst and returns the call's error. A trap,
// exit or fuel exhaustion closes inst: its state can no longer be trusted. A
// malformed result (ErrResult) keeps it: the guest returned normally, and
// throwing away instances on a guest bug that a client can trigger would
// turn it into a denial of service (a Go guest takes milliseconds to start).
//
// Failures are counted twice: in the Module's [Stats], and, once a Store
// serves the module, in its Runtime's totals for the policy name, which
// survive swaps ([Runtime.Totals]).
func (m *Module) fail(inst *instance, op string, err error, r *policy.Request) error {
	ce := &CallError{Policy: m.name, Version: m.version, Op: op, Err: err}
	var unserved counters // the totals of a module no Store serves: dropped
	tot := m.totals()
	if tot == nil {
		tot = &unserved
	}
	if errors.Is(err, ErrResult) {
		m.put(inst)
		m.stats.results.Add(1)
		tot.results.Add(1)
		m.logFailure(ce, r)
		return ce
	}
	switch {
	case errors.Is(err, ErrFuel):
		m.stats.fuel.Add(1)
		tot.fuel.Add(1)
	case errors.Is(err, ErrBackstop):
		m.stats.backstops.Add(1)
		tot.backstops.Add(1)
	case errors.Is(err, ErrExit):
		m.stats.exits.Add(1)
		tot.exits.Add(1)
	default:
		m.stats.traps.Add(1)
		tot.traps.Add(1)
	}
	inst.close()
	m.stats.discarded.Add(1)
	tot.discarded.Add(1)
	m.logFailure(ce, r)
	return ce
}

// guestError handles the error result (-1) of op on inst: the message
// the guest gives through flowcache_error, if it exports it, goes into the
// error. The instance is intact and goes back to the pool, unless asking
// for the message trapped.
func (m *Module) guestError(inst *instance, op string, r *policy.Request) error {
	msg, ok := inst.guestMessage(m.ctx, m.fuel)
	if ok {
		m.put(inst)
	} else {
		inst.close()
		m.stats.discarded.Add(1)
		if tot := m.totals(); tot != nil {
			tot.discarded.Add(1)
		}
	}
	m.stats.guest.Add(1)
	if tot := m.totals(); tot != nil {
		tot.guest.Add(1)
	}
	err := fmt.Errorf("%w: %s returned -1", ErrGuest, op)
	if msg != "" {
		err = fmt.Errorf("%w: %s", ErrGuest, msg)
	}
	ce := &CallError{Policy: m.name, Version: m.version, Op: op, Err: err}
	m.logFailure(ce, r)
	return ce
}

// logFailure records ce as the last failure, and logs it unless a failure
// of this policy was logged less than a minute ago; the next log says how
// many were not. The log names the policy, its version, and the route and
// request target of r (nil: none).
func (m *Module) logFailure(ce *CallError, r *policy.Request) {
	at := time.Now()
	m.lastErr.Store(&failure{err: ce, at: at})
	now := at.UnixNano()
	last := m.lastLog.Load()
	if (last != 0 && now-last < int64(time.Minute)) || !m.lastLog.CompareAndSwap(last, now) {
		m.muted.Add(1)
		return
	}
	var route, target string
	if r != nil {
		route, target = string(r.Route), requestTarget(r)
	}
	m.logger.LogAttrs(context.Background(), slog.LevelWarn, "policy call failed",
		slog.String("version", ce.Version), slog.String("route", route), slog.String("target", target),
		slog.String("op", ce.Op), slog.String("error", ce.Err.Error()),
		slog.Uint64("unlogged_failures", m.muted.Swap(0)),
		slog.String("guest_stderr", m.stderr.take()))
}

// wants reports whether the module reads the request header name.
func (m *Module) wants(name []byte) bool {
	if m.allHeaders {
		return true
	}
	if len(name) < 64 && m.headerLens&(1<<len(name)) == 0 {
		return false
	}
	for _, h := range m.headers {
		if abi.EqualFold(name, h) {
			return true
		}
	}
	return false
}

func (m *Module) appendRequestHeaders(b []byte, start int, r *policy.Request) []byte {
	for i := range r.Headers {
		h := &r.Headers[i]
		if m.wants(h.Name) {
			b = abi.AppendRequestHeader(b, start, h.Name, h.Value)
		}
	}
	return b
}

func requestFields(r *policy.Request) abi.Request {
	return abi.Request{Method: r.Method, Scheme: r.Scheme, Host: r.Host, Path: r.Path, Query: r.Query, Route: r.Route}
}

// Key implements [policy.Policy]: it calls the module's flowcache_key and
// appends the result to k. With [Config.MemoizeKey], a request whose encoded
// blob was seen before gets the remembered result without a guest call.
func (m *Module) Key(r *policy.Request, k *policy.Key) error {
	if m.memo != nil {
		return m.memoKey(r, k)
	}
	inst, err := m.getFor(r)
	if err != nil {
		return err
	}
	req := requestFields(r)
	blob := abi.AppendRequest(inst.input(), &req)
	blob = m.appendRequestHeaders(blob, 0, r)
	return m.callKey(inst, r, blob, k, nil, 0)
}

// memoKey is Key with the key memo: the request blob is encoded into a
// scratch buffer and looked up; a hit takes no instance and allocates
// nothing, a miss calls the guest with a copy of the blob and remembers a
// successful result.
func (m *Module) memoKey(r *policy.Request, k *policy.Key) error {
	if m.closed.Load() {
		return &CallError{Policy: m.name, Op: "call", Err: ErrClosed}
	}
	c := m.memo
	p := c.buffer()
	req := requestFields(r)
	blob := abi.AppendRequest((*p)[:0], &req)
	blob = m.appendRequestHeaders(blob, 0, r)
	h := c.hash(blob)
	if e := c.lookup(h, blob); e != nil {
		c.hits.Add(1)
		m.markUsed() // keep the instances: the module is in use
		e.apply(k)
		c.release(p, blob)
		return nil
	}
	c.misses.Add(1)
	inst, err := m.getFor(r)
	if err == nil {
		err = m.callKey(inst, r, append(inst.input(), blob...), k, blob, h)
	}
	c.release(p, blob)
	return err
}

// callKey runs flowcache_key on blob (built by appending to inst.input())
// and appends the result to k. When memoBlob is not nil, a successful
// result is remembered under it (hash h).
func (m *Module) callKey(inst *instance, r *policy.Request, blob []byte, k *policy.Key, memoBlob []byte, h uint64) error {
	if err := inst.commit(m.ctx, blob, m.fuel); err != nil {
		return m.fail(inst, "key", err, r)
	}
	res, err := inst.call(m.ctx, inst.key, m.fuel, uint32(len(blob))) //nolint:gosec // len(blob) fits the guest buffer (a u32), see commit
	if err != nil {
		return m.fail(inst, "key", err, r)
	}
	switch res {
	case abi.ResultBypass:
		if memoBlob != nil {
			m.memo.insert(h, memoBlob, true, nil, nil, nil)
		}
		k.Bypass = true
		m.put(inst)
		return nil
	case abi.ResultError:
		return m.guestError(inst, "key", r)
	}
	out, err := inst.result(res)
	if err != nil {
		return m.fail(inst, "key", err, r)
	}
	var ak abi.Key
	if err := abi.DecodeKey(out, &ak); err != nil {
		return m.fail(inst, "key", fmt.Errorf("%w: %w", ErrResult, err), r)
	}
	if memoBlob != nil { // before put: ak aliases the instance's memory
		m.memo.insert(h, memoBlob, ak.Bypass, ak.Host, ak.Target, ak.Variant)
	}
	k.Bypass = ak.Bypass
	k.Host = append(k.Host, ak.Host...)
	k.Target = append(k.Target, ak.Target...)
	k.Variant = append(k.Variant, ak.Variant...)
	m.put(inst)
	return nil
}

// Decide implements [policy.Policy]: it passes d (the default decision) to
// the module's flowcache_decide and applies what it returns.
func (m *Module) Decide(r *policy.Request, resp *policy.Response, d *policy.Decision) error {
	inst, err := m.getFor(r)
	if err != nil {
		return err
	}
	def := abi.Decision{
		Store: d.Store, Admit: d.Admit, MustRevalidate: d.MustRevalidate, NoCache: d.NoCache,
		Tier: abi.Tier(d.Tier), TTL: d.TTL, StaleWhileRevalidate: d.StaleWhileRevalidate, StaleIfError: d.StaleIfError,
	}
	ar := abi.Response{Status: resp.Status, BodySize: resp.BodySize, NowUnixMilli: resp.Now.UnixMilli()}
	blob := abi.AppendDecideInput(inst.input(), &ar, &def)
	for i := range resp.Headers {
		blob = abi.AppendResponseHeader(blob, 0, resp.Headers[i].Name, resp.Headers[i].Value)
	}
	rs := len(blob)
	req := requestFields(r)
	blob = abi.AppendDecideRequest(blob, 0, &req)
	blob = m.appendRequestHeaders(blob, rs, r)
	if err := inst.commit(m.ctx, blob, m.fuel); err != nil {
		return m.fail(inst, "decide", err, r)
	}
	res, err := inst.call(m.ctx, inst.decide, m.fuel, uint32(len(blob))) //nolint:gosec // len(blob) fits the guest buffer (a u32), see commit
	if err != nil {
		return m.fail(inst, "decide", err, r)
	}
	switch res {
	case abi.ResultDefault:
		m.put(inst)
		return nil
	case abi.ResultError:
		return m.guestError(inst, "decide", r)
	}
	out, err := inst.result(res)
	if err != nil {
		return m.fail(inst, "decide", err, r)
	}
	var ad abi.Decision
	if err := abi.DecodeDecision(out, &ad); err != nil {
		return m.fail(inst, "decide", fmt.Errorf("%w: %w", ErrResult, err), r)
	}
	*d = policy.Decision{
		Store: ad.Store, Admit: ad.Admit, MustRevalidate: ad.MustRevalidate, NoCache: ad.NoCache,
		Tier: policy.Tier(ad.Tier), TTL: ad.TTL, StaleWhileRevalidate: ad.StaleWhileRevalidate, StaleIfError: ad.StaleIfError,
	}
	m.put(inst)
	return nil
}

// Interface guard.

// result returns the guest memory range [ptr, ptr+len) that a packed call
// result names (ABI.md: ptr<<32 | len), or an ErrResult error if it lies
// outside the instance's memory. The bytes alias guest memory: valid until
// the instance's next call.
func (inst *instance) result(res uint64) ([]byte, error) {
	ptr, n := abi.Unpack(res)
	out, ok := inst.mem.Read(ptr, n)
	if !ok {
		return nil, fmt.Errorf("%w: result [%d, +%d) outside memory", ErrResult, ptr, n)
	}
	return out, nil
}

var _ policy.Policy = (*Module)(nil)
