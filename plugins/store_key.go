package plugins

import (
	"context"
	"errors"
	"fmt"

	"github.com/flowcache/flowcache/policy"
)

// Evaluate calls fn with version of policy name (a full id or a unique
// prefix of at least 6 characters; "" for the active version) and that
// version's full id, for debugging in production (the admin API's POST
// /policies/NAME/key). The active version is used in place, on its
// instances and limits; another version is loaded for the call with
// name's current limits and closed when fn returns. fn's calls are not
// counted in the policy's calls and errors. Errors wrap [ErrNotFound]
// for an unknown policy or version; a version that no longer loads
// returns its [*LoadError].
func (s *Store) Evaluate(ctx context.Context, name, version string, fn func(p policy.Policy, id string) error) error {
	s.mu.Lock()
	n := (*s.table.Load())[name]
	if n == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: policy %q", ErrNotFound, name)
	}
	rec := s.man.Policies[name]
	var v versionRecord
	if version != "" {
		if rec == nil {
			s.mu.Unlock()
			return fmt.Errorf("%w: policy %q has no stored version %q", ErrNotFound, name, version)
		}
		found, err := rec.find(version)
		if err != nil {
			s.mu.Unlock()
			return err
		}
		v = *found
	}
	if version == "" || (rec != nil && v.ID == rec.Active) {
		a := s.acquire(name)
		s.mu.Unlock()
		if a == nil {
			return fmt.Errorf("%w: policy %q has no active version", ErrNotFound, name)
		}
		defer a.Release()
		return fn(a.mod, a.id)
	}
	wasm, err := s.getBlob(v.ModuleSHA256)
	cfg := s.limitsFor(name)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("plugins: policy %q version %s: %w", name, v.ID, err)
	}
	cfg.Module, cfg.Config = "", v.Config
	m, err := s.rt.LoadBytes(ctx, name, wasm, &cfg) // compiled outside the lock, as Put does
	if err != nil {
		return err
	}
	m.setVersion(v.ID[:min(12, len(v.ID))])
	return errors.Join(fn(m, v.ID), m.Close(ctx))
}
