package gateway

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/plugins"
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
	// Store holds the WebAssembly policies' versions; when set it is the
	// PolicySource (Policies is ignored) and the admin API's /policies
	// endpoints manage it. The caller has loaded cfg.Policies into it
	// (Prepare, Commit) and closes it after Shutdown.
	Store *plugins.Store
	// Reload re-reads the configuration for POST /reload (and SIGHUP in
	// cmd): it returns a decoded, defaulted and validated Config, or an
	// error saying precisely what is wrong. Nil disables /reload.
	Reload func(ctx context.Context) (*Config, error)
	// AccessLog receives the access log ([log] access) when no
	// access_file is set; nil means os.Stderr.
	AccessLog io.Writer
}

// PolicySource resolves a policy name to the policy currently serving it.
// It is called once per cacheable request, must be safe for concurrent use
// and should not allocate; the plugins package implements it with an
// atomic pointer swapped on upload ([plugins.Store]).
//
// A policy it returns may be a [PolicyLease]: the gateway then calls
// Release exactly once, when the request and any background refresh it
// started no longer use it.
type PolicySource interface {
	Policy(name string) (policy.Policy, bool)
}

// PolicyLease is a policy handed out for one request by a PolicySource,
// pinned to one version ([plugins.Active]).
type PolicyLease interface {
	policy.Policy
	// Namespace is added to the cache key of every entry stored with this
	// lease's policy: entries stored under another version (or another
	// activation of it) are never served. It must not be modified.
	Namespace() []byte
	// Label names the version for the Flowcache-Policy response header
	// ("name@version"). It must not be modified.
	Label() []byte
	// Retain takes another reference for a holder that outlives the
	// current one (a background refresh); Release drops one.
	Retain()
	Release()
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
	// policyCounters keeps the policy counters monotonic (metrics.go).
	policyCounters policyCounters
	access         *accessLog // nil when [log] access is off
	audit          *auditLog
	hot            *hotKeys
	sessions       sessionStore // browser logins (session.go)

	// st holds what a reload swaps: the configuration's routes.
	st       atomic.Pointer[gwState]
	reloadMu sync.Mutex // serialises reloads
	reload   func(ctx context.Context) (*Config, error)
	pstore   *plugins.Store
	psync    *policySync  // nil without Redis or Store (policysync.go)
	reloadOK atomic.Int64 // flowcache_config_last_reload_successful

	l1      *l1Cache
	l2      l2Tier
	inv     invalState // L1 side of purges (invalidate.go)
	flights flightGroup
	records recordLocks

	// fanout bounds the cluster fan-out of invalidations after unsafe
	// requests (fanout.go).
	fanout fanoutLimiter

	server *fasthttp.Server
	admin  *fasthttp.Server
	kv     *kvService // the look-aside API; nil when [kv] listen is empty

	// trusted holds [server] trusted_proxies; realIPForwarded is set when
	// real_ip_header is Forwarded (client.go).
	trusted         []netip.Prefix
	realIPForwarded bool

	dates dateHeads // Date fields for answers (respond.go)

	bg       sync.WaitGroup // background refreshes
	warm     warmJobs       // cache warming jobs (warm.go)
	closing  atomic.Bool
	loading  atomic.Pointer[policyLoad] // set while policies load (loading.go)
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
		pstore:   opts.Store,
		reload:   opts.Reload,
		set:      metrics.NewSet(),
	}
	if opts.Store != nil {
		g.policies = opts.Store
	}
	g.reloadOK.Store(1)
	g.trusted = parseTrustedProxies(cfg.Server.TrustedProxies)
	g.realIPForwarded = strings.EqualFold(cfg.Server.RealIPHeader, realIPForwarded)
	g.set.NewGauge("flowcache_config_last_reload_successful", func() float64 { return float64(g.reloadOK.Load()) })
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
	g.hot = newHotKeys(g.now)
	g.noRoute = newRouteMetrics(g.set, "")

	large := cfg.Cache.largeSize()
	g.l1 = newL1Cache(int(cfg.Cache.L1Size-large), g.now, int(large), int(cfg.Cache.LargeMinSize))
	g.l1.register(g.set)
	g.inv.ix.init(int(cfg.Cache.indexSize()))
	g.set.NewGauge("flowcache_cache_index_bytes", func() float64 { return float64(g.inv.ix.bytes()) })
	g.set.NewGauge("flowcache_cache_index_evictions_total", func() float64 { return float64(g.inv.ix.evictions.Load()) })
	g.inv.log.init()
	l2, err := g.newL2Tier(cfg)
	if err != nil {
		g.bgCancel()
		return nil, fmt.Errorf("gateway: l2: %w", err)
	}
	g.l2 = l2
	node, _ := os.Hostname() // without Redis the host names the node; "" if unknown
	if r, ok := l2.(*redisL2); ok {
		node = r.nodeID
	}
	g.audit = newAuditLog(&cfg.Redis, node, g.set, g.log)

	st, err := newState(cfg, g.now, g.set)
	if err != nil {
		g.bgCancel()
		_ = g.l2.Close() // best effort: New failed, the error above is what matters
		return nil, err
	}
	if opts.AccessLog == nil {
		opts.AccessLog = os.Stderr
	}
	if g.access, err = newAccessLog(&cfg.Log, opts.AccessLog, g.set, g.log); err != nil {
		g.bgCancel()
		_ = g.l2.Close() // best effort: New failed, the error above is what matters
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.st.Store(st)
	logInsecureUpstreams(g.log, cfg)
	logOpenAdmin(g.log, cfg)
	if opts.Store != nil && len(cfg.Redis.Addrs) > 0 {
		g.psync = newPolicySync(&cfg.Redis, opts.Store, g.log, g.set)
	}
	g.server = g.newDataServer()
	g.admin = g.newAdminServer()
	g.kv = newKVService(g)
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

// Drain marks the gateway as going away: /readyz answers 503 from now on,
// while both listeners keep serving until Shutdown. It is safe for
// concurrent use.
func (g *Gateway) Drain() { g.closing.Store(true) }

// Shutdown stops accepting connections, waits for in-flight requests and
// background refreshes to finish (or ctx to end), then closes upstream
// connections and the L2 tier. /readyz answers 503 from the first call on.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.closing.Store(true)
	var errs []error
	if err := g.server.ShutdownWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gateway: shutdown data plane: %w", err))
	}
	if err := g.kv.shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gateway: shutdown kv: %w", err))
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
	if g.access != nil {
		if err := g.access.close(); err != nil {
			errs = append(errs, fmt.Errorf("gateway: close the access log: %w", err))
		}
	}
	if err := g.admin.ShutdownWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gateway: shutdown admin: %w", err))
	}
	for _, rt := range g.st.Load().routes {
		rt.upstream.close()
	}
	if g.psync != nil {
		if err := g.psync.close(); err != nil {
			errs = append(errs, fmt.Errorf("gateway: %w", err))
		}
	}
	if err := g.audit.close(); err != nil {
		errs = append(errs, fmt.Errorf("gateway: %w", err))
	}
	if err := g.l2.Close(); err != nil {
		errs = append(errs, fmt.Errorf("gateway: close l2: %w", err))
	}
	return errors.Join(errs...)
}
