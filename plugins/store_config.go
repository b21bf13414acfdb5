package plugins

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Change is a configuration of the store's policies prepared by
// [Store.Prepare]: every module it activates is loaded and checked. Commit
// applies it, Abort drops it; one of them must be called. The store accepts
// no other change in between.
type Change struct {
	s        *Store
	policies map[string]Config
	pending  []pending
	// configIDs are the version ids of the configured modules as Prepare
	// read them, by policy name.
	configIDs map[string]string
	done      bool
}

// pending is one module to swap in at Commit.
type pending struct {
	name string
	m    *Module
	v    versionRecord
	wasm []byte // the config file's bytes; nil for a stored version
	// fresh activates v anew (a new key namespace); otherwise the stored
	// active version is (re)loaded under its current activation number.
	fresh bool
}

// Prepare loads what policies (the `[policies.NAME]` sections, validated)
// need, following the precedence rule of [Store]: for each name, the
// section's module when it is new or changed, else the store's active
// version (loaded with the section's limits at startup, or again when the
// limits changed). Policies the store holds without a section are loaded at
// startup with the default limits. The modules are compiled in parallel
// (see loadAll). Errors are [*LoadError]s naming the policy and its module
// file, joined when several modules fail; nothing changes then.
func (s *Store) Prepare(ctx context.Context, policies map[string]Config) (_ *Change, err error) {
	s.mu.Lock()
	c := &Change{s: s, policies: policies, configIDs: make(map[string]string, len(policies))}
	defer func() {
		if err != nil {
			c.Abort()
		}
	}()
	if s.closed {
		return nil, errRuntimeClosed
	}
	tab := *s.table.Load()
	var jobs []loadJob
	for _, name := range slices.Sorted(maps.Keys(policies)) {
		cfg := policies[name]
		j, err := c.prepareConfigured(name, &cfg, tab[name])
		if err != nil {
			return nil, err
		}
		if j != nil {
			jobs = append(jobs, *j)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.man.Policies)) {
		rec := s.man.Policies[name]
		if _, ok := policies[name]; ok || rec.Active == "" {
			continue
		}
		if n := tab[name]; n != nil && n.active.Load() != nil {
			continue // loaded already; keeps its limits
		}
		v, ok := rec.version(rec.Active)
		if !ok {
			return nil, &LoadError{Policy: name, Err: errors.New("manifest: active version not listed")}
		}
		jobs = append(jobs, loadJob{pending: pending{name: name, v: *v}, load: func(ctx context.Context) (*Module, error) {
			return s.loadWith(ctx, name, v, DefaultConfig())
		}})
	}
	if err := c.loadAll(ctx, jobs); err != nil {
		return nil, err
	}
	return c, nil
}

// loadJob is a module Prepare loads: load compiles and checks it; pending
// is what Commit swaps in, m set once loaded.
type loadJob struct {
	pending
	load func(context.Context) (*Module, error)
}

// loadAll runs the jobs' loads in parallel, at most GOMAXPROCS at once
// (compiling is CPU-bound: more would only share the processors), and
// appends the loaded modules to c.pending in the jobs' order. Every load
// runs to its end: the error joins the [*LoadError] of each one that failed,
// so that an operator sees every broken module at once. The modules loaded
// are then in c.pending, closed by Abort.
func (c *Change) loadAll(ctx context.Context, jobs []loadJob) error {
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, max(1, min(runtime.GOMAXPROCS(0), len(jobs))))
	var wg sync.WaitGroup
	for i := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			jobs[i].m, errs[i] = jobs[i].load(ctx)
		})
	}
	wg.Wait()
	var failed []error
	for i := range jobs {
		if jobs[i].m != nil {
			c.pending = append(c.pending, jobs[i].pending)
		}
		if errs[i] != nil {
			failed = append(failed, errs[i])
		}
	}
	if len(failed) == 1 {
		return failed[0] // the *LoadError itself
	}
	return errors.Join(failed...)
}

// prepareConfigured decides what policy name, configured as cfg and
// running as n (nil if not), needs: nothing (nil), or a module to load.
func (c *Change) prepareConfigured(name string, cfg *Config, n *named) (*loadJob, error) {
	s := c.s
	wasm, err := readModule(cfg.Module, int64(cfg.MaxModuleSize))
	if err != nil {
		return nil, &LoadError{Policy: name, Module: cfg.Module, Err: err}
	}
	configJSON, err := cfg.initJSON()
	if err != nil {
		return nil, &LoadError{Policy: name, Module: cfg.Module, Err: errors.Join(ErrConfig, err)}
	}
	id, sha := versionID(wasm, configJSON)
	c.configIDs[name] = id
	rec := s.man.Policies[name]
	var cur *Active
	if n != nil {
		cur = n.active.Load()
	}
	limitsChanged := n == nil || !n.inConfig || !sameLimits(&n.limits, cfg)
	if rec != nil && rec.Deleted && rec.ConfigVersion == id {
		// Deleted since the store last saw this module: the delete is the
		// newest change (a changed module is a newer one).
		return nil, nil
	}
	if rec == nil || rec.Active == "" || (rec.ConfigVersion != id && rec.Active != id) {
		// New or changed in the config file: the newest change wins.
		v := versionRecord{ID: id, ModuleSHA256: sha, Size: len(wasm), Config: cfg.Config, Source: "config", Created: time.Now().UTC()}
		return &loadJob{pending: pending{name: name, v: v, wasm: wasm, fresh: true}, load: func(ctx context.Context) (*Module, error) {
			m, err := s.rt.LoadBytes(ctx, name, wasm, cfg)
			if err != nil {
				return nil, withModule(err, cfg.Module)
			}
			if err := dryRun(m, dryRunCases(dryRunRequests)); err != nil {
				_ = m.Close(ctx) // refused
				return nil, &LoadError{Policy: name, Module: cfg.Module, Err: err}
			}
			return m, nil
		}}, nil
	}
	if cur != nil && cur.id == rec.Active && !limitsChanged {
		return nil, nil // running as configured
	}
	v, ok := rec.version(rec.Active)
	if !ok {
		return nil, &LoadError{Policy: name, Module: cfg.Module, Err: errors.New("manifest: active version not listed")}
	}
	return &loadJob{pending: pending{name: name, v: *v}, load: func(ctx context.Context) (*Module, error) {
		return s.loadWith(ctx, name, v, *cfg)
	}}, nil
}

// loadWith loads stored version v of name with the limits of cfg. The
// caller holds mu.
func (s *Store) loadWith(ctx context.Context, name string, v *versionRecord, cfg Config) (*Module, error) {
	wasm, err := s.getBlob(v.ModuleSHA256)
	if err != nil {
		return nil, &LoadError{Policy: name, Err: errors.Join(ErrConfig, err)}
	}
	cfg.Module = ""
	cfg.Config = v.Config
	return s.rt.LoadBytes(ctx, name, wasm, &cfg)
}

func withModule(err error, module string) error {
	var le *LoadError
	if errors.As(err, &le) && le.Module == "" {
		c := *le
		c.Module = module
		return &c
	}
	return err
}

func sameLimits(a, b *Config) bool {
	return a.Module == b.Module && a.MaxMemory == b.MaxMemory && a.Fuel == b.Fuel &&
		a.MaxModuleSize == b.MaxModuleSize && a.MemoizeKey == b.MemoizeKey && a.CallTimeout == b.CallTimeout &&
		reflect.DeepEqual(a.Config, b.Config)
}

// Commit activates what Prepare loaded and records the new limits. An
// error (writing the manifest) leaves the policies not yet swapped as they
// were.
func (c *Change) Commit() error {
	if c.done {
		return errors.New("plugins: change already committed or aborted")
	}
	s := c.s
	defer s.notify() // after finish unlocks
	defer c.finish()
	for name, cfg := range c.policies {
		n := s.ensure(name)
		n.limits, n.inConfig = cfg, true
	}
	for _, n := range *s.table.Load() {
		if _, ok := c.policies[n.name]; !ok && n.inConfig {
			n.limits, n.inConfig = DefaultConfig(), false
		}
	}
	for i := range c.pending {
		p := &c.pending[i]
		n := s.ensure(p.name)
		if p.fresh {
			if _, err := s.activate(p.name, p.m, &p.v, p.wasm, n, false); err != nil {
				return err // finish closes this and the remaining modules
			}
			p.m = nil
			continue
		}
		rec := s.man.Policies[p.name]
		a := newActive(n, p.m, p.v.ID, rec.Activation)
		p.m = nil
		if prev := n.active.Swap(a); prev != nil {
			prev.retire()
		}
	}
	// A config module identical to the active upload: remember it, so that
	// it is not taken for a change next time.
	var errs []error
	for name, id := range c.configIDs {
		rec := s.man.Policies[name]
		if rec == nil {
			continue
		}
		if rec.ConfigVersion != id && rec.Active == id {
			r := *rec
			r.ConfigVersion = id
			errs = append(errs, s.saveWith(name, &r))
		}
	}
	return errors.Join(errs...)
}

// Abort closes what Prepare loaded.
func (c *Change) Abort() {
	if c.done {
		return
	}
	c.finish()
}

func (c *Change) finish() {
	c.done = true
	for _, p := range c.pending {
		if p.m != nil {
			_ = p.m.Close(context.Background()) // never served
		}
	}
	c.s.mu.Unlock()
}
