package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/flowcache/flowcache/gateway"
)

// defaultConfigPath is where serve and check look for their config file.
const defaultConfigPath = "config.toml"

func runServe(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlagSet("serve", "[-config FILE]",
		"Run the gateway: the data plane on server.listen and the admin API, /metrics,\n"+
			"/healthz and /readyz on admin.listen, until SIGINT or SIGTERM; then answer\n"+
			"/readyz 503 while still serving for server.drain_delay, stop accepting, let\n"+
			"in-flight requests finish for at most server.shutdown_timeout, and exit.\n\n"+
			"Every key can be set from the environment: FLOWCACHE_ + its key path\n"+
			"upper-cased, \".\" and array indices as \"_\" (FLOWCACHE_SERVER_LISTEN,\n"+
			"FLOWCACHE_ROUTES_0_UPSTREAMS=http://a:80,http://b:80); a variable wins over\n"+
			"the file. Without -config, when ./config.toml does not exist, serve runs on\n"+
			"the environment alone, or on embedded defaults when no FLOWCACHE_ variable is\n"+
			"set: every key's default plus one catch-all route to "+exampleOrigin+"\n"+
			"(the example origin: go run ./examples/origin). An invalid configuration is\n"+
			"reported with key paths and lines or variables, and nothing is served.", stderr)
	path := fs.String("config", defaultConfigPath, configHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, source, err := serveConfig(*path, flagSet(fs, "config"))
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	if source == embeddedSource {
		logger.LogAttrs(ctx, slog.LevelWarn, "config file not found, running on embedded defaults",
			slog.String("path", *path), slog.String("upstream", exampleOrigin))
	}
	var reload func(context.Context) (*gateway.Config, error)
	if source == *path {
		reload = func(context.Context) (*gateway.Config, error) {
			c, err := loadConfig(*path)
			return &c, err
		}
	}
	return serve(ctx, &cfg, source, logger, reload)
}

// embeddedSource names the embedded defaults in logs (see serveConfig).
const embeddedSource = "embedded defaults"

// serveConfig loads the config file at path, with the environment applied,
// and returns it with its source: path. When the file does not exist and
// path was not given explicitly, the configuration comes from the
// environment alone (source envSource) or, when no FLOWCACHE_ variable is
// set, is the embedded defaults (source embeddedSource).
func serveConfig(path string, explicit bool) (cfg gateway.Config, source string, err error) {
	if !explicit {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			cfg, set, err := envConfig(os.Environ())
			if !set {
				return cfg, embeddedSource, err
			}
			return cfg, envSource, err
		}
	}
	cfg, err = loadConfig(path)
	return cfg, path, err
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// newLogger builds the process logger from the [log] section: text or JSON
// on w (standard error), at the configured level.
func newLogger(c gateway.LogConfig, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.Format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log.format: must be text or json; got %q", c.Format)
}

// serve runs a gateway built from cfg (read from source, for the log) on
// its two listeners until ctx is done or a listener fails, then shuts it
// down within server.shutdown_timeout. It returns nil after a clean
// shutdown.
//
// reload, if not nil, re-reads the config file for POST /reload and SIGHUP.
func serve(ctx context.Context, cfg *gateway.Config, source string, logger *slog.Logger, reload func(context.Context) (*gateway.Config, error)) error {
	file := source // where policy load errors point: the file, or the environment
	if source == embeddedSource {
		file = ""
	}
	// With server.listen_while_loading the policies load once the
	// listeners are up (see below); otherwise before anything listens.
	background := cfg.Server.ListenWhileLoading && len(cfg.Policies) > 0
	ph, err := newPolicyHost(ctx, cfg, logger)
	if err != nil {
		return err
	}
	// The loads, with huge pages (admin.start_huge_pages), the range set
	// aside just before them: with listen_while_loading, after gateway.New
	// (setting it aside before made that start 40% slower to ready, the
	// L1 cache's buffers likely taking the range).
	loadPolicies := func() error {
		endHuge := func() {}
		if cfg.Admin.StartHugePages && len(cfg.Policies) > 0 {
			endHuge = startHugePages()
		}
		defer endHuge()
		return ph.load(ctx, cfg, file)
	}
	if !background {
		if err := loadPolicies(); err != nil {
			return errors.Join(err, ph.close(ctx))
		}
	}
	routeRedisLogs(logger)
	g, err := gateway.New(cfg, gateway.Options{Logger: logger, Version: buildVersion(), Store: ph.store, Reload: reload})
	if err != nil {
		return errors.Join(err, ph.close(ctx))
	}
	ph.gw.Store(g)
	var loaded func() // marks the policies loaded, with listen_while_loading
	if background {
		loaded = g.PoliciesLoading()
	}
	shutdown := func() error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout.D())
		defer cancel()
		return errors.Join(g.Shutdown(sctx), ph.close(sctx))
	}
	stopHUP := reloadOnHangup(ctx, g, logger)
	defer stopHUP()
	stopUSR1 := reopenOnUSR1(ctx, g, logger)
	defer stopUSR1()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Server.Listen)
	if err != nil {
		return errors.Join(fmt.Errorf("server.listen: %w", err), shutdown())
	}
	adminLn, err := lc.Listen(ctx, "tcp", cfg.Admin.Listen)
	if err != nil {
		_ = ln.Close() // never served; the listen error is what matters
		return errors.Join(fmt.Errorf("admin.listen: %w", err), shutdown())
	}
	var kvLn net.Listener // the look-aside API, when [kv] listen is set
	if cfg.KV.Listen != "" {
		if kvLn, err = lc.Listen(ctx, "tcp", cfg.KV.Listen); err != nil {
			_, _ = ln.Close(), adminLn.Close() // never served; the listen error is what matters
			return errors.Join(fmt.Errorf("kv.listen: %w", err), shutdown())
		}
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "flowcache started",
		slog.String("version", buildVersion()),
		slog.String("config", source),
		slog.String("listen", ln.Addr().String()),
		slog.String("admin_listen", adminLn.Addr().String()),
		slog.String("kv_listen", cfg.KV.Listen),
		slog.Int("routes", len(cfg.Routes)))

	loadc := make(chan error, 1) // the background load's result; never sent without one
	if background {
		go func() {
			err := loadPolicies()
			loaded()
			loadc <- err
		}()
	}
	errc := make(chan error, 3)
	go func() { errc <- wrapErr("serve data plane", g.Serve(ln)) }()
	go func() { errc <- wrapErr("serve admin", g.ServeAdmin(adminLn)) }()
	running := 2
	if kvLn != nil {
		go func() { errc <- wrapErr("serve kv", g.ServeKV(kvLn)) }()
		running++
	}
	var errs []error
	for wait := true; wait; {
		select {
		case <-ctx.Done():
			wait = false
		case err := <-errc: // a listener failed: stop the other one too
			running--
			errs = append(errs, err)
			wait = false
		case err := <-loadc:
			// A policy that fails to load stops the node, as it would have
			// kept it from starting: it never was ready.
			if err != nil {
				errs = append(errs, err)
				wait = false
			}
		}
	}
	if d := cfg.Server.DrainDelay.D(); d > 0 && running == 2 {
		// Signalled: answer /readyz 503 and keep serving while load
		// balancers take this node out, then stop accepting.
		g.Drain()
		logger.LogAttrs(ctx, slog.LevelInfo, "flowcache draining", slog.Duration("drain_delay", d))
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			running--
			errs = append(errs, err)
		}
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "flowcache stopping",
		slog.Duration("shutdown_timeout", cfg.Server.ShutdownTimeout.D()))
	start := time.Now()
	errs = append(errs, shutdown())
	// Shutdown closes the listeners it serves; these closes only matter if
	// ctx ended before a Serve goroutine had started, and then they make it
	// return at once.
	_ = ln.Close()      // see above: usually already closed
	_ = adminLn.Close() // see above
	if kvLn != nil {
		_ = kvLn.Close() // see above
	}
	for ; running > 0; running-- {
		errs = append(errs, <-errc)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "flowcache stopped",
		slog.Duration("drain", time.Since(start)))
	return nil
}

func wrapErr(action string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", action, err)
}
