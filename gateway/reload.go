package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/plugins"
)

// gwState is what a reload replaces as one value: the configuration, its
// routes and the routing table. Requests load it once, at routing; a
// request in flight keeps the route it started with.
type gwState struct {
	cfg    *Config
	routes []*route
	router router
}

func newState(cfg *Config, now func() time.Time, set *metrics.Set) (*gwState, error) {
	st := &gwState{cfg: cfg}
	for i := range cfg.Routes {
		rt, err := newRoute(cfg, i, now, set)
		if err != nil {
			return nil, err
		}
		st.routes = append(st.routes, rt)
	}
	st.router = newRouter(st.routes)
	return st, nil
}

// currentRoutes returns the routes of the running configuration.
func (g *Gateway) currentRoutes() []*route { return g.st.Load().routes }

// errReloadDisabled answers POST /reload when no Options.Reload was given.
var errReloadDisabled = errors.New("gateway: reload: not enabled (no reload function)")

// Reload re-reads the configuration through Options.Reload, validates it,
// loads the policies it needs, and swaps the running routes and policies
// atomically. Only [[routes]] and [policies] may change: a change in
// another section needs a restart and is refused. On any error the running
// configuration is kept, the error says why, and
// flowcache_config_last_reload_successful is 0 until a reload succeeds.
//
// Requests in flight finish with the routes and policy versions they
// started with; the old upstream connection pools close their idle
// connections after the swap.
//
// The reload is recorded in the audit log as made by the process (SIGHUP
// in cmd); POST /reload records its client instead.
func (g *Gateway) Reload(ctx context.Context) error {
	err := g.reloadConfig(ctx)
	e := AuditEvent{Time: time.Now().UTC(), Auth: "process", Action: "reload", Status: fasthttp.StatusOK, Result: "ok"}
	if err != nil {
		e.Status, e.Result = fasthttp.StatusBadRequest, err.Error()
	}
	g.audit.record(e)
	return err
}

// reloadConfig is Reload without its audit event.
func (g *Gateway) reloadConfig(ctx context.Context) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	err := g.reloadLocked(ctx)
	if err != nil {
		g.reloadOK.Store(0)
		g.log.LogAttrs(ctx, slog.LevelError, "config reload failed", slog.String("error", err.Error()))
		return err
	}
	g.reloadOK.Store(1)
	return nil
}

func (g *Gateway) reloadLocked(ctx context.Context) error {
	if g.reload == nil {
		return errReloadDisabled
	}
	cfg, err := g.reload(ctx)
	if err != nil {
		return err
	}
	if err := fixedSections(g.cfg, cfg); err != nil {
		return err
	}
	var change *plugins.Change
	if g.pstore != nil {
		if change, err = g.pstore.Prepare(ctx, cfg.Policies); err != nil {
			return err
		}
	} else if len(cfg.Policies) > 0 && g.policies == nil {
		return errors.New("policies: this gateway has no policy store")
	}
	old := g.st.Load()
	st, err := newState(cfg, g.now, g.set)
	if err != nil {
		if change != nil {
			change.Abort()
		}
		return err
	}
	if change != nil {
		if err := change.Commit(); err != nil {
			return fmt.Errorf("policies: %w", err)
		}
		if err := g.pstore.SetRollout(cfg.Rollout); err != nil { // validated with cfg
			return err
		}
	}
	g.st.Store(st)
	logInsecureUpstreams(g.log, cfg)
	// Drop the upstream gauges of targets no longer configured, and let
	// old pools close their idle connections (in-flight requests keep
	// theirs until they finish).
	live := map[string]bool{}
	for _, rt := range st.routes {
		for _, n := range rt.upstream.gauges {
			live[n] = true
		}
	}
	for _, rt := range old.routes {
		for _, n := range rt.upstream.gauges {
			if !live[n] {
				g.set.UnregisterMetric(n)
			}
		}
		rt.upstream.close()
	}
	dropRouteMetrics(g.set, old.routes, st.routes)
	g.log.LogAttrs(ctx, slog.LevelInfo, "config reloaded",
		slog.Int("routes", len(cfg.Routes)), slog.Int("policies", len(cfg.Policies)))
	return nil
}

// fixedSections refuses a reload that changes what only a restart applies.
func fixedSections(cur, next *Config) error {
	var errs []error
	for _, s := range []struct {
		name string
		a, b any
	}{
		{"server", cur.Server, next.Server},
		{"admin", cur.Admin, next.Admin},
		{"cache", cur.Cache, next.Cache},
		{"redis", cur.Redis, next.Redis},
		{"log", cur.Log, next.Log},
		{"kv", cur.KV, next.KV},
	} {
		if !reflect.DeepEqual(s.a, s.b) {
			errs = append(errs, fmt.Errorf("%s: changed; a reload applies [[routes]] and [policies] only, restart to apply [%s]", s.name, s.name))
		}
	}
	return errors.Join(errs...)
}

// handleReload answers POST /reload.
func (g *Gateway) handleReload(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		adminMethodNotAllowed(ctx, "POST")
		return
	}
	if err := g.reloadConfig(context.Background()); err != nil {
		status := fasthttp.StatusBadRequest
		if errors.Is(err, errReloadDisabled) {
			status = fasthttp.StatusNotImplemented
		}
		adminError(ctx, status, err)
		return
	}
	st := g.st.Load()
	adminJSON(ctx, fasthttp.StatusOK, map[string]any{
		"status": "reloaded", "routes": len(st.cfg.Routes), "policies": len(st.cfg.Policies),
	})
}
