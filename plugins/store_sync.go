package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
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
// Deletions are not shared: DELETE is refused while a route uses the
// policy, and routes are per node.

// Event is a policy's activation, as shared between nodes.
type Event struct {
	Name       string      `json:"name"`
	Version    VersionInfo `json:"version"`
	Activation uint64      `json:"activation"`
}

// newer reports whether ev should replace rec's active version.
func newer(ev *Event, rec *policyRecord) bool {
	if rec == nil || rec.Active == "" {
		return true
	}
	if ev.Activation != rec.Activation {
		return ev.Activation > rec.Activation
	}
	return ev.Version.ID > rec.Active
}

// Apply activates another node's activation ev unless the store runs a
// newer one (see above). module returns the bytes of a module by sha256
// when the store does not have them. Nothing is passed to OnChange.
func (s *Store) Apply(ctx context.Context, ev Event, module func(sha string) ([]byte, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errRuntimeClosed
	}
	if ev.Activation == 0 || len(ev.Version.ID) < 12 {
		return fmt.Errorf("plugins: apply %q: incomplete event", ev.Name)
	}
	if err := checkEvent(&ev); err != nil {
		return fmt.Errorf("plugins: apply %.64q: %w", ev.Name, err)
	}
	if !newer(&ev, s.man.Policies[ev.Name]) {
		return nil
	}
	v := versionRecord(ev.Version)
	cfg := s.limitsFor(ev.Name)
	wasm, err := s.getBlob(v.ModuleSHA256)
	if err != nil {
		if v.Size > int(cfg.MaxModuleSize) {
			return fmt.Errorf("plugins: apply %q version %s: module of %d bytes, max_module_size is %d", ev.Name, v.ID, v.Size, int64(cfg.MaxModuleSize))
		}
		if wasm, err = module(v.ModuleSHA256); err != nil {
			return fmt.Errorf("plugins: apply %q version %s: module: %w", ev.Name, v.ID, err)
		}
		if sum := sha256.Sum256(wasm); hex.EncodeToString(sum[:]) != v.ModuleSHA256 {
			return fmt.Errorf("plugins: apply %q version %s: module bytes do not match their sha256", ev.Name, v.ID)
		}
	}
	cfg.Module = ""
	cfg.Config = v.Config
	m, err := s.rt.LoadBytes(ctx, ev.Name, wasm, &cfg)
	if err != nil {
		return err
	}
	if _, err := s.activate(ev.Name, m, &v, wasm, nil, ev.Activation); err != nil {
		_ = m.Close(ctx) // not activated
		return err
	}
	return nil
}

// checkEvent bounds the fields of an event received from another node
// (through a shared store that is not trusted): names and ids are what
// this store makes, the module is named by a sha256.
func checkEvent(ev *Event) error {
	if n := len(ev.Name); n == 0 || n > 64 || !allIn(ev.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") {
		return errors.New("malformed policy name")
	}
	if len(ev.Version.ID) > 64 || !allIn(ev.Version.ID, "0123456789abcdef") {
		return errors.New("malformed version id")
	}
	if len(ev.Version.ModuleSHA256) != 64 || !allIn(ev.Version.ModuleSHA256, "0123456789abcdef") {
		return errors.New("malformed module sha256")
	}
	if ev.Version.Size <= 0 {
		return errors.New("malformed module size")
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
		if v, ok := rec.version(rec.Active); ok {
			out = append(out, Event{Name: name, Version: VersionInfo(*v), Activation: rec.Activation})
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
