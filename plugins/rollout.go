package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flowcache/flowcache/internal/keypath"
	"github.com/flowcache/flowcache/internal/units"
	"github.com/flowcache/flowcache/policy"
)

// # Rollouts
//
// A version may be staged beside the active one instead of replacing it:
//
//   - shadow: the candidate runs on a sampled share of the requests, off the
//     response path (a bounded queue and one worker; a full queue drops the
//     sample and counts it); its keys and decisions are compared with the
//     active version's and never used ([Store.Shadow]).
//   - canary: the candidate serves the requests whose stable hash of the
//     normalised host and path ([CanaryBucket]) falls below its share; the
//     same request always lands on the same side, on every node. Each side
//     keeps its own key namespace.
//
// [Store.SetShare] steps the share, [Store.Promote] makes the candidate the
// active version (keeping its namespace, hence what it cached), and
// [Store.Discard] drops it. Each is a change shared with the other nodes
// like an activation (see store_sync.go).
//
// # Automatic rollback
//
// Every activation counts its calls and failures. A canary whose failure
// rate (failed calls of any kind: traps, fuel, backstops, exits, bad
// results, guest errors) or fallback rate (failed key calls: the requests
// answered with the route's fallback) exceeds [RolloutConfig]'s threshold,
// over at least MinCalls calls, is discarded; a version activated by an
// upload or a promotion is watched the same way for Window and rolled back
// to the previous version. The rollback is logged (policy_rolled_back),
// counted by reason, recorded in [Info].LastRollback and shared: every
// node applies it.

// Mode is how a candidate version runs beside the active one.
type Mode string

// Candidate modes.
const (
	// ModeShadow runs the candidate off the response path and compares it.
	ModeShadow Mode = "shadow"
	// ModeCanary serves a share of the requests with the candidate.
	ModeCanary Mode = "canary"
)

// Share is a part of the requests in hundredths of a percent: 1000 is 10%.
type Share uint32

// FullShare is every request (100%).
const FullShare Share = 10000

// ParseShare parses a percentage: "10%", "10", "2.5%" (at most two
// decimals), from 0 to 100.
func ParseShare(s string) (Share, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "%")
	whole, frac, dot := strings.Cut(t, ".")
	if whole == "" || len(frac) > 2 || (dot && frac == "") || !allIn(whole+frac, "0123456789") || len(whole) > 3 {
		return 0, fmt.Errorf("share %q: want a percentage from 0 to 100 with at most two decimals (\"10%%\", \"2.5%%\")", s)
	}
	w, _ := strconv.Atoi(whole) // digits only, at most 3
	f, _ := strconv.Atoi((frac + "00")[:2])
	v := w*100 + f
	if v > int(FullShare) {
		return 0, fmt.Errorf("share %q: more than 100%%", s)
	}
	return Share(v), nil //nolint:gosec // 0 <= v <= 10000
}

// String formats s as a percentage ("10%", "2.5%").
func (s Share) String() string {
	w, f := s/100, s%100
	if f == 0 {
		return strconv.Itoa(int(w)) + "%"
	}
	return strings.TrimRight(fmt.Sprintf("%d.%02d", w, f), "0") + "%"
}

// MarshalText implements encoding.TextMarshaler ("10%").
func (s Share) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (see ParseShare).
func (s *Share) UnmarshalText(b []byte) error {
	v, err := ParseShare(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// CanaryBucket returns the bucket (0 to 9999) of a request: FNV-1a over
// the host, lower-cased, a NUL byte and the path. A canary of share s serves
// the requests whose bucket is below s. It does not allocate.
func CanaryBucket(host, path []byte) uint32 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, c := range host {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h = (h ^ uint64(c)) * prime
	}
	h *= prime // the NUL byte between host and path (h ^ 0 == h)
	for _, c := range path {
		h = (h ^ uint64(c)) * prime
	}
	return uint32(h % uint64(FullShare)) //nolint:gosec // < 10000
}

// Candidate is a version staged beside the active one.
type Candidate struct {
	Version VersionInfo `json:"version"`
	Mode    Mode        `json:"mode"`
	// Share is the canary's share of the requests, or the shadow's
	// sample.
	Share Share `json:"share"`
	// Activation is the candidate's activation number: its key namespace,
	// kept when it is promoted.
	Activation uint64    `json:"activation"`
	Started    time.Time `json:"started"`
}

// Rollback describes an automatic rollback.
type Rollback struct {
	// Version is the version rolled back (id).
	Version string `json:"version"`
	// Stage is "canary" (the candidate was discarded) or "swap" (the
	// active version, within its watch window, was replaced by the
	// previous one).
	Stage string `json:"stage"`
	// Kind is "failure_rate" or "fallback_rate"; Reason says it in words,
	// with the numbers.
	Kind   string    `json:"kind"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Rollback kinds, the reason label of flowcache_policy_rollbacks_total.
const (
	reasonFailureRate = iota
	reasonFallbackRate
	numRollbackReasons
)

var rollbackKinds = [numRollbackReasons]string{"failure_rate", "fallback_rate"}

// RolloutConfig is the `[rollout]` section of config.toml: the thresholds
// of automatic rollbacks and the shadow queue. Zero values take the
// defaults of [DefaultRolloutConfig].
type RolloutConfig struct {
	// MinCalls is the number of calls (key and decide) a version must have
	// served before its rates are judged. Default 100.
	MinCalls uint64 `toml:"min_calls"`
	// MaxFailureRate is the largest share of failed calls (0 to 1) a
	// canary or a watched version may have. Default 0.05.
	MaxFailureRate float64 `toml:"max_failure_rate"`
	// MaxFallbackRate is the largest share of failed key calls (requests
	// answered with the fallback policy). Default 0.02.
	MaxFallbackRate float64 `toml:"max_fallback_rate"`
	// Window is how long a version activated by an upload or a promotion
	// is watched. Default 5m; "0s" takes the default, a negative value
	// turns the watch off.
	Window units.Duration `toml:"window"`
	// ShadowQueue bounds the samples waiting for the shadow worker; more
	// are dropped (and counted). Default 256.
	ShadowQueue int `toml:"shadow_queue"`
}

// Rollout defaults.
const (
	DefaultMinCalls        = 100
	DefaultMaxFailureRate  = 0.05
	DefaultMaxFallbackRate = 0.02
	DefaultRolloutWindow   = 5 * time.Minute
	DefaultShadowQueue     = 256
)

// DefaultRolloutConfig returns the defaults.
func DefaultRolloutConfig() RolloutConfig {
	return RolloutConfig{
		MinCalls: DefaultMinCalls, MaxFailureRate: DefaultMaxFailureRate, MaxFallbackRate: DefaultMaxFallbackRate,
		Window: units.Duration(DefaultRolloutWindow), ShadowQueue: DefaultShadowQueue,
	}
}

// Validate reports every invalid field, each with its key.
func (c *RolloutConfig) Validate() error {
	var errs []error
	if c.MaxFailureRate < 0 || c.MaxFailureRate > 1 {
		errs = append(errs, keypath.Errorf("max_failure_rate", "%v is outside [0, 1]", c.MaxFailureRate))
	}
	if c.MaxFallbackRate < 0 || c.MaxFallbackRate > 1 {
		errs = append(errs, keypath.Errorf("max_fallback_rate", "%v is outside [0, 1]", c.MaxFallbackRate))
	}
	if c.Window.D() > 24*time.Hour {
		errs = append(errs, keypath.Errorf("window", "%v is more than 24h", c.Window))
	}
	if c.ShadowQueue < 0 || c.ShadowQueue > 65536 {
		errs = append(errs, keypath.Errorf("shadow_queue", "%d is outside [0, 65536]", c.ShadowQueue))
	}
	if c.MinCalls > 1<<40 {
		errs = append(errs, keypath.Errorf("min_calls", "%d is too large", c.MinCalls))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with the zero values replaced by the defaults.
func (c RolloutConfig) withDefaults() RolloutConfig {
	d := DefaultRolloutConfig()
	if c.MinCalls == 0 {
		c.MinCalls = d.MinCalls
	}
	if c.MaxFailureRate == 0 {
		c.MaxFailureRate = d.MaxFailureRate
	}
	if c.MaxFallbackRate == 0 {
		c.MaxFallbackRate = d.MaxFallbackRate
	}
	if c.Window == 0 {
		c.Window = d.Window
	}
	if c.ShadowQueue == 0 {
		c.ShadowQueue = d.ShadowQueue
	}
	return c
}

// SetRollout replaces the rollout thresholds (at startup and on reload);
// the running rollouts are judged by them from then on.
func (s *Store) SetRollout(c RolloutConfig) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("plugins: rollout: %w", err)
	}
	c = c.withDefaults()
	s.rollout.Store(&c)
	return nil
}

// candidate is a staged version as it serves: its activation, its mode,
// its share (changed in place by a step) and, in shadow mode, its runner.
type candidate struct {
	a      *Active
	mode   Mode
	share  atomic.Uint32
	shadow *shadowRunner
}

// is reports whether a is an activation of version id under number at.
func (a *Active) is(id string, at uint64) bool {
	return a != nil && a.id == id && a.activation == at
}

// rates returns the calls of a and its failure and fallback counts.
func (a *Active) rates() (calls, failures, keyCalls, keyFailures uint64) {
	kc, ke := a.keyCalls.Load(), a.keyErrs.Load()
	return kc + a.decideCalls.Load(), ke + a.decideErrs.Load(), kc, ke
}

// verdict judges a by c: it returns the kind and the reason of a rollback,
// or ok.
func (c *RolloutConfig) verdict(a *Active) (kind int, reason string, ok bool) {
	calls, fails, kc, ke := a.rates()
	if calls >= c.MinCalls && float64(fails) > c.MaxFailureRate*float64(calls) {
		return reasonFailureRate, fmt.Sprintf("failure rate %.1f%% (%d of %d calls failed) above max_failure_rate %g%%",
			100*float64(fails)/float64(calls), fails, calls, 100*c.MaxFailureRate), false
	}
	if kc >= c.MinCalls && float64(ke) > c.MaxFallbackRate*float64(kc) {
		return reasonFallbackRate, fmt.Sprintf("fallback rate %.1f%% (%d of %d key calls answered by the fallback policy) above max_fallback_rate %g%%",
			100*float64(ke)/float64(kc), ke, kc, 100*c.MaxFallbackRate), false
	}
	return 0, "", true
}

// PolicyFor returns a lease on the version of name that serves a request
// for host and path: the canary when one runs and the request's
// [CanaryBucket] falls in its share, else the active version. The caller
// releases it as with [Store.Policy]. It does not allocate.
func (s *Store) PolicyFor(name string, host, path []byte) (policy.Policy, bool) {
	n := (*s.table.Load())[name]
	if n == nil {
		return nil, false
	}
	if c := n.cand.Load(); c != nil && c.mode == ModeCanary && CanaryBucket(host, path) < c.share.Load() {
		a := c.a
		a.refs.Add(1)
		if !a.retired.Load() {
			return a, true
		}
		a.Release() // discarded meanwhile: the active version serves
	}
	a := acquireNamed(n)
	if a == nil {
		return nil, false
	}
	return a, true
}

// Canary returns a lease on the canary of name, if one runs: the gateway
// drops the L1 entries of both sides on an invalidation. The caller
// releases it.
func (s *Store) Canary(name string) (policy.Policy, bool) {
	n := (*s.table.Load())[name]
	if n == nil {
		return nil, false
	}
	c := n.cand.Load()
	if c == nil || c.mode != ModeCanary {
		return nil, false
	}
	a := c.a
	a.refs.Add(1)
	if a.retired.Load() {
		a.Release()
		return nil, false
	}
	return a, true
}

// install saves rec as the record of n's policy and makes what serves
// match it: the active version and the candidate are kept when rec names
// the same version under the same activation number, moved (a promotion:
// the candidate's activation becomes the active one), or created from
// stable and cand, the modules the caller loaded for them (nil if none was
// needed). A local change is queued for StoreOptions.OnChange. The caller
// holds mu; on error nothing changed and the caller closes stable and cand.
func (s *Store) install(n *named, rec *policyRecord, stable, cand *Module, local bool) error {
	name := n.name
	old := s.man.Policies[name]
	curS, curC := n.active.Load(), n.cand.Load()
	var curCA *Active
	if curC != nil {
		curCA = curC.a
	}
	var newS *Active
	if !rec.Deleted && rec.Active != "" {
		switch {
		case stable != nil:
			newS = newActive(n, stable, rec.Active, rec.Activation)
		case curS.is(rec.Active, rec.Activation):
			newS = curS
		case curCA.is(rec.Active, rec.Activation):
			newS = curCA
		default:
			return fmt.Errorf("plugins: policy %q version %.12s: not loaded", name, rec.Active)
		}
	}
	var newC *candidate
	if c := rec.Candidate; c != nil && !rec.Deleted {
		var a *Active
		switch {
		case cand != nil:
			a = newActive(n, cand, c.Version.ID, c.Activation)
		case curCA.is(c.Version.ID, c.Activation):
			a = curCA
		default:
			return fmt.Errorf("plugins: policy %q candidate %.12s: not loaded", name, c.Version.ID)
		}
		if curC != nil && curC.a == a && curC.mode == c.Mode {
			newC = curC
		} else {
			newC = &candidate{a: a, mode: c.Mode}
		}
	}
	prune(rec)
	if err := s.saveWith(name, rec); err != nil {
		return err
	}
	if old != nil {
		var gone []string
		for _, v := range old.Versions {
			if _, ok := rec.version(v.ID); !ok {
				gone = append(gone, v.ModuleSHA256)
			}
		}
		s.removeUnused(gone)
	}
	if newS != nil {
		newS.watchUntil.Store(0)
		if w := s.rollout.Load().Window.D(); w > 0 && !rec.Swapped.IsZero() && rec.Previous != "" {
			newS.watchUntil.Store(rec.Swapped.Add(w).UnixNano())
		}
	}
	if newC != nil {
		newC.share.Store(uint32(rec.Candidate.Share))
		if newC.mode == ModeShadow && newC.shadow == nil {
			newC.shadow = startShadow(n, newC, s.rollout.Load().ShadowQueue)
		}
	}
	if rec.Deleted {
		tab := *s.table.Load()
		if tab[name] == n {
			next := make(map[string]*named, len(tab))
			for k, v := range tab {
				if k != name {
					next[k] = v
				}
			}
			s.table.Store(&next)
		}
	} else {
		s.link(n)
	}
	// The active version first: a promotion is never without a version.
	if newS != curS {
		n.active.Store(newS)
	}
	if newC != curC {
		n.cand.Store(newC)
		if newC != nil && newC.shadow != nil {
			n.shadow.Store(newC.shadow)
		} else {
			n.shadow.Store(nil)
		}
		if curC != nil && curC.shadow != nil {
			curC.shadow.stop()
		}
	}
	var newCA *Active
	if newC != nil {
		newCA = newC.a
	}
	if curS != nil && curS != newS && curS != newCA {
		curS.retire()
	}
	if curCA != nil && curCA != newS && curCA != newCA {
		curCA.retire()
	}
	if newS != curS && newS != nil {
		prev := ""
		if curS != nil {
			prev = curS.id
		}
		source := ""
		if v, ok := rec.version(rec.Active); ok {
			source = v.Source
		}
		s.logger.LogAttrs(context.Background(), slog.LevelInfo, "policy activated",
			slog.String("policy", name), slog.String("version", rec.Active), slog.String("previous", prev),
			slog.String("source", source), slog.Uint64("activation", rec.Activation), slog.Bool("local", local))
	}
	if newC != curC && newC != nil {
		s.logger.LogAttrs(context.Background(), slog.LevelInfo, "policy staged",
			slog.String("policy", name), slog.String("version", newC.a.id), slog.String("mode", string(newC.mode)),
			slog.String("share", rec.Candidate.Share.String()), slog.Bool("local", local))
	}
	if local && s.onChange != nil {
		s.pending = append(s.pending, eventOf(name, rec))
	}
	return nil
}

// link adds n to the table if it is not there. The caller holds mu.
func (s *Store) link(n *named) {
	tab := *s.table.Load()
	if tab[n.name] == n {
		return
	}
	next := make(map[string]*named, len(tab)+1)
	for k, v := range tab {
		next[k] = v
	}
	next[n.name] = n
	s.table.Store(&next)
}

// errNoActive: a staged version needs an active one to run beside.
var errNoActive = errors.New("no active version to stage a candidate beside (upload it normally first)")

// Stage validates, loads and dry-runs wasm as a new version of name, as
// [Store.Put] does, and stages it beside the active version in mode with
// share (see Rollouts) instead of activating it. A version already staged
// gets the new mode and share.
func (s *Store) Stage(ctx context.Context, name string, wasm []byte, config map[string]any, mode Mode, share Share) (Result, error) {
	return s.stage(ctx, name, Upload{Module: wasm, Config: config, Mode: mode, Share: share})
}

func (s *Store) stage(ctx context.Context, name string, u Upload) (Result, error) {
	wasm, mode, share := u.Module, u.Mode, u.Share
	if mode != ModeShadow && mode != ModeCanary {
		return Result{}, fmt.Errorf("%w: mode %q (want shadow or canary)", ErrConfig, mode)
	}
	if share > FullShare {
		return Result{}, fmt.Errorf("%w: share %d is more than 100%%", ErrConfig, share)
	}
	m, cfg, v, err := s.loadUpload(ctx, name, &u)
	if err != nil {
		return Result{}, err
	}
	defer s.notify()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.uploadStillValid(name, &cfg); err != nil {
		_ = m.Close(ctx) // refused
		return Result{}, err
	}
	rec := s.man.Policies[name]
	n := (*s.table.Load())[name]
	if rec == nil || rec.Deleted || rec.Active == "" || n == nil || n.active.Load() == nil {
		_ = m.Close(ctx) // refused
		return Result{}, fmt.Errorf("%w: policy %q: %w", ErrConflict, name, errNoActive)
	}
	if rec.Active == v.ID {
		_ = m.Close(ctx) // refused
		return Result{}, fmt.Errorf("%w: policy %q: version %.12s is the active version", ErrConflict, name, v.ID)
	}
	r := rec.clone()
	if c := r.Candidate; c != nil && c.Version.ID == v.ID {
		_ = m.Close(ctx) // the staged one runs already: a step
		c.Mode, c.Share = mode, share
		r.next()
		if err := s.install(n, r, nil, nil, true); err != nil {
			return Result{}, err
		}
		return Result{Name: name, Version: v.ID, Previous: rec.Active, Changed: true}, nil
	}
	if err := s.putBlob(v.ModuleSHA256, wasm); err != nil {
		_ = m.Close(ctx) // not staged
		return Result{}, err
	}
	if err := s.putVectors(&v, u.Vectors); err != nil {
		_ = m.Close(ctx) // not staged
		return Result{}, err
	}
	if _, ok := r.version(v.ID); !ok {
		r.Versions = append(r.Versions, v)
	}
	r.Candidate = &Candidate{Version: VersionInfo(v), Mode: mode, Share: share, Started: s.now().UTC()}
	r.Candidate.Activation = r.next()
	if err := s.install(n, r, nil, m, true); err != nil {
		_ = m.Close(ctx) // not staged
		return Result{}, err
	}
	return Result{Name: name, Version: v.ID, Previous: rec.Active, Changed: true}, nil
}

// change applies edit to a copy of name's record, with a new change
// number, and installs it. edit must not need a module loaded.
func (s *Store) change(name string, edit func(rec *policyRecord) error) error {
	defer s.notify()
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.man.Policies[name]
	n := (*s.table.Load())[name]
	if rec == nil || rec.Deleted || n == nil {
		return fmt.Errorf("%w: policy %q", ErrNotFound, name)
	}
	r := rec.clone()
	if err := edit(r); err != nil {
		return err
	}
	r.next()
	return s.install(n, r, nil, nil, true)
}

// errNoCandidate: a step, promote or discard without a staged version.
var errNoCandidate = errors.New("no staged version (push one with a mode first)")

// SetShare changes the share of name's candidate (the canary's share of
// the requests, or the shadow's sample), and its mode when mode is not
// empty.
func (s *Store) SetShare(name string, mode Mode, share Share) error {
	if share > FullShare {
		return fmt.Errorf("%w: share %d is more than 100%%", ErrConfig, share)
	}
	if mode != "" && mode != ModeShadow && mode != ModeCanary {
		return fmt.Errorf("%w: mode %q (want shadow or canary)", ErrConfig, mode)
	}
	return s.change(name, func(r *policyRecord) error {
		if r.Candidate == nil {
			return fmt.Errorf("%w: policy %q: %w", ErrConflict, name, errNoCandidate)
		}
		if mode != "" {
			r.Candidate.Mode = mode
		}
		r.Candidate.Share = share
		return nil
	})
}

// Promote makes name's candidate the active version, under the
// candidate's activation number (what the canary cached stays valid); the
// active version becomes the previous one. The promoted version is watched
// for the rollout window.
func (s *Store) Promote(name string) (Result, error) {
	var res Result
	err := s.change(name, func(r *policyRecord) error {
		c := r.Candidate
		if c == nil {
			return fmt.Errorf("%w: policy %q: %w", ErrConflict, name, errNoCandidate)
		}
		res = Result{Name: name, Version: c.Version.ID, Previous: r.Active, Changed: true}
		r.Previous, r.Active, r.Activation = r.Active, c.Version.ID, c.Activation
		r.Candidate = nil
		r.Swapped = s.now().UTC()
		return nil
	})
	return res, err
}

// Discard drops name's candidate.
func (s *Store) Discard(name string) error {
	return s.change(name, func(r *policyRecord) error {
		if r.Candidate == nil {
			return fmt.Errorf("%w: policy %q: %w", ErrConflict, name, errNoCandidate)
		}
		r.Candidate = nil
		return nil
	})
}

// monitorInterval is how often the rollout monitor judges the canaries and
// the watched versions.
const monitorInterval = 100 * time.Millisecond

// monitor judges the rollouts until Close.
func (s *Store) monitor() {
	defer close(s.stopped)
	t := time.NewTicker(monitorInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.checkRollouts()
		}
	}
}

// checkRollouts rolls back every canary and watched version that its
// thresholds condemn.
func (s *Store) checkRollouts() {
	cfg := s.rollout.Load()
	now := s.now().UnixNano()
	for _, n := range *s.table.Load() {
		if c := n.cand.Load(); c != nil && c.mode == ModeCanary {
			if kind, reason, ok := cfg.verdict(c.a); !ok {
				s.autoRollback(n, c.a, "canary", kind, reason)
			}
		}
		if a := n.active.Load(); a != nil {
			if until := a.watchUntil.Load(); until != 0 && now < until {
				if kind, reason, ok := cfg.verdict(a); !ok {
					s.autoRollback(n, a, "swap", kind, reason)
				}
			}
		}
	}
}

// autoRollback rolls a back (stage "canary": discards it; "swap": activates
// the previous version) if it is still what it was judged as.
func (s *Store) autoRollback(n *named, a *Active, stage string, kind int, reason string) {
	defer s.notify()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	rec := s.man.Policies[n.name]
	if rec == nil || rec.Deleted {
		return
	}
	r := rec.clone()
	var m *Module
	switch stage {
	case "canary":
		if r.Candidate == nil || !a.is(r.Candidate.Version.ID, r.Candidate.Activation) {
			return // judged after it changed
		}
		r.Candidate = nil
	default:
		if !a.is(r.Active, r.Activation) || r.Previous == "" {
			return
		}
		v, err := r.find(r.Previous)
		if err != nil {
			return
		}
		vc := *v
		if m, err = s.loadVersion(context.Background(), n.name, &vc); err != nil {
			s.logger.LogAttrs(context.Background(), slog.LevelError, "policy_rollback_failed",
				slog.String("policy", n.name), slog.String("version", a.id), slog.String("reason", reason),
				slog.String("error", err.Error()))
			a.watchUntil.Store(0) // not again at every tick
			return
		}
		r.Previous, r.Active = r.Active, v.ID
		r.Swapped = time.Time{} // a rollback is not watched: no ping-pong
	}
	r.LastRollback = &Rollback{Version: a.id, Stage: stage, Kind: rollbackKinds[kind], Reason: reason, At: s.now().UTC()}
	r.next()
	if stage != "canary" {
		r.Activation = r.Seq
	}
	if err := s.install(n, r, m, nil, true); err != nil {
		if m != nil {
			_ = m.Close(context.Background()) // not activated
		}
		s.logger.LogAttrs(context.Background(), slog.LevelError, "policy_rollback_failed",
			slog.String("policy", n.name), slog.String("version", a.id), slog.String("reason", reason),
			slog.String("error", err.Error()))
		return
	}
	s.rolledBack(n, r.LastRollback)
}

// rolledBack counts and logs a rollback that took effect on this node.
func (s *Store) rolledBack(n *named, rb *Rollback) {
	for i, k := range rollbackKinds {
		if k == rb.Kind {
			n.rollbacks[i].Add(1)
		}
	}
	s.logger.LogAttrs(context.Background(), slog.LevelWarn, "policy_rolled_back",
		slog.String("policy", n.name), slog.String("version", rb.Version), slog.String("stage", rb.Stage),
		slog.String("kind", rb.Kind), slog.String("reason", rb.Reason))
}

// loadUpload loads and dry-runs an uploaded module as a version of name
// (outside the lock: compiling takes up to a second). The caller closes
// the module.
func (s *Store) loadUpload(ctx context.Context, name string, u *Upload) (*Module, Config, versionRecord, error) {
	wasm, config := u.Module, u.Config
	var vs []Vector
	if u.Vectors != nil {
		var err error
		if vs, err = ParseVectors("vectors", u.Vectors); err != nil {
			return nil, Config{}, versionRecord{}, err
		}
	}
	s.mu.Lock()
	closed := s.closed
	cfg := s.limitsFor(name)
	s.mu.Unlock()
	if closed {
		return nil, cfg, versionRecord{}, errRuntimeClosed
	}
	cfg.Module = ""
	if config != nil {
		cfg.Config = config
	}
	m, err := s.rt.LoadBytes(ctx, name, wasm, &cfg)
	if err != nil {
		return nil, cfg, versionRecord{}, err
	}
	if err := dryRun(m, dryRunCases(dryRunRequests)); err != nil {
		_ = m.Close(ctx) // never used
		return nil, cfg, versionRecord{}, &LoadError{Policy: name, Err: err}
	}
	if err := checkVectors(m, vs); err != nil {
		_ = m.Close(ctx) // refused
		return nil, cfg, versionRecord{}, &LoadError{Policy: name, Err: err}
	}
	configJSON, _ := cfg.initJSON() // LoadBytes checked it
	id, sha := versionID(wasm, configJSON)
	v := versionRecord{ID: id, ModuleSHA256: sha, Size: len(wasm), Config: cfg.Config, Source: "upload", Created: s.now().UTC()}
	return m, cfg, v, nil
}

// uploadStillValid checks, under mu, that the store is open and name's
// limits are those the upload was loaded with.
func (s *Store) uploadStillValid(name string, cfg *Config) error {
	if s.closed {
		return errRuntimeClosed
	}
	if now := s.limitsFor(name); now.MaxMemory != cfg.MaxMemory || now.Fuel != cfg.Fuel || now.MaxModuleSize != cfg.MaxModuleSize || now.MemoizeKey != cfg.MemoizeKey || now.CallTimeout != cfg.CallTimeout {
		return fmt.Errorf("%w: policy %q: its limits changed during the upload; upload again", ErrConflict, name)
	}
	return nil
}

// CandidateInfo describes a staged version in [Info].
type CandidateInfo struct {
	Candidate
	// Calls and Failures count the key and decide calls of the candidate
	// on this node (a canary's) and those that failed; KeyCalls and
	// Fallbacks its key calls and the failed ones.
	Calls     uint64 `json:"calls"`
	Failures  uint64 `json:"failures"`
	KeyCalls  uint64 `json:"key_calls"`
	Fallbacks uint64 `json:"fallbacks"`
}

// RolloutCounts are a policy's rollout counters on this node since the
// process started.
type RolloutCounts struct {
	ShadowCalls         uint64 `json:"shadow_calls"`
	ShadowKeyDiffs      uint64 `json:"shadow_key_diffs"`
	ShadowDecisionDiffs uint64 `json:"shadow_decision_diffs"`
	ShadowErrors        uint64 `json:"shadow_errors"`
	ShadowDropped       uint64 `json:"shadow_dropped"`
	// Rollbacks counts the automatic rollbacks applied here, by kind
	// ("failure_rate", "fallback_rate").
	Rollbacks map[string]uint64 `json:"rollbacks"`
}

// rolloutInfo fills in's rollout fields. The caller holds mu.
func (s *Store) rolloutInfo(n *named, rec *policyRecord, in *Info) {
	sc := &n.shadowStats
	in.Rollout = RolloutCounts{
		ShadowCalls: sc.calls.Load(), ShadowKeyDiffs: sc.keyDiffs.Load(), ShadowDecisionDiffs: sc.decisionDiffs.Load(),
		ShadowErrors: sc.errors.Load(), ShadowDropped: sc.dropped.Load(), Rollbacks: map[string]uint64{},
	}
	for i, k := range rollbackKinds {
		in.Rollout.Rollbacks[k] = n.rollbacks[i].Load()
	}
	if rec == nil {
		return
	}
	in.Seq = rec.seq()
	in.LastRollback = rec.LastRollback
	if a := n.active.Load(); a != nil {
		if until := a.watchUntil.Load(); until != 0 && s.now().UnixNano() < until {
			t := time.Unix(0, until).UTC()
			in.WatchedUntil = &t
		}
	}
	if rec.Candidate != nil {
		ci := &CandidateInfo{Candidate: *rec.Candidate}
		if c := n.cand.Load(); c != nil {
			ci.Calls, ci.Failures, ci.KeyCalls, ci.Fallbacks = c.a.rates()
		}
		in.Candidate = ci
	}
}

// ErrVectorsFailed: a version's golden vectors do not pass. A
// [*VectorsFailedError] wraps it with each failing case [422].
var ErrVectorsFailed = errors.New("golden vectors failed")

// VectorsFailedError lists the vectors a version failed.
type VectorsFailedError struct {
	// Failed are the results that did not pass; Total counts every vector.
	Failed []VectorResult
	Total  int
}

// Error implements error: how many failed, then each failing case with its
// diff.
func (e *VectorsFailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %d of %d cases", ErrVectorsFailed, len(e.Failed), e.Total)
	for i := range e.Failed {
		b.WriteString("\n  ")
		b.WriteString(strings.ReplaceAll(e.Failed[i].String(), "\n", "\n  "))
	}
	return b.String()
}

// Unwrap returns ErrVectorsFailed.
func (e *VectorsFailedError) Unwrap() error { return ErrVectorsFailed }

// checkVectors runs vs on m; any failure is a *VectorsFailedError.
func checkVectors(m *Module, vs []Vector) error {
	if len(vs) == 0 {
		return nil
	}
	rs := RunVectors(m, vs)
	if VectorsFailed(rs) == 0 {
		return nil
	}
	e := &VectorsFailedError{Total: len(rs)}
	for i := range rs {
		if !rs[i].Passed() {
			e.Failed = append(e.Failed, rs[i])
		}
	}
	return e
}
