package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
)

// # Sharing versions between nodes
//
// Nodes that share a cache (one Redis L2) must converge on one active
// version per policy, under the same activation number, so that they share
// its key namespace. A transport (a Redis bus) carries Events and module
// bytes; the store only orders them:
//
//   - a local activation is passed to StoreOptions.OnChange, which publishes
//     it with the module bytes (Store.Module);
//   - every node Applies what it receives; Apply ignores an event that is
//     not newer than what the node runs: a higher activation number wins,
//     and between two activations with the same number (two nodes uploading
//     at once) the greater version id wins, so every node picks the same;
//   - after a reconnection a node Applies the full state (the last Event of
//     every policy, kept by the transport), which repairs lost messages.
//
// An Event carries the whole state of a policy: its active version and
// activation, its candidate (shadow or canary, with its share), its last
// automatic rollback, or a tombstone (Deleted) that keeps every node from
// bringing a deleted policy back. Events are ordered by their change number
// (Order), then by Tie.

// Event is the state of a policy after a change, as shared between nodes.
type Event struct {
	Name       string      `json:"name"`
	Version    VersionInfo `json:"version"`
	Activation uint64      `json:"activation"`
	// Seq is the change number (0 in an event of a node predating it:
	// Activation then).
	Seq uint64 `json:"seq,omitempty"`
	// Candidate is the staged version, if any.
	Candidate *Candidate `json:"candidate,omitempty"`
	// Swapped starts the active version's watch window (zero: none).
	Swapped time.Time `json:"swapped,omitzero"`
	// LastRollback is the last automatic rollback.
	LastRollback *Rollback `json:"last_rollback,omitempty"`
	// Deleted is a tombstone: the policy was deleted.
	Deleted bool `json:"deleted,omitempty"`
}

// Order returns the event's change number.
func (ev *Event) Order() uint64 { return max(ev.Seq, ev.Activation) }

// Tie orders two events with the same change number (two nodes changing
// the policy at once), so that every node picks the same: it compares as a
// string, the greater wins. For a plain activation it is the version id.
func (ev *Event) Tie() string {
	if ev.Deleted {
		return "~deleted"
	}
	t := ev.Version.ID
	if c := ev.Candidate; c != nil {
		t += "+" + string(c.Mode) + "." + c.Version.ID + "." + c.Share.String()
	}
	return t
}

// eventOf returns the event of name's record.
func eventOf(name string, rec *policyRecord) Event {
	ev := Event{Name: name, Activation: rec.Activation, Seq: rec.seq(), Swapped: rec.Swapped, LastRollback: rec.LastRollback, Deleted: rec.Deleted}
	if v, ok := rec.version(rec.Active); ok && !rec.Deleted {
		ev.Version = VersionInfo(*v)
	}
	if rec.Candidate != nil && !rec.Deleted {
		c := *rec.Candidate
		ev.Candidate = &c
	}
	return ev
}

// newer reports whether ev should replace rec.
func newer(ev *Event, rec *policyRecord) bool {
	if rec == nil || (rec.Active == "" && !rec.Deleted) {
		return true
	}
	if o, r := ev.Order(), rec.seq(); o != r {
		return o > r
	}
	cur := eventOf(ev.Name, rec)
	return ev.Tie() > cur.Tie()
}

// Apply makes another node's change ev the state of the store unless the
// store holds a newer one (see above): it activates ev's version under
// ev's activation number, stages its candidate, or deletes the policy.
// module returns the bytes of a module by sha256 when the store does not
// have them. Nothing is passed to OnChange.
func (s *Store) Apply(ctx context.Context, ev Event, module func(sha string) ([]byte, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errRuntimeClosed
	}
	if err := checkEvent(&ev); err != nil {
		return fmt.Errorf("plugins: apply %.64q: %w", ev.Name, err)
	}
	old := s.man.Policies[ev.Name]
	if !newer(&ev, old) {
		return nil
	}
	n := (*s.table.Load())[ev.Name]
	if ev.Deleted {
		rec := &policyRecord{Deleted: true, Activation: ev.Activation, Seq: ev.Order()}
		if old != nil {
			rec.ConfigVersion = old.ConfigVersion
		}
		if n == nil {
			n = &named{name: ev.Name, limits: DefaultConfig()}
		}
		if err := s.install(n, rec, nil, nil, false); err != nil {
			return err
		}
		s.logger.LogAttrs(ctx, slog.LevelInfo, "policy deleted",
			slog.String("policy", ev.Name), slog.Uint64("seq", rec.Seq), slog.Bool("local", false))
		return nil
	}
	if n == nil {
		n = &named{name: ev.Name, limits: DefaultConfig()}
	}
	rec := old.clone()
	rec.Deleted = false
	v := versionRecord(ev.Version)
	if _, ok := rec.version(v.ID); !ok {
		rec.Versions = append(rec.Versions, v)
	}
	if rec.Active != v.ID && rec.Active != "" {
		rec.Previous = rec.Active
	}
	rec.Active, rec.Activation, rec.Seq = v.ID, ev.Activation, ev.Order()
	rec.Swapped, rec.LastRollback, rec.Candidate = ev.Swapped, ev.LastRollback, nil
	if ev.Candidate != nil {
		c := *ev.Candidate
		rec.Candidate = &c
		if _, ok := rec.version(c.Version.ID); !ok {
			rec.Versions = append(rec.Versions, versionRecord(c.Version))
		}
	}
	curS, curC := n.active.Load(), n.cand.Load()
	var curCA *Active
	if curC != nil {
		curCA = curC.a
	}
	var stable, cand *Module
	closeAll := func() {
		for _, m := range []*Module{stable, cand} {
			if m != nil {
				_ = m.Close(ctx) // not activated
			}
		}
	}
	if !curS.is(rec.Active, rec.Activation) && !curCA.is(rec.Active, rec.Activation) {
		m, err := s.loadSynced(ctx, ev.Name, &v, module)
		if err != nil {
			return err
		}
		stable = m
	}
	if c := rec.Candidate; c != nil && !curCA.is(c.Version.ID, c.Activation) {
		cv := versionRecord(c.Version)
		m, err := s.loadSynced(ctx, ev.Name, &cv, module)
		if err != nil {
			// The active version's change (a promotion elsewhere, a
			// rollback) must not wait for a candidate this node cannot
			// run (its vectors fail here, its module is missing): the
			// node runs without it until the next change.
			s.logger.LogAttrs(ctx, slog.LevelWarn, "policy_candidate_not_staged",
				slog.String("policy", ev.Name), slog.String("version", c.Version.ID),
				slog.String("mode", string(c.Mode)), slog.String("error", err.Error()))
			rec.Candidate = nil
		} else {
			cand = m
		}
	}
	if err := s.install(n, rec, stable, cand, false); err != nil {
		closeAll()
		return err
	}
	if rb := ev.LastRollback; rb != nil && (old == nil || old.LastRollback == nil || !old.LastRollback.At.Equal(rb.At)) {
		s.rolledBack(n, rb)
	}
	return nil
}

// loadSynced loads version v of name from another node: from the store's
// own bytes, or fetched with module (bounded by max_module_size, checked
// against the sha256), and stored. The caller holds mu.
func (s *Store) loadSynced(ctx context.Context, name string, v *versionRecord, module func(sha string) ([]byte, error)) (*Module, error) {
	cfg := s.limitsFor(name)
	wasm, err := s.getBlob(v.ModuleSHA256)
	if err != nil {
		if v.Size > int(cfg.MaxModuleSize) {
			return nil, fmt.Errorf("plugins: apply %q version %s: module of %d bytes, max_module_size is %d", name, v.ID, v.Size, int64(cfg.MaxModuleSize))
		}
		if wasm, err = module(v.ModuleSHA256); err != nil {
			return nil, fmt.Errorf("plugins: apply %q version %s: module: %w", name, v.ID, err)
		}
		if sum := sha256.Sum256(wasm); hex.EncodeToString(sum[:]) != v.ModuleSHA256 {
			return nil, fmt.Errorf("plugins: apply %q version %s: module bytes do not match their sha256", name, v.ID)
		}
		if err := s.putBlob(v.ModuleSHA256, wasm); err != nil {
			return nil, err
		}
	}
	var vs []Vector
	if v.VectorsSHA256 != "" {
		b, err := s.getBlob(v.VectorsSHA256)
		if err != nil {
			if b, err = module(v.VectorsSHA256); err != nil {
				return nil, fmt.Errorf("plugins: apply %q version %s: vectors: %w", name, v.ID, err)
			}
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != v.VectorsSHA256 {
				return nil, fmt.Errorf("plugins: apply %q version %s: vectors do not match their sha256", name, v.ID)
			}
			if err := s.putBlob(v.VectorsSHA256, b); err != nil {
				return nil, err
			}
		}
		if vs, err = ParseVectors("vectors", b); err != nil {
			return nil, fmt.Errorf("plugins: apply %q version %s: %w", name, v.ID, err)
		}
	}
	cfg.Module = ""
	cfg.Config = v.Config
	m, err := s.rt.LoadBytes(ctx, name, wasm, &cfg)
	if err != nil {
		return nil, err
	}
	// Every node checks a version against its vectors before it serves
	// here: with this node's limits, on this node's runtime.
	if err := checkVectors(m, vs); err != nil {
		_ = m.Close(ctx) // refused
		return nil, &LoadError{Policy: name, Err: fmt.Errorf("version %.12s: %w", v.ID, err)}
	}
	return m, nil
}

// checkEvent bounds the fields of an event received from another node
// (through a shared store that is not trusted): names and ids are what
// this store makes, the module is named by a sha256.
func checkEvent(ev *Event) error {
	if n := len(ev.Name); n == 0 || n > 64 || !allIn(ev.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") {
		return errors.New("malformed policy name")
	}
	if ev.Order() == 0 {
		return errors.New("incomplete event")
	}
	if ev.Deleted {
		return nil
	}
	if ev.Activation == 0 {
		return errors.New("incomplete event")
	}
	if err := checkVersion(&ev.Version); err != nil {
		return err
	}
	if c := ev.Candidate; c != nil {
		if err := checkVersion(&c.Version); err != nil {
			return fmt.Errorf("candidate: %w", err)
		}
		if (c.Mode != ModeShadow && c.Mode != ModeCanary) || c.Share > FullShare || c.Activation == 0 || c.Version.ID == ev.Version.ID {
			return errors.New("malformed candidate")
		}
	}
	return nil
}

func checkVersion(v *VersionInfo) error {
	if len(v.ID) < 12 || len(v.ID) > 64 || !allIn(v.ID, "0123456789abcdef") {
		return errors.New("malformed version id")
	}
	if len(v.ModuleSHA256) != 64 || !allIn(v.ModuleSHA256, "0123456789abcdef") {
		return errors.New("malformed module sha256")
	}
	if v.Size <= 0 {
		return errors.New("malformed module size")
	}
	if v.VectorsSHA256 != "" && (len(v.VectorsSHA256) != 64 || !allIn(v.VectorsSHA256, "0123456789abcdef") || v.VectorsSize <= 0 || v.VectorsSize > MaxVectorsSize) {
		return errors.New("malformed vectors")
	}
	return nil
}

// allIn reports whether every byte of s is in set.
func allIn(s, set string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return true
}

// State returns the current activation of every policy, sorted by name:
// what a transport publishes in full for nodes that reconnect.
func (s *Store) State() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Event{}
	for _, name := range slices.Sorted(maps.Keys(s.man.Policies)) {
		rec := s.man.Policies[name]
		if _, ok := rec.version(rec.Active); ok || rec.Deleted {
			out = append(out, eventOf(name, rec))
		}
	}
	return out
}

// Module returns the bytes of a stored module by its sha256 (for a
// transport publishing an Event).
func (s *Store) Module(sha string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.getBlob(sha)
}

// notify passes the queued local activations to OnChange, in order, outside
// the store's lock.
func (s *Store) notify() {
	if s.onChange == nil {
		return
	}
	s.notifyMu.Lock() // keeps the order of concurrent changes
	defer s.notifyMu.Unlock()
	s.mu.Lock()
	evs := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, ev := range evs {
		s.onChange(ev)
	}
}
