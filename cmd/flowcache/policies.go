package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/plugins"
)

// policyHost is the WebAssembly runtime and the policy store of a serving
// process, with every [policies.NAME] module loaded.
type policyHost struct {
	rt    *plugins.Runtime
	store *plugins.Store
	// gw is the gateway once built: the store's local activations are
	// passed to it (Gateway.PolicyChanged) to be published to the other
	// nodes at once rather than at the gateway's next periodic check.
	gw atomic.Pointer[gateway.Gateway]
}

// openPolicies builds the runtime and the store (persisted under
// admin.data_dir when set: the compilation cache in wasm-cache/, versions in
// policies/) and loads cfg's policies. A module that fails to load is an
// error naming the policy, its file and the reason, at the line of the
// config file (file) that names the module.
func openPolicies(ctx context.Context, cfg *gateway.Config, file string, logger *slog.Logger) (*policyHost, error) {
	var cacheDir, storeDir string
	if d := cfg.Admin.DataDir; d != "" {
		cacheDir, storeDir = filepath.Join(d, "wasm-cache"), filepath.Join(d, "policies")
		if err := os.MkdirAll(cacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("admin.data_dir: %w", err)
		}
	}
	rt, err := plugins.NewRuntime(plugins.Options{Logger: logger, CacheDir: cacheDir})
	if err != nil {
		return nil, err
	}
	h := &policyHost{rt: rt}
	store, err := plugins.OpenStore(rt, plugins.StoreOptions{Dir: storeDir, Logger: logger, Rollout: cfg.Rollout, OnChange: func(ev plugins.Event) {
		if g := h.gw.Load(); g != nil {
			g.PolicyChanged(ev)
		}
	}})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("admin.data_dir: %w", err), rt.Close(ctx))
	}
	change, err := store.Prepare(ctx, cfg.Policies)
	if err == nil {
		err = change.Commit()
	}
	if err != nil {
		return nil, errors.Join(policyError(file, err), rt.Close(ctx))
	}
	h.store = store
	return h, nil
}

func (h *policyHost) close(ctx context.Context) error {
	h.store.Close()
	return h.rt.Close(ctx)
}

// checkPolicies loads cfg's policies as serve would (validation, ABI, dry
// run), in memory, and closes them: what `flowcache check` adds to the
// config checks.
func checkPolicies(ctx context.Context, cfg *gateway.Config, file string) error {
	if len(cfg.Policies) == 0 {
		return nil
	}
	c := *cfg
	c.Admin.DataDir = "" // a check must not write the store
	h, err := openPolicies(ctx, &c, file, nil)
	if err != nil {
		return err
	}
	return h.close(ctx)
}

// policyError places a policy load error at the module line of the config
// file, as the config errors are.
func policyError(file string, err error) error {
	var le *plugins.LoadError
	if !errors.As(err, &le) || file == "" {
		return err
	}
	path := "policies." + le.Policy + ".module"
	p := problem{path: path, msg: err.Error()}
	if file == envSource {
		p.env = envName(path)
	} else if src, rerr := os.ReadFile(file); rerr == nil { //nolint:gosec // G304: the operator's config file
		ix := scanKeys(string(src))
		p.line = ix.line(path)
		p.context = ix.snippet(p.line)
	}
	return &configError{file: file, problems: []problem{p}}
}
