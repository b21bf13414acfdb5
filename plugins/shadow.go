package plugins

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowcache/flowcache/policy"
)

// # Shadow runs
//
// The active version's Key and Decide (Active) offer a sampled share of
// their calls to the shadow runner: the request (and response and
// decisions) are copied into a job taken from a fixed set of jobs, whose
// buffers are reused, and queued for one worker goroutine. When every job
// is taken the sample is dropped and counted: the request path never waits
// for the shadow, and pays at most the copy of one request. The worker
// calls the candidate's module and compares its key (bypass, host,
// target, variant) or decision with the active version's.

// maxShadowSamples bounds the differing requests a report keeps (the
// latest ones).
const maxShadowSamples = 20

// shadowCounters count a shadow run's work.
type shadowCounters struct {
	sampled, calls, keyCalls, decideCalls, keyDiffs, decisionDiffs, errors, primaryErrors, dropped, nanos atomic.Uint64
}

// shadowRunner runs one shadow candidate.
type shadowRunner struct {
	n       *named
	c       *candidate
	mod     *Module
	started time.Time
	free    chan *shadowJob
	work    chan *shadowJob
	quit    chan struct{}
	done    chan struct{}
	once    sync.Once
	st      shadowCounters
	fuel0   FuelProfile // the module's fuel profile when the run started

	mu      sync.Mutex
	samples []ShadowSample // a ring of the latest maxShadowSamples
	next    int
}

// startShadow starts the runner of c (in shadow mode) with queue jobs.
// It holds a reference on c's activation until it stops.
func startShadow(n *named, c *candidate, queue int) *shadowRunner {
	c.a.Retain()
	c.a.mod.profiled.Store(true) // fuel per call, for the report
	r := &shadowRunner{
		n: n, c: c, mod: c.a.mod, started: time.Now().UTC(), fuel0: c.a.mod.FuelProfile(),
		free: make(chan *shadowJob, queue), work: make(chan *shadowJob, queue),
		quit: make(chan struct{}), done: make(chan struct{}),
	}
	for range queue {
		r.free <- &shadowJob{}
	}
	go r.run()
	return r
}

// stop stops the worker (the queued samples are dropped) and releases the
// candidate; it does not wait.
func (r *shadowRunner) stop() {
	r.once.Do(func() {
		r.mod.profiled.Store(false) // a promoted shadow serves without the fuel profile's cost
		close(r.quit)
	})
}

// sampled draws whether a call is sampled. It does not allocate.
func (r *shadowRunner) sampled() bool {
	return mrand.Uint32N(uint32(FullShare)) < r.c.share.Load()
}

// take returns a free job, or nil (counted as a drop).
func (r *shadowRunner) take() *shadowJob {
	r.st.sampled.Add(1)
	select {
	case j := <-r.free:
		return j
	default:
		r.st.dropped.Add(1)
		r.n.shadowStats.dropped.Add(1)
		return nil
	}
}

// offerKey samples a key call of the active version: r is the request, k
// the key it made, failed whether it failed.
func (r *shadowRunner) offerKey(req *policy.Request, k *policy.Key, err error) {
	if !r.sampled() {
		return
	}
	j := r.take()
	if j == nil {
		return
	}
	j.decide, j.primaryErr = false, err != nil
	j.copyIn(req, nil, k)
	r.work <- j // never blocks: there are as many slots as jobs
}

// offerDecide queues a decide call of the active version (already
// sampled): in is the default decision it was given, out its answer.
func (r *shadowRunner) offerDecide(req *policy.Request, resp *policy.Response, in, out *policy.Decision, err error) {
	j := r.take()
	if j == nil {
		return
	}
	j.decide, j.primaryErr = true, err != nil
	j.in, j.out = *in, *out
	j.copyIn(req, resp, nil)
	r.work <- j
}

func (r *shadowRunner) run() {
	defer close(r.done)
	defer r.c.a.Release()
	var k policy.Key
	for {
		select {
		case <-r.quit:
			return
		case j := <-r.work:
			r.do(j, &k)
			r.free <- j
		}
	}
}

// do runs the candidate on j and compares. The call counters move last,
// so that a report counting a call also has its difference and sample.
func (r *shadowRunner) do(j *shadowJob, k *policy.Key) {
	start := time.Now()
	var err error
	var d policy.Decision
	if j.decide {
		d = j.in
		err = r.mod.Decide(&j.req, &j.resp, &d)
	} else {
		k.Bypass, k.Host, k.Target, k.Variant = false, k.Host[:0], k.Target[:0], k.Variant[:0]
		err = r.mod.Key(&j.req, k)
	}
	r.st.nanos.Add(uint64(time.Since(start))) //nolint:gosec // a duration is positive
	switch {
	case j.primaryErr:
		r.st.primaryErrors.Add(1) // the active version failed: nothing to compare with
	case err != nil:
		r.st.errors.Add(1)
		r.n.shadowStats.errors.Add(1)
		r.sample(j, "error", nil, nil, err)
	case j.decide && d != j.out:
		r.st.decisionDiffs.Add(1)
		r.n.shadowStats.decisionDiffs.Add(1)
		r.sample(j, "decision", nil, &d, nil)
	case !j.decide && !equalKeys(&j.key, k):
		r.st.keyDiffs.Add(1)
		r.n.shadowStats.keyDiffs.Add(1)
		r.sample(j, "key", k, nil, nil)
	}
	if j.decide {
		r.st.decideCalls.Add(1)
	} else {
		r.st.keyCalls.Add(1)
	}
	r.st.calls.Add(1)
	r.n.shadowStats.calls.Add(1)
}

func equalKeys(a, b *policy.Key) bool {
	return a.Bypass == b.Bypass && string(a.Host) == string(b.Host) &&
		string(a.Target) == string(b.Target) && string(a.Variant) == string(b.Variant)
}

// ShadowKey is a key in a [ShadowSample].
type ShadowKey struct {
	Bypass  bool   `json:"bypass,omitempty"`
	Host    string `json:"host,omitempty"`
	Target  string `json:"target,omitempty"`
	Variant string `json:"variant,omitempty"`
}

// ShadowDecision is a decision in a [ShadowSample].
type ShadowDecision struct {
	Store                bool   `json:"store"`
	TTL                  string `json:"ttl"`
	StaleWhileRevalidate string `json:"stale_while_revalidate,omitempty"`
	StaleIfError         string `json:"stale_if_error,omitempty"`
	MustRevalidate       bool   `json:"must_revalidate,omitempty"`
	NoCache              bool   `json:"no_cache,omitempty"`
	Tier                 uint8  `json:"tier"`
	Admit                bool   `json:"admit"`
}

func shadowDecision(d *policy.Decision) *ShadowDecision {
	dur := func(v time.Duration) string {
		if v == 0 {
			return ""
		}
		return v.String()
	}
	return &ShadowDecision{
		Store: d.Store, TTL: d.TTL.String(), StaleWhileRevalidate: dur(d.StaleWhileRevalidate), StaleIfError: dur(d.StaleIfError),
		MustRevalidate: d.MustRevalidate, NoCache: d.NoCache, Tier: uint8(d.Tier), Admit: d.Admit,
	}
}

// redacted replaces the value of a header neither version declared.
const redacted = "(redacted)"

// ShadowSample is a request on which the candidate differed from the
// active version (Kind "key" or "decision") or failed ("error"). Header
// values are shown only for the headers a version declared
// (flowcache_headers), never for Cookie and Authorization.
type ShadowSample struct {
	Kind    string            `json:"kind"`
	At      time.Time         `json:"at"`
	Method  string            `json:"method"`
	Host    string            `json:"host"`
	Path    string            `json:"path"`
	Query   string            `json:"query,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	// Status is the response's status (decisions).
	Status int `json:"status,omitempty"`
	// ActiveKey and CandidateKey are the keys of a "key" difference.
	ActiveKey    *ShadowKey `json:"active_key,omitempty"`
	CandidateKey *ShadowKey `json:"candidate_key,omitempty"`
	// ActiveDecision and CandidateDecision are the decisions of a
	// "decision" difference.
	ActiveDecision    *ShadowDecision `json:"active_decision,omitempty"`
	CandidateDecision *ShadowDecision `json:"candidate_decision,omitempty"`
	// Error is the candidate's error.
	Error string `json:"error,omitempty"`
}

// sample records j in the ring (off the request path: it allocates).
func (r *shadowRunner) sample(j *shadowJob, kind string, k *policy.Key, d *policy.Decision, err error) {
	s := ShadowSample{
		Kind: kind, At: time.Now().UTC(), Method: string(j.req.Method), Host: string(j.req.Host),
		Path: string(j.req.Path), Query: string(j.req.Query), Headers: map[string]string{},
	}
	for _, h := range j.req.Headers {
		name := strings.ToLower(string(h.Name))
		v := redacted
		if name != "cookie" && name != "authorization" && (r.declared(h.Name)) {
			v = string(h.Value)
		}
		s.Headers[name] = v
	}
	if len(s.Headers) == 0 {
		s.Headers = nil
	}
	if k != nil {
		s.ActiveKey = &ShadowKey{Bypass: j.key.Bypass, Host: string(j.key.Host), Target: string(j.key.Target), Variant: string(j.key.Variant)}
		s.CandidateKey = &ShadowKey{Bypass: k.Bypass, Host: string(k.Host), Target: string(k.Target), Variant: string(k.Variant)}
	}
	if d != nil {
		s.Status = j.resp.Status
		s.ActiveDecision, s.CandidateDecision = shadowDecision(&j.out), shadowDecision(d)
	}
	if err != nil {
		s.Error = err.Error()
		if j.decide {
			s.Status = j.resp.Status
		}
	}
	r.mu.Lock()
	if len(r.samples) < maxShadowSamples {
		r.samples = append(r.samples, s)
	} else {
		r.samples[r.next] = s
	}
	r.next = (r.next + 1) % maxShadowSamples
	r.mu.Unlock()
}

// declared reports whether the candidate or the active version declared
// header name.
func (r *shadowRunner) declared(name []byte) bool {
	if r.mod.wants(name) {
		return true
	}
	if a := acquireNamed(r.n); a != nil {
		ok := a.mod.wants(name)
		a.Release()
		return ok
	}
	return false
}

// ShadowReport is what a shadow run found on this node ([Store.Shadow]).
type ShadowReport struct {
	Policy    string    `json:"policy"`
	Active    string    `json:"active"`
	Candidate string    `json:"candidate"`
	Sample    Share     `json:"sample"`
	Started   time.Time `json:"started"`
	// Sampled counts the calls of the active version sampled; Dropped
	// those dropped because the queue was full.
	Sampled uint64 `json:"sampled"`
	Dropped uint64 `json:"dropped"`
	// Calls counts the candidate's calls (KeyCalls + DecideCalls).
	Calls       uint64 `json:"calls"`
	KeyCalls    uint64 `json:"key_calls"`
	DecideCalls uint64 `json:"decide_calls"`
	// KeyDiffs and DecisionDiffs count the calls whose result differed
	// from the active version's; Errors the candidate's failed calls;
	// ActiveErrors the calls not compared because the active version
	// failed.
	KeyDiffs      uint64 `json:"key_diffs"`
	DecisionDiffs uint64 `json:"decision_diffs"`
	Errors        uint64 `json:"errors"`
	ActiveErrors  uint64 `json:"active_errors"`
	// NsPerCall is the candidate's mean wall time per call; FuelPerCall
	// its mean fuel (instruction-weighted units, see Config.Fuel) per
	// guest call, and FuelMax the most one call burned (0 on a runtime
	// without metering).
	NsPerCall   float64 `json:"ns_per_call"`
	FuelPerCall float64 `json:"fuel_per_call"`
	FuelMax     uint64  `json:"fuel_max"`
	// Samples are the latest differing requests, oldest first.
	Samples []ShadowSample `json:"samples"`
}

// errNoShadow: a shadow report without a shadow run.
var errNoShadow = errors.New("no shadow run (push a version with mode shadow first)")

// Shadow reports the shadow run of name on this node.
func (s *Store) Shadow(name string) (ShadowReport, error) {
	n := (*s.table.Load())[name]
	if n == nil {
		return ShadowReport{}, fmt.Errorf("%w: policy %q", ErrNotFound, name)
	}
	c := n.cand.Load()
	if c == nil || c.shadow == nil {
		return ShadowReport{}, fmt.Errorf("%w: policy %q: %w", ErrNotFound, name, errNoShadow)
	}
	r := c.shadow
	st := &r.st
	rep := ShadowReport{
		Policy: name, Candidate: c.a.id, Sample: Share(c.share.Load()), Started: r.started,
		Sampled: st.sampled.Load(), Dropped: st.dropped.Load(), Calls: st.calls.Load(),
		KeyCalls: st.keyCalls.Load(), DecideCalls: st.decideCalls.Load(), KeyDiffs: st.keyDiffs.Load(),
		DecisionDiffs: st.decisionDiffs.Load(), Errors: st.errors.Load(), ActiveErrors: st.primaryErrors.Load(),
	}
	if a := n.active.Load(); a != nil {
		rep.Active = a.id
	}
	if rep.Calls > 0 {
		rep.NsPerCall = float64(st.nanos.Load()) / float64(rep.Calls)
	}
	if fp := r.mod.FuelProfile(); fp.Calls > r.fuel0.Calls {
		rep.FuelPerCall = float64(fp.Fuel-r.fuel0.Fuel) / float64(fp.Calls-r.fuel0.Calls)
		rep.FuelMax = fp.Max
	}
	r.mu.Lock()
	rep.Samples = make([]ShadowSample, 0, len(r.samples))
	if len(r.samples) == maxShadowSamples {
		rep.Samples = append(rep.Samples, r.samples[r.next:]...)
		rep.Samples = append(rep.Samples, r.samples[:r.next]...)
	} else {
		rep.Samples = append(rep.Samples, r.samples...)
	}
	r.mu.Unlock()
	return rep, nil
}

// shadowJob is a sampled call, copied: every byte lives in buf, which is
// kept between uses.
type shadowJob struct {
	decide     bool
	primaryErr bool
	buf        []byte
	offs       []int
	req        policy.Request
	hdr        policy.Headers
	key        policy.Key
	resp       policy.Response
	rhdr       policy.Headers
	in, out    policy.Decision
}

// put appends p to the job's bytes and records where it lies.
func (j *shadowJob) put(p []byte) {
	j.offs = append(j.offs, len(j.buf))
	j.buf = append(j.buf, p...)
	j.offs = append(j.offs, len(j.buf))
}

// get returns the i-th slice put, and i+1.
func (j *shadowJob) get(i int) ([]byte, int) {
	return j.buf[j.offs[2*i]:j.offs[2*i+1]:j.offs[2*i+1]], i + 1
}

// copyIn copies the request, the response (decide) or the key (key call)
// into j. Once the buffers have grown to the traffic's sizes it does not
// allocate.
func (j *shadowJob) copyIn(r *policy.Request, resp *policy.Response, k *policy.Key) {
	j.buf, j.offs = j.buf[:0], j.offs[:0]
	j.put(r.Method)
	j.put(r.Scheme)
	j.put(r.Host)
	j.put(r.Path)
	j.put(r.Query)
	j.put(r.Route)
	for i := range r.Headers {
		j.put(r.Headers[i].Name)
		j.put(r.Headers[i].Value)
	}
	if k != nil {
		j.put(k.Host)
		j.put(k.Target)
		j.put(k.Variant)
	}
	if resp != nil {
		for i := range resp.Headers {
			j.put(resp.Headers[i].Name)
			j.put(resp.Headers[i].Value)
		}
	}
	// Slices are taken once every byte is in: buf may have moved.
	i := 0
	j.req.Method, i = j.get(i)
	j.req.Scheme, i = j.get(i)
	j.req.Host, i = j.get(i)
	j.req.Path, i = j.get(i)
	j.req.Query, i = j.get(i)
	j.req.Route, i = j.get(i)
	j.hdr = j.hdr[:0]
	for range r.Headers {
		var h policy.Header
		h.Name, i = j.get(i)
		h.Value, i = j.get(i)
		j.hdr = append(j.hdr, h)
	}
	j.req.Headers = j.hdr
	if k != nil {
		j.key.Bypass = k.Bypass
		j.key.Host, i = j.get(i)
		j.key.Target, i = j.get(i)
		j.key.Variant, i = j.get(i)
	}
	if resp != nil {
		j.rhdr = j.rhdr[:0]
		for range resp.Headers {
			var h policy.Header
			h.Name, i = j.get(i)
			h.Value, i = j.get(i)
			j.rhdr = append(j.rhdr, h)
		}
		j.resp = policy.Response{Status: resp.Status, BodySize: resp.BodySize, Now: resp.Now, Headers: j.rhdr}
	}
}
