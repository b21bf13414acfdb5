package plugins

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowcache/flowcache/policy"
)

// Store errors, beside the [*LoadError]s of uploads.
var (
	// ErrNotFound: no such policy, or no such version of it.
	ErrNotFound = errors.New("not found")
	// ErrNoPrevious: a rollback without a version, and no version was
	// active before the current one.
	ErrNoPrevious = errors.New("no previous version")
	// ErrDryRun: the uploaded module loaded, but its key or decide call
	// failed on the sample request (trap, fuel exhausted, exit, malformed
	// result). A [*LoadError] wraps it with the call's error [422].
	ErrDryRun = errors.New("dry run failed")
	// ErrConflict: a concurrent change (a reload changing the policy's
	// limits) made the request moot; it can be retried.
	ErrConflict = errors.New("conflict")
)

// maxHistory bounds the versions kept per policy; the oldest inactive
// ones are forgotten (and their module files removed) beyond it.
const maxHistory = 32

// StoreOptions configures a [Store].
type StoreOptions struct {
	// Dir holds the module bytes and the manifest (a data directory's
	// "policies" subdirectory). Empty keeps versions in memory only.
	Dir string
	// Logger receives activations; nil discards.
	Logger *slog.Logger
	// OnChange, when set, is called after each local activation (upload,
	// rollback, a new config module) is committed, outside the store's
	// lock, in order: a node publishes it for the others, which Apply it.
	OnChange func(Event)
	// Rollout holds the thresholds of automatic rollbacks and the size of
	// the shadow queue; zero values take the defaults of
	// [DefaultRolloutConfig].
	Rollout RolloutConfig
}

// Store holds the versions of every named policy and the one active per
// name. It implements the gateway's PolicySource: [Store.Policy] returns the
// active version as an [*Active] lease, without allocating. Changes (Put,
// Rollback, Delete, Prepare/Commit) are serialised; lookups never wait for
// them.
//
// # Versions and precedence
//
// A version is a module and the JSON config given to its flowcache_init.
// Its id is the hex sha256 of the module bytes when that config is empty
// (the id is then what sha256sum prints), else of the module bytes, a NUL
// byte and the config's JSON. The limits (max_memory, fuel,
// max_module_size) are not part of a version: they are the operator's, from
// the `[policies.NAME]` section, or the defaults for a name that has none.
//
// At startup and on reload ([Store.Prepare]) the module of a
// `[policies.NAME]` section is a version like an uploaded one. The newest
// change wins: the section's module (with its config) is activated when the
// store has no active version for NAME, or when the file (or its config)
// changed since the store last saw it; otherwise the version active in the
// store stays active (an upload outlives a restart).
//
// # Activations and the cache key
//
// Every activation (upload, rollback, a changed config module) gets a new
// number, and [Active.Namespace] ("<id[:12]>.<number>") is part of the cache
// key of every entry stored under it: entries stored under another
// activation are never served, not even after a rollback to the version that
// stored them (a PURGE made meanwhile did not reach them). The number is
// persisted, so a restart keeps the namespace and the cache.
//
// # Draining
//
// The store holds one reference to each active [Active]; every lookup takes
// another, which the caller drops with [Active.Release]. Activating a new
// version swaps the pointer, marks the old one retired and drops the store's
// reference: the old module is closed when the last request using it
// releases it, never before.
type Store struct {
	rt     *Runtime
	dir    string
	logger *slog.Logger

	table atomic.Pointer[map[string]*named] // copy on write, under mu

	mu     sync.Mutex
	man    manifest          // guarded by mu
	blobs  map[string][]byte // module bytes by sha256 when dir is ""; guarded by mu
	closed bool              // guarded by mu

	onChange func(Event)
	pending  []Event // local activations not yet given to onChange; guarded by mu
	notifyMu sync.Mutex

	rollout atomic.Pointer[RolloutConfig]
	now     func() time.Time
	stop    chan struct{} // closed by Close: stops the rollout monitor
	stopped chan struct{}
}

// named is one policy name: its active version and, under Store.mu, its
// limits.
type named struct {
	name   string
	active atomic.Pointer[Active]
	calls  atomic.Uint64
	errs   atomic.Uint64

	// cand is the version staged beside the active one (shadow or
	// canary), nil if none; shadow is its runner in shadow mode.
	cand   atomic.Pointer[candidate]
	shadow atomic.Pointer[shadowRunner]
	// Counters since the process started (never reset by a swap).
	shadowStats shadowCounters
	rollbacks   [numRollbackReasons]atomic.Uint64

	limits   Config // guarded by Store.mu; Module and Config from [policies.NAME]
	inConfig bool   // guarded by Store.mu
}

type manifest struct {
	Format   int                      `json:"format"`
	Policies map[string]*policyRecord `json:"policies"`
}

type policyRecord struct {
	Active     string `json:"active"`
	Previous   string `json:"previous,omitempty"`
	Activation uint64 `json:"activation"`
	// Seq orders the changes of the policy (activations, rollout steps,
	// a delete) between nodes; 0 in a manifest written before it existed
	// means Activation. New activation numbers are taken from it.
	Seq uint64 `json:"seq,omitempty"`
	// Candidate is the version staged beside the active one.
	Candidate *Candidate `json:"candidate,omitempty"`
	// Swapped is when Active was activated by an upload or a promotion:
	// the start of its watch window (zero: not watched).
	Swapped time.Time `json:"swapped,omitzero"`
	// LastRollback is the last automatic rollback.
	LastRollback *Rollback `json:"last_rollback,omitempty"`
	// Deleted marks a tombstone: the policy was deleted, and no node may
	// bring it back with an older state.
	Deleted bool `json:"deleted,omitempty"`
	// ConfigVersion is the id of the [policies.NAME] module (with its
	// config) when the store last saw it.
	ConfigVersion string          `json:"config_version,omitempty"`
	Versions      []versionRecord `json:"versions"` // oldest first
}

type versionRecord struct {
	ID           string         `json:"id"`
	ModuleSHA256 string         `json:"module_sha256"`
	Size         int            `json:"size"`
	Config       map[string]any `json:"config,omitempty"`
	Source       string         `json:"source"` // "upload" or "config"
	Created      time.Time      `json:"created"`
	// VectorsSHA256 and VectorsSize name the golden vectors uploaded with
	// the version (stored beside the modules), if any.
	VectorsSHA256 string `json:"vectors_sha256,omitempty"`
	VectorsSize   int    `json:"vectors_size,omitempty"`
}

func (r *policyRecord) version(id string) (*versionRecord, bool) {
	for i := range r.Versions {
		if r.Versions[i].ID == id {
			return &r.Versions[i], true
		}
	}
	return nil, false
}

// find resolves a full id or a unique prefix of at least 6 characters.
func (r *policyRecord) find(id string) (*versionRecord, error) {
	var found *versionRecord
	for i := range r.Versions {
		v := &r.Versions[i]
		if v.ID == id {
			return v, nil
		}
		if len(id) >= 6 && strings.HasPrefix(v.ID, id) {
			if found != nil {
				return nil, fmt.Errorf("%w: version prefix %q is ambiguous", ErrNotFound, id)
			}
			found = v
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w: version %q", ErrNotFound, id)
	}
	return found, nil
}

// OpenStore returns a store backed by opts.Dir (created if missing), with
// the manifest found there. No module is loaded until [Store.Prepare].
func OpenStore(rt *Runtime, opts StoreOptions) (*Store, error) {
	s := &Store{rt: rt, dir: opts.Dir, logger: opts.Logger, blobs: map[string][]byte{}, onChange: opts.OnChange, now: time.Now}
	if err := s.SetRollout(opts.Rollout); err != nil {
		return nil, err
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	s.logger = s.logger.With(slog.String("component", "policies"))
	s.man = manifest{Format: 1, Policies: map[string]*policyRecord{}}
	empty := map[string]*named{}
	s.table.Store(&empty)
	s.stop, s.stopped = make(chan struct{}), make(chan struct{})
	if s.dir == "" {
		go s.monitor()
		return s, nil
	}
	if err := s.readManifest(); err != nil {
		return nil, err
	}
	go s.monitor()
	return s, nil
}

// readManifest reads the manifest of s.dir, if there is one.
func (s *Store) readManifest() error {
	if err := os.MkdirAll(filepath.Join(s.dir, "modules"), 0o700); err != nil {
		return fmt.Errorf("plugins: store: %w", err)
	}
	b, err := os.ReadFile(s.manifestPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("plugins: store: %w", err)
	}
	if err := json.Unmarshal(b, &s.man); err != nil {
		return fmt.Errorf("plugins: store: %s: %w", s.manifestPath(), err)
	}
	if s.man.Format != 1 {
		return fmt.Errorf("plugins: store: %s: unknown format %d", s.manifestPath(), s.man.Format)
	}
	if s.man.Policies == nil {
		s.man.Policies = map[string]*policyRecord{}
	}
	return nil
}

func (s *Store) manifestPath() string { return filepath.Join(s.dir, "manifest.json") }

func (s *Store) modulePath(sha string) string {
	return filepath.Join(s.dir, "modules", sha+".wasm")
}

// Policy returns a lease on the active version of name, or false. The
// caller must call [Active.Release] once done with it (the gateway does so
// when the request and any background refresh it started are finished). It
// does not allocate.
func (s *Store) Policy(name string) (policy.Policy, bool) {
	a := s.acquire(name)
	if a == nil {
		return nil, false
	}
	return a, true
}

func (s *Store) acquire(name string) *Active {
	n := (*s.table.Load())[name]
	if n == nil {
		return nil
	}
	return acquireNamed(n)
}

// acquireNamed returns a lease on n's active version, or nil.
func acquireNamed(n *named) *Active {
	for {
		a := n.active.Load()
		if a == nil {
			return nil
		}
		a.refs.Add(1)
		// retired is set before the store drops its reference: if it reads
		// false here, our reference was counted before that drop, so the
		// module cannot be closed under us. If it reads true, the pointer
		// has moved on: drop ours and read it again.
		if !a.retired.Load() {
			return a
		}
		a.Release()
	}
}

// Active is a lease on one activation of a policy version. It implements
// [policy.Policy] by calling its Module. It is safe for concurrent use; a
// lease must not be used after its Release.
type Active struct {
	mod        *Module
	n          *named
	id         string
	activation uint64
	ns         []byte
	label      []byte

	// Calls and failures of this activation, for automatic rollbacks.
	keyCalls, keyErrs, decideCalls, decideErrs atomic.Uint64
	// watchUntil is the end of the watch window (unix nanoseconds), 0 if
	// not watched.
	watchUntil atomic.Int64

	refs    atomic.Int64
	retired atomic.Bool
	closed  atomic.Bool
}

func newActive(n *named, m *Module, id string, activation uint64) *Active {
	m.setVersion(id[:12]) // before the module serves: the swap publishes it
	a := &Active{
		mod:        m,
		n:          n,
		id:         id,
		activation: activation,
		ns:         []byte(id[:12] + "." + strconv.FormatUint(activation, 10)),
		label:      []byte(n.name + "@" + id[:12]),
	}
	a.refs.Store(1) // the store's
	return a
}

// Key implements [policy.Policy].
func (a *Active) Key(r *policy.Request, k *policy.Key) error {
	a.n.calls.Add(1)
	a.keyCalls.Add(1)
	err := a.mod.Key(r, k)
	if err != nil {
		a.n.errs.Add(1)
		a.keyErrs.Add(1)
	}
	if sh := a.n.shadow.Load(); sh != nil {
		sh.offerKey(r, k, err)
	}
	return err
}

// Decide implements [policy.Policy].
func (a *Active) Decide(r *policy.Request, resp *policy.Response, d *policy.Decision) error {
	a.n.calls.Add(1)
	a.decideCalls.Add(1)
	sh := a.n.shadow.Load()
	if sh == nil || !sh.sampled() {
		err := a.mod.Decide(r, resp, d)
		if err != nil {
			a.n.errs.Add(1)
			a.decideErrs.Add(1)
		}
		return err
	}
	in := *d // the default decision the shadow is given too
	err := a.mod.Decide(r, resp, d)
	if err != nil {
		a.n.errs.Add(1)
		a.decideErrs.Add(1)
	}
	sh.offerDecide(r, resp, &in, d, err)
	return err
}

// Namespace returns the bytes that separate this activation's cache entries
// from every other's ("<id[:12]>.<activation>"). The caller must not modify
// them.
func (a *Active) Namespace() []byte { return a.ns }

// Label returns "name@<id[:12]>", for the Flowcache-Policy response header.
// The caller must not modify it.
func (a *Active) Label() []byte { return a.label }

// Version returns the version id.
func (a *Active) Version() string { return a.id }

// Retain takes one more reference, for a holder that outlives the one it
// got the lease from (a background refresh). The caller must hold a
// reference already.
func (a *Active) Retain() { a.refs.Add(1) }

// Release drops one reference; the last one closes the module of a retired
// version.
func (a *Active) Release() {
	if a.refs.Add(-1) == 0 && a.retired.Load() && a.closed.CompareAndSwap(false, true) {
		go func() {
			_ = a.mod.Close(context.Background()) // nothing uses it any more; Close only fails on wazero's own cleanup
		}()
	}
}

// retire marks a as replaced and drops the store's reference.
func (a *Active) retire() {
	a.retired.Store(true)
	a.Release()
}

// Drained reports whether a was retired and its module closed (tests).
func (a *Active) drained() bool { return a.closed.Load() }

// Result is the outcome of [Store.Put] and [Store.Rollback].
type Result struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Previous string `json:"previous"`
	// Changed is false when the version was already active (nothing done).
	Changed bool `json:"-"`
}

// VersionInfo describes one stored version.
type VersionInfo struct {
	// ID is the version id; ModuleSHA256 the sha256 of its module bytes.
	ID           string `json:"id"`
	ModuleSHA256 string `json:"module_sha256"`
	// Size is the module's size in bytes.
	Size int `json:"size"`
	// Config is the JSON object given to flowcache_init.
	Config map[string]any `json:"config,omitempty"`
	// Source is "upload", or "config" for a [policies.NAME] module.
	Source  string    `json:"source"`
	Created time.Time `json:"created"`
	// VectorsSHA256 and VectorsSize name the golden vectors uploaded with
	// the version, if any: every node runs them before activating it.
	VectorsSHA256 string `json:"vectors_sha256,omitempty"`
	VectorsSize   int    `json:"vectors_size,omitempty"`
}

// Info describes one policy name.
type Info struct {
	Name       string `json:"name"`
	Active     string `json:"active"`
	Previous   string `json:"previous,omitempty"`
	Activation uint64 `json:"activation"`
	// Configured reports a [policies.NAME] section; Module is its path.
	Configured bool          `json:"configured"`
	Module     string        `json:"module,omitempty"`
	Versions   []VersionInfo `json:"versions"`
	// Calls and Errors count key and decide calls of every version since
	// the process started; an error means the request used the fallback.
	Calls  uint64 `json:"calls"`
	Errors uint64 `json:"errors"`
	// Stats are the active module's counters.
	Stats InfoStats `json:"stats"`
	// Engine is how the active module runs: "compiler", or "interpreter"
	// while a tiered load compiles it ([Module.Engine]); empty when none
	// is active.
	Engine string `json:"engine,omitempty"`
	// LastError is the error of the active version's last failed call
	// (trap, fuel exhausted, wall-clock backstop, ...), at LastErrorAt;
	// empty if none failed.
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	// Seq is the number of the policy's last change, shared by the nodes.
	Seq uint64 `json:"seq"`
	// Candidate is the version staged beside the active one (shadow or
	// canary), nil if none.
	Candidate *CandidateInfo `json:"candidate,omitempty"`
	// LastRollback is the last automatic rollback, with its reason.
	LastRollback *Rollback `json:"last_rollback,omitempty"`
	// WatchedUntil is the end of the active version's watch window.
	WatchedUntil *time.Time `json:"watched_until,omitempty"`
	// Rollout counts shadow calls and differences and rollbacks.
	Rollout RolloutCounts `json:"rollout"`
}

// InfoStats is [Stats] with JSON names.
type InfoStats struct {
	Traps              uint64 `json:"traps"`
	FuelExhausted      uint64 `json:"fuel_exhausted"`
	Backstops          uint64 `json:"backstops"`
	Exits              uint64 `json:"exits"`
	BadResults         uint64 `json:"bad_results"`
	GuestErrors        uint64 `json:"guest_errors"`
	InstantiateErrors  uint64 `json:"instantiate_errors"`
	InstancesCreated   uint64 `json:"instances_created"`
	InstancesDiscarded uint64 `json:"instances_discarded"`
	InstancesDropped   uint64 `json:"instances_dropped"`
	MemoHits           uint64 `json:"memo_hits"`
	MemoMisses         uint64 `json:"memo_misses"`
}

// List describes every policy, sorted by name.
func (s *Store) List() []Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	tab := *s.table.Load()
	out := make([]Info, 0, len(tab))
	for _, name := range slices.Sorted(maps.Keys(tab)) {
		out = append(out, s.info(tab[name]))
	}
	return out
}

// Get describes one policy.
func (s *Store) Get(name string) (Info, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := (*s.table.Load())[name]
	if n == nil {
		return Info{}, false
	}
	return s.info(n), true
}

// info: the caller holds mu.
func (s *Store) info(n *named) Info {
	in := Info{Name: n.name, Configured: n.inConfig, Calls: n.calls.Load(), Errors: n.errs.Load(), Versions: []VersionInfo{}}
	if n.inConfig {
		in.Module = n.limits.Module
	}
	if rec := s.man.Policies[n.name]; rec != nil {
		in.Active, in.Previous, in.Activation = rec.Active, rec.Previous, rec.Activation
		for _, v := range rec.Versions {
			in.Versions = append(in.Versions, VersionInfo(v))
		}
	}
	if a := n.active.Load(); a != nil {
		// A conversion: a field added to Stats breaks the build here, so
		// that InfoStats follows it.
		in.Stats = InfoStats(a.mod.Stats())
		in.Engine = a.mod.Engine()
		if err, at := a.mod.LastFailure(); err != nil {
			in.LastError, in.LastErrorAt = err.Error(), &at
		}
	}
	s.rolloutInfo(n, s.man.Policies[n.name], &in)
	return in
}

// versionID is the id of module bytes with their config JSON (see Store).
func versionID(wasm, configJSON []byte) (id, moduleSHA string) {
	sum := sha256.Sum256(wasm)
	moduleSHA = hex.EncodeToString(sum[:])
	if len(configJSON) == 0 || string(configJSON) == "{}" {
		return moduleSHA, moduleSHA
	}
	h := sha256.New()
	h.Write(wasm)
	h.Write([]byte{0})
	h.Write(configJSON)
	return hex.EncodeToString(h.Sum(nil)), moduleSHA
}

// limitsFor returns the limits (and default config) of name: its
// [policies.NAME] section, or the defaults. The caller holds mu.
func (s *Store) limitsFor(name string) Config {
	if n := (*s.table.Load())[name]; n != nil && n.inConfig {
		return n.limits
	}
	return DefaultConfig()
}

// Put validates, loads and dry-runs wasm as a new version of name and
// activates it. config is the JSON object given to flowcache_init; nil means
// the config of the [policies.NAME] section (none if there is none). Errors
// are [*LoadError]s (wrapping ErrTooLarge, ErrMalformed, ..., ErrDryRun),
// or a storage error; a failed Put changes nothing.
func (s *Store) Put(ctx context.Context, name string, wasm []byte, config map[string]any) (Result, error) {
	return s.Upload(ctx, name, Upload{Module: wasm, Config: config})
}

// Upload is a new version of a policy: its module, its config, its golden
// vectors and how it is rolled out.
type Upload struct {
	// Module is the .wasm bytes; Config the JSON object given to
	// flowcache_init (nil: the [policies.NAME] section's).
	Module []byte
	Config map[string]any
	// Vectors is the JSON array of golden vectors (see [ParseVectors]),
	// nil for none. The upload is refused with a [*VectorsFailedError]
	// unless every vector passes; they are stored with the version, and
	// every node that receives the version runs them before activating it.
	Vectors []byte
	// Mode, when not empty, stages the version (shadow or canary) with
	// Share instead of activating it (see [Store.Stage]).
	Mode  Mode
	Share Share
}

// Upload validates, loads, dry-runs and checks u against its vectors as a
// new version of name, then activates it, or stages it when u.Mode is set.
// A failed Upload changes nothing.
func (s *Store) Upload(ctx context.Context, name string, u Upload) (Result, error) {
	if u.Mode != "" {
		return s.stage(ctx, name, u)
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
	if rec := s.man.Policies[name]; rec != nil && rec.Active == v.ID && rec.Candidate == nil {
		_ = m.Close(ctx) // the same version is already active
		return Result{Name: name, Version: v.ID, Previous: rec.Previous}, nil
	}
	if err := s.putVectors(&v, u.Vectors); err != nil {
		_ = m.Close(ctx) // not activated
		return Result{}, err
	}
	res, err := s.activate(name, m, &v, u.Module, nil, true)
	if err != nil {
		_ = m.Close(ctx) // not activated
		return Result{}, err
	}
	return res, nil
}

// putVectors stores an upload's vectors, named by their sha256 in v. The
// caller holds mu.
func (s *Store) putVectors(v *versionRecord, vectors []byte) error {
	if len(vectors) == 0 {
		return nil
	}
	sum := sha256.Sum256(vectors)
	sha := hex.EncodeToString(sum[:])
	if err := s.putBlob(sha, vectors); err != nil {
		return err
	}
	v.VectorsSHA256, v.VectorsSize = sha, len(vectors)
	return nil
}

// activate records v (with its bytes wasm, nil if stored already) as the
// active version of name under a new activation number, saves the
// manifest and swaps m in: a local change, queued for
// StoreOptions.OnChange. A staged candidate is dropped (a direct
// activation ends a rollout). The caller holds mu and closes m on error. n
// is the named entry, nil to look it up or create it. watch starts the
// watch window of automatic rollbacks (an upload; not a rollback).
func (s *Store) activate(name string, m *Module, v *versionRecord, wasm []byte, n *named, watch bool) (Result, error) {
	if wasm != nil {
		if err := s.putBlob(v.ModuleSHA256, wasm); err != nil {
			return Result{}, err
		}
	}
	rec := s.man.Policies[name].clone()
	if _, ok := rec.version(v.ID); !ok {
		rec.Versions = append(rec.Versions, *v)
	}
	res := Result{Name: name, Version: v.ID, Previous: rec.Active, Changed: true}
	if rec.Active != v.ID {
		rec.Previous = rec.Active
	}
	rec.Active = v.ID
	rec.Activation = rec.next()
	rec.Candidate = nil
	rec.Deleted = false
	rec.Swapped = time.Time{}
	if watch {
		rec.Swapped = s.now().UTC()
	}
	if v.Source == "config" {
		// Only a local activation says what this node's config file holds:
		// another node's config version applied here must not, or this
		// node would take its own unchanged file for a change at its next
		// reload and roll every node back (TestStore_ApplyRollingConfig).
		rec.ConfigVersion = v.ID
	}
	if n == nil {
		n = s.ensure(name)
	}
	if err := s.install(n, rec, m, nil, true); err != nil {
		return Result{}, err
	}
	return res, nil
}

// clone returns a copy of r that can be changed without changing r; a nil
// r gives an empty record.
func (r *policyRecord) clone() *policyRecord {
	if r == nil {
		return &policyRecord{}
	}
	c := *r
	c.Versions = slices.Clone(r.Versions)
	if r.Candidate != nil {
		cc := *r.Candidate
		c.Candidate = &cc
	}
	return &c
}

// seq returns the number of the record's last change.
func (r *policyRecord) seq() uint64 { return max(r.Seq, r.Activation) }

// next takes the number of a new change: the record's Seq, and the
// activation number of a version activated or staged by it.
func (r *policyRecord) next() uint64 {
	r.Seq = r.seq() + 1
	return r.Seq
}

// prune drops the oldest versions beyond maxHistory, never the active,
// previous or candidate one, and returns the module hashes of the dropped
// ones.
func prune(rec *policyRecord) []string {
	var dropped []string
	for len(rec.Versions) > maxHistory {
		i := slices.IndexFunc(rec.Versions, func(v versionRecord) bool {
			return v.ID != rec.Active && v.ID != rec.Previous && (rec.Candidate == nil || v.ID != rec.Candidate.Version.ID)
		})
		if i < 0 {
			break
		}
		dropped = append(dropped, rec.Versions[i].ModuleSHA256)
		if vs := rec.Versions[i].VectorsSHA256; vs != "" {
			dropped = append(dropped, vs)
		}
		rec.Versions = slices.Delete(rec.Versions, i, i+1)
	}
	return dropped
}

// ensure returns the named entry of name, adding it to the table. The
// caller holds mu.
func (s *Store) ensure(name string) *named {
	tab := *s.table.Load()
	if n := tab[name]; n != nil {
		return n
	}
	n := &named{name: name, limits: DefaultConfig()}
	next := maps.Clone(tab)
	next[name] = n
	s.table.Store(&next)
	return n
}

// Rollback activates version (a full id or a unique prefix of at least 6
// characters) of name, or the previously active version when version is "".
func (s *Store) Rollback(ctx context.Context, name, version string) (Result, error) {
	defer s.notify()
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.man.Policies[name]
	if rec == nil || (*s.table.Load())[name] == nil {
		return Result{}, fmt.Errorf("%w: policy %q", ErrNotFound, name)
	}
	if version == "" {
		if rec.Previous == "" {
			return Result{}, fmt.Errorf("%w: policy %q", ErrNoPrevious, name)
		}
		version = rec.Previous
	}
	v, err := rec.find(version)
	if err != nil {
		return Result{}, err
	}
	if v.ID == rec.Active {
		return Result{Name: name, Version: v.ID, Previous: rec.Previous}, nil
	}
	vc := *v
	m, err := s.loadVersion(ctx, name, &vc)
	if err != nil {
		return Result{}, err
	}
	res, err := s.activate(name, m, &vc, nil, nil, false)
	if err != nil {
		_ = m.Close(ctx) // not activated
		return Result{}, err
	}
	return res, nil
}

// loadVersion loads a stored version with name's current limits. The
// caller holds mu.
func (s *Store) loadVersion(ctx context.Context, name string, v *versionRecord) (*Module, error) {
	wasm, err := s.getBlob(v.ModuleSHA256)
	if err != nil {
		return nil, fmt.Errorf("plugins: policy %q version %s: %w", name, v.ID, err)
	}
	cfg := s.limitsFor(name)
	cfg.Module = ""
	cfg.Config = v.Config
	return s.rt.LoadBytes(ctx, name, wasm, &cfg)
}

// Delete forgets name and every version of it, leaving a tombstone (a
// record marked deleted, with a new change number) that is shared like an
// activation: no node brings the policy back with an older state. Its
// modules are closed once the requests using them are done. The caller (the
// admin API) refuses it while a route uses name.
func (s *Store) Delete(_ context.Context, name string) error {
	defer s.notify()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := (*s.table.Load())[name]
	if n == nil {
		return fmt.Errorf("%w: policy %q", ErrNotFound, name)
	}
	old := s.man.Policies[name]
	rec := &policyRecord{Deleted: true}
	if old != nil {
		rec.Activation, rec.Seq, rec.ConfigVersion = old.Activation, old.seq(), old.ConfigVersion
	}
	rec.next()
	if err := s.install(n, rec, nil, nil, true); err != nil {
		return err
	}
	s.logger.LogAttrs(context.Background(), slog.LevelInfo, "policy deleted",
		slog.String("policy", name), slog.Uint64("seq", rec.Seq))
	return nil
}

// saveWith sets the record of name (nil deletes it) and writes the
// manifest; on failure the manifest in memory is unchanged.
func (s *Store) saveWith(name string, rec *policyRecord) error {
	old, had := s.man.Policies[name]
	if rec == nil {
		delete(s.man.Policies, name)
	} else {
		s.man.Policies[name] = rec
	}
	if err := s.save(); err != nil {
		if had {
			s.man.Policies[name] = old
		} else {
			delete(s.man.Policies, name)
		}
		return err
	}
	return nil
}

func (s *Store) save() error {
	if s.dir == "" {
		return nil
	}
	b, err := json.MarshalIndent(&s.man, "", "  ")
	if err != nil {
		return fmt.Errorf("plugins: store: manifest: %w", err)
	}
	return writeAtomic(s.manifestPath(), append(b, '\n'))
}

// writeAtomic writes b to path through a temporary file in the same
// directory, synced, then renamed over path: a crash leaves the old file
// or the new one, never a mix.
func writeAtomic(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("plugins: store: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name()) // best effort: the write error is what matters
		}
	}()
	if _, err := f.Write(b); err != nil {
		_ = f.Close() // the write error is what matters
		return fmt.Errorf("plugins: store: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close() // the sync error is what matters
		return fmt.Errorf("plugins: store: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("plugins: store: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("plugins: store: %w", err)
	}
	if d, err := os.Open(dir); err == nil { //nolint:gosec // the store's own directory
		_ = d.Sync() // makes the rename durable where supported; nothing to do if not
		_ = d.Close()
	}
	return nil
}

func (s *Store) putBlob(sha string, wasm []byte) error {
	if s.dir == "" {
		s.blobs[sha] = bytes.Clone(wasm) // the caller's buffer may be reused (a request body)
		return nil
	}
	p := s.modulePath(sha)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	return writeAtomic(p, wasm)
}

func (s *Store) getBlob(sha string) ([]byte, error) {
	if s.dir == "" {
		b, ok := s.blobs[sha]
		if !ok {
			return nil, fmt.Errorf("%w: module %s", ErrNotFound, sha)
		}
		return b, nil
	}
	b, err := os.ReadFile(s.modulePath(sha))
	if err != nil {
		return nil, fmt.Errorf("module file: %w", err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != sha {
		return nil, fmt.Errorf("module file %s: checksum mismatch", s.modulePath(sha))
	}
	return b, nil
}

// removeUnused removes the module bytes of shas that no record references.
// The caller holds mu.
func (s *Store) removeUnused(shas []string) {
	for _, sha := range shas {
		used := false
		for _, rec := range s.man.Policies {
			for _, v := range rec.Versions {
				used = used || v.ModuleSHA256 == sha || v.VectorsSHA256 == sha
			}
		}
		if used {
			continue
		}
		if s.dir == "" {
			delete(s.blobs, sha)
			continue
		}
		_ = os.Remove(s.modulePath(sha)) // an orphan file is harmless
	}
}

// Close retires every active version; the Runtime's Close closes the
// modules. Later changes fail.
func (s *Store) Close() {
	s.mu.Lock()
	wasClosed := s.closed
	s.closed = true
	for _, n := range *s.table.Load() {
		n.shadow.Store(nil)
		if c := n.cand.Swap(nil); c != nil {
			if c.shadow != nil {
				c.shadow.stop()
			}
			c.a.retire()
		}
		if a := n.active.Swap(nil); a != nil {
			a.retire()
		}
	}
	s.mu.Unlock()
	if !wasClosed {
		close(s.stop)
		<-s.stopped
	}
}

// unwrapCall drops the CallError's "plugins: policy ...:" prefix: the
// LoadError wrapping the dry run names the policy already.
func unwrapCall(err error) error {
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Err
	}
	return err
}

// Limits returns the limits an upload of name gets: those of its
// [policies.NAME] section, or the defaults.
func (s *Store) Limits(name string) Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limitsFor(name)
}
