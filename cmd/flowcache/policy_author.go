package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowcache/flowcache/plugins"
)

// Author tooling: commands that run a policy module locally, on the same
// host as the gateway (package plugins: validation, instrumentation, fuel,
// memory limit, instance pool), with no gateway running.

// errVectorsFailed is returned by policy test when a vector fails: the
// diffs are already printed.
var errVectorsFailed = errors.New("vectors failed")

// moduleFlags are the flags of the commands that load a module locally.
type moduleFlags struct {
	fs         *flag.FlagSet
	config     string
	fuel       int64
	file, name string // -c, -policy
}

func addModuleFlags(fs *flag.FlagSet) *moduleFlags {
	f := &moduleFlags{fs: fs}
	fs.StringVar(&f.config, "config", "", "JSON object given to the module's flowcache_init, or @FILE to read it from FILE (default {})")
	fs.Int64Var(&f.fuel, "fuel", plugins.DefaultFuel, "CPU budget of one call, as [policies.NAME] fuel")
	fs.StringVar(&f.file, "c", "", "take the limits and config of -policy NAME from this config.toml (-config and -fuel still override)")
	fs.StringVar(&f.name, "policy", "", "the [policies.NAME] section of -c")
	return f
}

// set reports whether flag name was given.
func (f *moduleFlags) set(name string) bool {
	given := false
	f.fs.Visit(func(fl *flag.Flag) { given = given || fl.Name == name })
	return given
}

// base returns the policy config the flags start from: [policies.NAME] of
// -c, or the defaults.
func (f *moduleFlags) base() (plugins.Config, error) {
	if (f.file == "") != (f.name == "") {
		return plugins.Config{}, errors.New("-c and -policy go together")
	}
	if f.file == "" {
		return plugins.DefaultConfig(), nil
	}
	cfg, err := loadConfig(f.file)
	if err != nil {
		return plugins.Config{}, err
	}
	pc, ok := cfg.Policies[f.name]
	if !ok {
		return plugins.Config{}, fmt.Errorf("-policy: %s has no [policies.%s]", f.file, f.name)
	}
	return pc, nil
}

// localModule is a module loaded outside any gateway, with its runtime.
type localModule struct {
	*plugins.Module
	rt   *plugins.Runtime
	file string
}

func (m *localModule) Close(ctx context.Context) error { return m.rt.Close(ctx) }

// loadLocal loads the module file with the flags' limits and config, on a
// runtime whose failure log goes to stderr.
func loadLocal(ctx context.Context, file string, f *moduleFlags, stderr io.Writer, opts plugins.Options) (*localModule, error) {
	cfg, err := f.base()
	if err != nil {
		return nil, err
	}
	cfg.Module = file
	if f.set("fuel") || f.file == "" {
		cfg.Fuel = f.fuel
	}
	if f.config != "" {
		text := f.config
		if name, ok := strings.CutPrefix(text, "@"); ok {
			b, err := os.ReadFile(name) //nolint:gosec // G304: the file the operator named
			if err != nil {
				return nil, fmt.Errorf("-config: %w", err)
			}
			text = string(b)
		}
		cfg.Config = nil
		if err := json.Unmarshal([]byte(text), &cfg.Config); err != nil || cfg.Config == nil {
			return nil, fmt.Errorf("-config: want a JSON object, got %q", strings.TrimSpace(text))
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	rt, err := plugins.NewRuntime(opts)
	if err != nil {
		return nil, err
	}
	name := policyNameOf(file)
	m, err := rt.Load(ctx, name, &cfg)
	if err != nil {
		_ = rt.Close(ctx) // the load error is the one to report
		return nil, err
	}
	return &localModule{Module: m, rt: rt, file: file}, nil
}

// policyNameOf makes a policy name from a module file name: "normalize"
// for "dist/normalize.wasm".
func policyNameOf(file string) string {
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	var b strings.Builder
	for _, c := range strings.ToLower(base) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 || b.Len() > 64 {
		return "policy"
	}
	return b.String()
}

// readVectors reads and parses a vectors file.
func readVectors(file string) ([]plugins.Vector, error) {
	f, err := os.Open(file) //nolint:gosec // G304: the file the operator named
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, plugins.MaxVectorsSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return plugins.ParseVectors(file, data)
}

func runPolicyTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy test", "MODULE.wasm VECTORS.json [-config JSON|@FILE] [-fuel N] [-c config.toml -policy NAME] [-v]",
		"Run the golden vectors of VECTORS.json through MODULE.wasm on the gateway's own\n"+
			"host (same validation, limits, fuel and instance pool; no gateway needed),\n"+
			"print a diff for each failing case, and exit 1 if any fails. VECTORS.json is\n"+
			"a JSON array of {\"name\", \"request\": {method, host, path, query, headers},\n"+
			"\"key\": {host, target, variant} | \"bypass\", optional \"response\":\n"+
			"{status, headers, body_size} and \"decision\": {store, admit, must_revalidate,\n"+
			"no_cache, tier, ttl, swr, sie}} (see README, \"Policy author tooling\").", stderr)
	mf := addModuleFlags(fs)
	verbose := fs.Bool("v", false, "also list the cases that pass")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 2, 2); err != nil {
		return err
	}
	vs, err := readVectors(pos[1])
	if err != nil {
		return err
	}
	m, err := loadLocal(ctx, pos[0], mf, stderr, plugins.Options{})
	if err != nil {
		return err
	}
	defer m.Close(ctx)
	rs := plugins.RunVectors(m, vs)
	failed := plugins.VectorsFailed(rs)
	for i := range rs {
		switch {
		case !rs[i].Passed():
			fmt.Fprintf(stdout, "FAIL %s\n", rs[i].String())
		case *verbose:
			fmt.Fprintf(stdout, "ok   %s\n", rs[i].String())
		}
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "FAIL %s: %d of %d vectors failed (%s)\n", pos[1], failed, len(rs), pos[0])
		return errVectorsFailed
	}
	_, err = fmt.Fprintf(stdout, "PASS %s: %d vectors (%s)\n", pos[1], len(rs), pos[0])
	return err
}
