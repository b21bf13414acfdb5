package gateway

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/policy"
)

// Options are the dependencies of a [Gateway] that are not configuration.
type Options struct {
	// Logger receives the gateway's logs; nil discards them.
	Logger *slog.Logger
	// Version is reported by /healthz and in the Server header.
	Version string
	// Now returns the current time; nil means time.Now. Tests inject a
	// fake clock here: freshness, ages, L1 expiry and passive health checks
	// all read it.
	Now func() time.Time
	// Policies resolves route policy names other than "default"; nil means
	// only the native default policy exists. A route whose policy is not
	// found falls back to the default policy for that request (counted in
	// flowcache_policy_fallbacks_total).
	Policies PolicySource
}

// PolicySource resolves a policy name to the policy currently serving it.
// It is called once per cacheable request, must be safe for concurrent use
// and should not allocate; the plugins package implements it with an
// atomic pointer swapped on upload.
type PolicySource interface {
	Policy(name string) (policy.Policy, bool)
}

// Gateway is the caching reverse proxy. It is created by [New], serves the
// data plane with [Gateway.Serve] and the admin plane with
// [Gateway.ServeAdmin], and stops with [Gateway.Shutdown]. Its methods are
// safe for concurrent use.
type Gateway struct {
	cfg      *Config
	log      *slog.Logger
	now      func() time.Time
	version  string
	policies PolicySource

	set     *metrics.Set
	noRoute routeMetrics
	gm      gatewayMetrics

	router  router
	routes  []*route
	l1      *l1Cache
	l2      l2Tier
	flights flightGroup
	records recordLocks

	server *fasthttp.Server
	admin  *fasthttp.Server

	bg       sync.WaitGroup // background refreshes
	closing  atomic.Bool
	bgCtx    context.Context
	bgCancel context.CancelFunc
}

// New builds a gateway from a validated configuration. cfg must not be
// modified afterwards. Nothing listens until Serve and ServeAdmin are called.
func New(cfg *Config, opts Options) (*Gateway, error) {
	if cfg == nil {
		return nil, errors.New("gateway: nil config")
	}
	g := &Gateway{
		cfg:      cfg,
		log:      opts.Logger,
		now:      opts.Now,
		version:  opts.Version,
		policies: opts.Policies,
		set:      metrics.NewSet(),
	}
	g.records.seed = maphash.MakeSeed()
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	g.log = g.log.With(slog.String("component", "gateway"))
	if g.now == nil {
		g.now = time.Now
	}
	if g.version == "" {
		g.version = "dev"
	}
	g.bgCtx, g.bgCancel = context.WithCancel(context.Background())
	g.gm = newGatewayMetrics(g.set)
	g.noRoute = newRouteMetrics(g.set, "")

	g.l1 = newL1Cache(int(cfg.Cache.L1Size), g.now)
	g.l1.register(g.set)
	l2, err := newL2Tier(cfg, g.log, g.set)
	if err != nil {
		g.bgCancel()
		return nil, fmt.Errorf("gateway: l2: %w", err)
	}
	g.l2 = l2

	for i := range cfg.Routes {
		rt, err := newRoute(cfg, i, g.now, g.set)
		if err != nil {
			g.bgCancel()
			_ = g.l2.Close() // best effort: New failed, the error above is what matters
			return nil, err
		}
		g.routes = append(g.routes, rt)
	}
	g.router = newRouter(g.routes)
	g.server = g.newDataServer()
	g.admin = g.newAdminServer()
	return g, nil
}

// Serve answers data-plane requests on ln until Shutdown; it returns nil
// after Shutdown and the listener's error otherwise. ln is closed on return.
func (g *Gateway) Serve(ln net.Listener) error {
	err := g.server.Serve(ln)
	if g.closing.Load() {
		return nil
	}
	return err
}

// ServeAdmin answers the admin plane (/metrics, /healthz, /readyz) on ln
// until Shutdown, with the same return rules as Serve.
func (g *Gateway) ServeAdmin(ln net.Listener) error {
	err := g.admin.Serve(ln)
	if g.closing.Load() {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, waits for in-flight requests and
// background refreshes to finish (or ctx to end), then closes upstream
// connections and the L2 tier. /readyz answers 503 from the first call on.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.closing.Store(true)
	var errs []error
	if err := g.server.ShutdownWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gateway: shutdown data plane: %w", err))
	}
	done := make(chan struct{})
	go func() { g.bg.Wait(); close(done) }()
	select {
	case <-done:
	default:
		select {
		case <-done:
		case <-ctx.Done():
			g.bgCancel()
			errs = append(errs, fmt.Errorf("gateway: shutdown background refreshes: %w", ctx.Err()))
		}
	}
	g.bgCancel()
	if err := g.admin.ShutdownWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gateway: shutdown admin: %w", err))
	}
	for _, rt := range g.routes {
		rt.upstream.close()
	}
	if err := g.l2.Close(); err != nil {
		errs = append(errs, fmt.Errorf("gateway: close l2: %w", err))
	}
	return errors.Join(errs...)
}
