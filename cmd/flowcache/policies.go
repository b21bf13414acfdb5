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
// admin.data_dir when set: versions in policies/) and loads cfg's policies
// (see policyHost.load). The compilation cache is where
// [compilationCacheDir] says.
func openPolicies(ctx context.Context, cfg *gateway.Config, file string, logger *slog.Logger) (*policyHost, error) {
	h, err := newPolicyHost(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	if err := h.load(ctx, cfg, file); err != nil {
		return nil, errors.Join(err, h.close(ctx))
	}
	return h, nil
}

// newPolicyHost builds the runtime and the store, with no policy loaded.
func newPolicyHost(ctx context.Context, cfg *gateway.Config, logger *slog.Logger) (*policyHost, error) {
	var storeDir string
	if d := cfg.Admin.DataDir; d != "" {
		storeDir = filepath.Join(d, "policies")
	}
	cacheDir, err := compilationCacheDir(ctx, &cfg.Admin, logger)
	if err != nil {
		return nil, err
	}
	rt, err := plugins.NewRuntime(plugins.Options{Logger: logger, CacheDir: cacheDir,
		CacheMaxSize: int64(cfg.Admin.CompilationCacheSize), Tiered: cfg.Admin.TieredCompilation})
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
	h.store = store
	return h, nil
}

// load loads cfg's policies into the store. A module that fails to load is
// an error naming the policy, its file and the reason, at the line of the
// config file (file) that names the module.
func (h *policyHost) load(ctx context.Context, cfg *gateway.Config, file string) error {
	change, err := h.store.Prepare(ctx, cfg.Policies)
	if err == nil {
		err = change.Commit()
	}
	if err != nil {
		return policyError(file, err)
	}
	return nil
}

// compilationCacheDir returns the directory of the policies' compilation
// cache, made if missing (mode 0700: it holds machine code this process
// will run), or "" for none (plugins then compiles in a temporary
// directory): admin.data_dir/wasm-cache when data_dir is set, else
// os.UserCacheDir()/flowcache/wasm, unless admin.compilation_cache is
// false. A data_dir that cannot be made is an error (uploads are kept there
// too); a user cache directory that cannot be made, or that other users may
// write to, is logged and not used: the node starts, compiling everything.
func compilationCacheDir(ctx context.Context, c *gateway.AdminConfig, logger *slog.Logger) (string, error) {
	return compilationCacheIn(ctx, c, logger, os.UserCacheDir)
}

// compilationCacheIn is compilationCacheDir with the user cache directory
// given by userCacheDir (os.UserCacheDir but in tests).
func compilationCacheIn(ctx context.Context, c *gateway.AdminConfig, logger *slog.Logger, userCacheDir func() (string, error)) (string, error) {
	if !c.CompilationCache {
		return "", nil
	}
	if c.DataDir != "" {
		dir := filepath.Join(c.DataDir, "wasm-cache")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("admin.data_dir: %w", err)
		}
		return dir, nil
	}
	dir, err := userCompilationCache(userCacheDir)
	if err != nil {
		if logger != nil {
			logger.LogAttrs(ctx, slog.LevelWarn, "no compilation cache: every policy is compiled at every start",
				slog.String("error", err.Error()))
		}
		return "", nil
	}
	return dir, nil
}

// userCompilationCache makes and returns os.UserCacheDir()/flowcache/wasm.
// It refuses a directory that its group or others may write to: another
// user could plant code there.
func userCompilationCache(userCacheDir func() (string, error)) (string, error) {
	base, err := userCacheDir()
	if err != nil {
		return "", fmt.Errorf("admin.compilation_cache: %w", err)
	}
	dir := filepath.Join(base, "flowcache", "wasm")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("admin.compilation_cache: %w", err)
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		fi, err := os.Stat(d)
		if err != nil {
			return "", fmt.Errorf("admin.compilation_cache: %w", err)
		}
		if fi.Mode().Perm()&0o022 != 0 {
			return "", fmt.Errorf("admin.compilation_cache: %s is writable by other users (mode %v)", d, fi.Mode().Perm())
		}
	}
	return dir, nil
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
	c.Admin.DataDir = ""             // a check must not write the store
	c.Admin.CompilationCache = false // nor the compilation cache
	h, err := openPolicies(ctx, &c, file, nil)
	if err != nil {
		return err
	}
	return h.close(ctx)
}

// policyError places each policy load error in err (one [*plugins.LoadError],
// or several joined) at the module line of the config file, as the config
// errors are.
func policyError(file string, err error) error {
	if file == "" {
		return err
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok { //nolint:errorlint // the join of Prepare, not a chain
		errs = j.Unwrap()
	}
	var ix *keyIndex
	ce := &configError{file: file}
	for _, e := range errs {
		var le *plugins.LoadError
		if !errors.As(e, &le) {
			return err
		}
		path := "policies." + le.Policy + ".module"
		p := problem{path: path, msg: e.Error()}
		if file == envSource {
			p.env = envName(path)
		} else {
			if ix == nil {
				if src, rerr := os.ReadFile(file); rerr == nil { //nolint:gosec // G304: the operator's config file
					ix = scanKeys(string(src))
				}
			}
			if ix != nil {
				p.line = ix.line(path)
				p.context = ix.snippet(p.line)
			}
		}
		ce.problems = append(ce.problems, p)
	}
	return ce
}
