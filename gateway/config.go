package gateway

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/flowcache/flowcache/internal/keypath"
	"github.com/flowcache/flowcache/internal/units"
	"github.com/flowcache/flowcache/plugins"
)

// Config is the whole of config.toml. Omitted keys take the values of
// [DefaultConfig]; cmd/flowcache decodes the file strictly (unknown keys are
// errors) on top of DefaultConfig, applies the environment (a FLOWCACHE_
// variable per key, named from the toml tags) and then calls Validate.
// Fields tagged secret:"true" may be read from a file and are redacted
// when the configuration is printed.
//
// A Config is immutable once passed to [New]: a reload builds a new one.
type Config struct {
	Server ServerConfig  `toml:"server"`
	Admin  AdminConfig   `toml:"admin"`
	Cache  CacheConfig   `toml:"cache"`
	Redis  RedisConfig   `toml:"redis"`
	Log    LogConfig     `toml:"log"`
	Routes []RouteConfig `toml:"routes"`
	// KV is the look-aside API (kvconfig.go); off unless [kv] listen is set.
	KV KVConfig `toml:"kv"`
	// Policies are the WebAssembly cache policies, one [policies.NAME]
	// section each; a route uses one with policy = "NAME". cmd fills the
	// omitted limits with PolicyDefaults.
	Policies map[string]plugins.Config `toml:"policies"`
	// Rollout holds the automatic rollback thresholds of shadow and canary
	// rollouts and the shadow queue ([rollout]; zero values are the
	// defaults of plugins.DefaultRolloutConfig).
	Rollout plugins.RolloutConfig `toml:"rollout"`
}

// ServerConfig is the [server] section: the data-plane listener and its limits.
type ServerConfig struct {
	// Listen is the data-plane address, host:port.
	Listen string `toml:"listen"`
	// ReadHeaderTimeout bounds reading a request head (slowloris defence).
	ReadHeaderTimeout units.Duration `toml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, head and body.
	ReadTimeout units.Duration `toml:"read_timeout"`
	// WriteTimeout bounds writing a response.
	WriteTimeout units.Duration `toml:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout units.Duration `toml:"idle_timeout"`
	// MaxHeaderSize bounds a request head; larger heads get 431.
	MaxHeaderSize units.Size `toml:"max_header_size"`
	// MaxBodySize bounds a request body; larger bodies get 413.
	MaxBodySize units.Size `toml:"max_body_size"`
	// MaxConns bounds concurrent client connections, idle keep-alive ones
	// included; a connection beyond it is answered 503 and closed.
	MaxConns int `toml:"max_conns"`
	// ShutdownTimeout bounds the drain of in-flight requests on SIGTERM.
	ShutdownTimeout units.Duration `toml:"shutdown_timeout"`
	// DrainDelay is how long, on SIGTERM, the gateway keeps serving while
	// /readyz answers 503, before it stops accepting: the time a load
	// balancer needs to see it and take the node out. Default 0.
	DrainDelay units.Duration `toml:"drain_delay"`
	// ListenWhileLoading makes the node listen before its WebAssembly
	// policies are loaded (compiled): /readyz answers 503 until every one
	// is, and a request for a route whose policy is still loading waits for
	// it up to LoadingWait, then is served with the default policy. False
	// (the default): nothing listens until every policy is loaded.
	ListenWhileLoading bool `toml:"listen_while_loading"`
	// LoadingWait bounds how long a request waits for its route's policy
	// to load (ListenWhileLoading). Default 2s; 0 serves at once with the
	// default policy.
	LoadingWait units.Duration `toml:"loading_wait"`
	// TrustedProxies lists the peers (CIDRs or single addresses) whose
	// forwarding fields say who the client is: X-Forwarded-For and
	// X-Forwarded-Proto, or Forwarded (see RealIPHeader). From any other
	// peer they are ignored (and never forwarded). Default: none.
	TrustedProxies []string `toml:"trusted_proxies"`
	// RealIPHeader is the field a trusted proxy writes the client's
	// address in: "X-Forwarded-For" (default, with X-Forwarded-Proto) or
	// "Forwarded" (RFC 7239). Only that one is believed: a proxy passes the
	// other through from the client untouched.
	RealIPHeader string `toml:"real_ip_header"`
}

// AdminConfig is the [admin] section: admin API, /metrics, /healthz, /readyz.
type AdminConfig struct {
	// Listen is the admin address, host:port. Loopback by default.
	Listen string `toml:"listen"`
	// Token is the bearer token required by the admin API and PURGE. Empty
	// means only loopback clients (with a loopback Host) are allowed.
	Token string `toml:"token" secret:"true"`
	// DataDir holds uploaded policy versions (policies/) and the policies'
	// compilation cache (wasm-cache/); empty keeps uploads in memory only.
	// cmd makes a relative path relative to the config file's directory.
	DataDir string `toml:"data_dir"`
	// CompilationCache, true by default, keeps the policies' compiled
	// machine code on disk so that a restart does not compile unchanged
	// modules again: in DataDir/wasm-cache when DataDir is set, else in the
	// user's cache directory (os.UserCacheDir()/flowcache/wasm, e.g.
	// $XDG_CACHE_HOME or ~/.cache). False compiles every module at every
	// start, in a temporary directory removed at exit.
	CompilationCache bool `toml:"compilation_cache"`
	// CompilationCacheSize bounds the compilation cache on disk: after a
	// module is compiled, the least recently written files are removed
	// until the rest fits. Every uploaded version leaves about 13 MB for a
	// 2.3 MB Go module. Default 1GiB; at least 64MiB.
	CompilationCacheSize units.Size `toml:"compilation_cache_size"`
	// TieredCompilation, true by default, starts a policy module that was
	// never compiled on this node (an upload, a new flowcache, an empty
	// compilation cache) on wazero's interpreter, ready in about a tenth of
	// the compile's time, and moves its calls to the compiled code when a
	// background compile (one module at a time) ends. Interpreted calls
	// cost 17 to 40 times more CPU. False: a load waits for the compile.
	TieredCompilation bool `toml:"tiered_compilation"`
	// StartHugePages, true by default, backs the memory the start's policy
	// loads allocate with transparent huge pages on Linux when the kernel
	// gives them only to memory that asks (transparent_hugepage/enabled
	// is "madvise"): 512 times fewer page faults, which dominate a load on
	// a virtual machine. Memory allocated after the start is left to the
	// kernel's default. Without effect elsewhere.
	StartHugePages bool `toml:"start_huge_pages"`
}

// CacheConfig is the [cache] section: the in-process L1 and cache-wide rules.
type CacheConfig struct {
	// L1Size is the memory given to the in-process cache (freecache). At
	// least 512KiB.
	L1Size units.Size `toml:"l1_size"`
	// MaxObjectSize is the largest response body that is cached; larger
	// responses are streamed through and never buffered whole.
	MaxObjectSize units.Size `toml:"max_object_size"`
	// DefaultTTL is the freshness lifetime given to cacheable responses that
	// carry no explicit expiration. 0 means RFC 9111 heuristic freshness
	// (Section 4.2.2) where allowed, else not stored.
	DefaultTTL units.Duration `toml:"default_ttl"`
	// CoalesceTimeout bounds how long a request waits for a concurrent
	// request for the same key before making its own upstream request.
	CoalesceTimeout units.Duration `toml:"coalesce_timeout"`
	// HonorClientNoCache, true by default (RFC 9111, Section 5.2.1), lets a
	// request's Cache-Control no-cache or max-age and Pragma: no-cache make
	// the cache validate with the origin. False ignores them, as Varnish
	// and CDNs do: such a request is served from the cache like any other.
	HonorClientNoCache bool `toml:"honor_client_no_cache"`
	// IndexSize bounds the memory of the L1 tag and host index, which tag
	// and prefix purges use to find what L1 holds; 0 means a quarter of
	// L1Size. Every URL in L1 has a place in it: when it is full, the
	// oldest URLs leave both the index and L1.
	IndexSize units.Size `toml:"index_size"`
	// StaleIfError is the operator's stale-if-error window (RFC 9111,
	// Section 4.2.4; Varnish's grace, nginx's proxy_cache_use_stale): when
	// the upstream cannot be reached, times out or answers 5xx, a stored
	// response stale by at most this long is served instead of the error,
	// unless it has must-revalidate, proxy-revalidate, s-maxage or
	// no-cache. 0 (the default) leaves it to the response's own
	// stale-if-error. A route's stale_if_error overrides it.
	StaleIfError units.Duration `toml:"stale_if_error"`
	// LargeSize is the part of L1Size given to the large-object tier:
	// bodies of at least LargeMinSize are kept there as immutable slices
	// and served without a copy, instead of being chunked in freecache,
	// which gets the rest. 0 means a quarter of L1Size (none below 4MiB).
	LargeSize units.Size `toml:"large_size"`
	// LargeMinSize is the smallest body the large-object tier takes; one
	// above MaxObjectSize turns the tier off.
	LargeMinSize units.Size `toml:"large_min_size"`
}

// defaultLargeMinSize is cache.large_min_size's default: from there on, a
// hit served from the large-object tier beats one copied out of freecache
// (see README, Large objects).
const defaultLargeMinSize = 64 << 10

// maxStaleIfError bounds [cache] and route stale_if_error: entries are kept
// that much longer in both tiers.
const maxStaleIfError = 30 * 24 * time.Hour

// indexSize is IndexSize, or its default.
func (c *CacheConfig) indexSize() units.Size {
	if c.IndexSize > 0 {
		return c.IndexSize
	}
	return c.L1Size / 4
}

// largeSize is the memory of the large-object tier, carved out of L1Size:
// LargeSize, or its default; 0 when the tier is off (LargeMinSize above
// MaxObjectSize, or no default for an L1 under 4MiB).
func (c *CacheConfig) largeSize() units.Size {
	switch {
	case c.LargeMinSize > c.MaxObjectSize:
		return 0
	case c.LargeSize > 0:
		return c.LargeSize
	case c.L1Size >= 4<<20:
		return c.L1Size / 4
	}
	return 0
}

// minRedisSecret is the shortest [redis] secret accepted.
const minRedisSecret = 16

// RedisConfig is the [redis] section: the shared L2. Empty Addrs disables it.
type RedisConfig struct {
	// Addrs lists Redis addresses (host:port); empty disables L2.
	Addrs []string `toml:"addrs"`
	// Mode is "standalone", "sentinel" or "cluster".
	Mode string `toml:"mode"`
	// MasterName is the Sentinel master name (mode = "sentinel").
	MasterName string `toml:"master_name"`
	Username   string `toml:"username"`
	Password   string `toml:"password" secret:"true"`
	DB         int    `toml:"db"`
	// TLS enables TLS to Redis.
	TLS bool `toml:"tls"`
	// PoolSize is the connection pool size per node (0 = go-redis default).
	PoolSize     int            `toml:"pool_size"`
	DialTimeout  units.Duration `toml:"dial_timeout"`
	ReadTimeout  units.Duration `toml:"read_timeout"`
	WriteTimeout units.Duration `toml:"write_timeout"`
	// KeyPrefix prefixes every key and channel this gateway uses in Redis.
	KeyPrefix string `toml:"key_prefix"`
	// SentinelUsername and SentinelPassword authenticate to the sentinels
	// (mode = "sentinel"); leave empty when the sentinels need no AUTH.
	SentinelUsername string `toml:"sentinel_username"`
	SentinelPassword string `toml:"sentinel_password" secret:"true"`
	// Secret is the cluster secret shared by every node of this Redis:
	// invalidations and policy events are signed with it (HMAC-SHA256), and
	// those that do not verify are rejected and counted. Empty means
	// Redis is trusted (a warning is logged at start). $FLOWCACHE_REDIS_SECRET
	// (or a file named by $FLOWCACHE_REDIS_SECRET_FILE) wins over the file.
	Secret string `toml:"secret" secret:"true"`

	// The L2 tuning knobs below default (when zero) to measured values;
	// see the README's "Redis L2" section.

	// Compression is the codec for values of at least CompressMinSize:
	// "s2" (default), "zstd" (smaller, slower to decode) or "none".
	Compression     string     `toml:"compression"`
	CompressMinSize units.Size `toml:"compress_min_size"`
	// WriteQueue bounds the pending asynchronous L2 writes; a full queue
	// drops the write (never the response). Writers drain it.
	WriteQueue int `toml:"write_queue"`
	Writers    int `toml:"writers"`
	// BreakerFailures consecutive failures open the circuit breaker, which
	// keeps Redis off the request path for BreakerCooldown (doubling up to a
	// bound while probes fail). SlowCall makes a successful call slower
	// than it count as a failure (0 = off).
	BreakerFailures int            `toml:"breaker_failures"`
	BreakerCooldown units.Duration `toml:"breaker_cooldown"`
	SlowCall        units.Duration `toml:"slow_call"`
	// SyncInterval is how often a node checks the purge epoch in Redis
	// (the bound on how long a lost invalidation can go unnoticed).
	SyncInterval units.Duration `toml:"sync_interval"`
	// ResyncAlways flushes L1 on every reconnection to Redis, instead of
	// only when a purge happened meanwhile.
	ResyncAlways bool `toml:"resync_always"`
}

// LogConfig is the [log] section.
type LogConfig struct {
	// Level is "debug", "info", "warn" or "error".
	Level string `toml:"level"`
	// Format is "text" or "json".
	Format string `toml:"format"`
	// Access is the access log: "off", "json" or "combined" (accesslog.go).
	Access string `toml:"access"`
	// AccessSample is the fraction of requests logged, in (0, 1].
	AccessSample float64 `toml:"access_sample"`
	// AccessFile is where access lines go; "" means standard error. It is
	// reopened by Gateway.ReopenAccessLog (SIGUSR1).
	AccessFile string `toml:"access_file"`
}

// RouteConfig is one [[routes]] entry. A request is routed to the route whose
// Host matches (exactly, or "*") and whose PathPrefix is the longest prefix of
// the request path; an exact host beats "*".
type RouteConfig struct {
	// Name identifies the route in metrics, logs and keys. Unique.
	Name string `toml:"name"`
	// Host is the request host to match (no port), or "*" for any.
	Host string `toml:"host"`
	// PathPrefix is the path prefix to match; it starts with "/".
	PathPrefix string `toml:"path_prefix"`
	// Upstreams are the origin base URLs ("http://host:port"), used
	// round-robin, skipping targets marked down by passive health checks.
	Upstreams []string `toml:"upstreams"`
	// Policy names the cache policy: "default" (native) or a [policies.NAME].
	Policy string `toml:"policy"`
	// UpstreamHost, if set, replaces the Host header sent upstream; by
	// default the upstream sees the client's Host.
	UpstreamHost string `toml:"upstream_host"`
	// ConnectTimeout bounds dialing an upstream target.
	ConnectTimeout units.Duration `toml:"connect_timeout"`
	// Timeout bounds one upstream exchange (write request, read response).
	Timeout units.Duration `toml:"timeout"`
	// MaxConnsPerUpstream bounds connections to each target.
	MaxConnsPerUpstream int `toml:"max_conns_per_upstream"`
	// MaxFails failures within FailTimeout mark a target down for
	// FailTimeout (as nginx's max_fails/fail_timeout).
	MaxFails    int            `toml:"max_fails"`
	FailTimeout units.Duration `toml:"fail_timeout"`
	// NoCache, when true, proxies the route without caching.
	NoCache bool `toml:"no_cache"`
	// DefaultTTL overrides [cache].default_ttl for this route when set.
	DefaultTTL *units.Duration `toml:"default_ttl"`
	// StaleIfError overrides [cache].stale_if_error for this route when set.
	StaleIfError *units.Duration `toml:"stale_if_error"`
	// TLSCAFile is a PEM file of the certificate authorities trusted for
	// the route's https upstreams, instead of the system's. cmd makes a
	// relative path relative to the config file's directory.
	TLSCAFile string `toml:"tls_ca_file"`
	// TLSServerName is the name sent in SNI and checked against an https
	// upstream's certificate; by default the host of the upstream URL. It
	// does not change the Host header sent upstream.
	TLSServerName string `toml:"tls_server_name"`
	// TLSInsecureSkipVerify accepts any certificate from the route's https
	// upstreams (no chain or name check): for tests only, logged as a
	// warning at start and on every reload.
	TLSInsecureSkipVerify bool `toml:"tls_insecure_skip_verify"`
}

// DefaultConfig returns the configuration used for omitted keys: listeners
// on loopback, a 256MiB L1, no Redis, and no routes (a config file must
// declare at least one; `flowcache serve` without a config file adds a
// catch-all route to the quick start's example origin on 127.0.0.1:9000).
func DefaultConfig() Config {
	return Config{
		Server: ServerConfig{
			Listen:            "127.0.0.1:8080",
			ReadHeaderTimeout: units.Duration(10 * time.Second),
			ReadTimeout:       units.Duration(30 * time.Second),
			WriteTimeout:      units.Duration(30 * time.Second),
			IdleTimeout:       units.Duration(90 * time.Second),
			MaxHeaderSize:     16 << 10,
			MaxBodySize:       10 << 20,
			MaxConns:          10000,
			ShutdownTimeout:   units.Duration(15 * time.Second),
			RealIPHeader:      "X-Forwarded-For",
			LoadingWait:       units.Duration(2 * time.Second),
		},
		Admin: AdminConfig{Listen: "127.0.0.1:9090", CompilationCache: true, CompilationCacheSize: 1 << 30, TieredCompilation: true, StartHugePages: true},
		Cache: CacheConfig{
			L1Size:             256 << 20,
			MaxObjectSize:      8 << 20,
			CoalesceTimeout:    units.Duration(10 * time.Second),
			HonorClientNoCache: true,
			LargeMinSize:       defaultLargeMinSize,
		},
		Redis: RedisConfig{
			Mode:         "standalone",
			DialTimeout:  units.Duration(time.Second),
			ReadTimeout:  units.Duration(200 * time.Millisecond),
			WriteTimeout: units.Duration(200 * time.Millisecond),
			KeyPrefix:    "flowcache:",
		},
		Log: LogConfig{Level: "info", Format: "text", Access: accessOff, AccessSample: 1},
	}
}

// RouteDefaults fills the zero fields of a route with their defaults. cmd
// calls it for every [[routes]] entry after decoding.
func RouteDefaults(r *RouteConfig) {
	if r.Host == "" {
		r.Host = "*"
	}
	if r.PathPrefix == "" {
		r.PathPrefix = "/"
	}
	if r.Policy == "" {
		r.Policy = "default"
	}
	if r.ConnectTimeout == 0 {
		r.ConnectTimeout = units.Duration(2 * time.Second)
	}
	if r.Timeout == 0 {
		r.Timeout = units.Duration(30 * time.Second)
	}
	if r.MaxConnsPerUpstream == 0 {
		r.MaxConnsPerUpstream = 512
	}
	if r.MaxFails == 0 {
		r.MaxFails = 1
	}
	if r.FailTimeout == 0 {
		r.FailTimeout = units.Duration(10 * time.Second)
	}
}

// PolicyDefaults fills the zero limits of a [policies.NAME] section with
// plugins' defaults (max_memory, fuel, max_module_size). cmd calls it for
// every section after decoding.
func PolicyDefaults(c *plugins.Config) {
	d := plugins.DefaultConfig()
	if c.MaxMemory == 0 {
		c.MaxMemory = d.MaxMemory
	}
	if c.Fuel == 0 {
		c.Fuel = d.Fuel
	}
	if c.MaxModuleSize == 0 {
		c.MaxModuleSize = d.MaxModuleSize
	}
}

// policyName is what a policy may be called: it appears in URLs
// (/policies/NAME), key paths and metrics.
var policyName = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,63}$`)

// ValidPolicyName reports whether name may name a policy: 1 to 64 of
// [a-z0-9_], not starting with "_", and not "default" (the native policy).
func ValidPolicyName(name string) bool {
	return name != "default" && policyName.MatchString(name)
}

// FieldError is one problem of a configuration: the key path it is at
// ("routes[2].upstreams[0]", "policies.norm.max_memory"; "" for none) and
// what is wrong there. Its Error method formats "path: message". Read it
// from Validate's error with errors.As on each joined error.
type FieldError = keypath.Error

// Validate reports every problem in c as a *[FieldError], joined with
// errors.Join, nil when there is none.
func (c *Config) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, keypath.Errorf(path, format, args...))
	}
	checkAddr := func(path, addr string) {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			add(path, "invalid address %q (want host:port)", addr)
		}
	}
	checkAddr("server.listen", c.Server.Listen)
	checkAddr("admin.listen", c.Admin.Listen)
	if c.Server.MaxHeaderSize < 1<<10 {
		add("server.max_header_size", "must be at least 1KiB, got %s", c.Server.MaxHeaderSize)
	}
	if c.Admin.CompilationCacheSize < 64<<20 {
		add("admin.compilation_cache_size", "must be at least 64MiB, got %s", c.Admin.CompilationCacheSize)
	}
	if c.Server.MaxConns <= 0 {
		add("server.max_conns", "must be positive, got %d", c.Server.MaxConns)
	}
	if w := c.Server.LoadingWait.D(); w < 0 || w > time.Minute {
		add("server.loading_wait", "must be in [0s, 1m], got %s", c.Server.LoadingWait)
	}
	for i, p := range c.Server.TrustedProxies {
		if _, err := parseProxy(p); err != nil {
			add(fmt.Sprintf("server.trusted_proxies[%d]", i), "%q is neither a CIDR nor an IP address", p)
		}
	}
	switch strings.ToLower(c.Server.RealIPHeader) {
	case "", "x-forwarded-for", realIPForwarded:
	default:
		add("server.real_ip_header", "must be X-Forwarded-For or Forwarded; got %q", c.Server.RealIPHeader)
	}
	if c.Cache.L1Size < 512<<10 {
		add("cache.l1_size", "must be at least 512KiB, got %s", c.Cache.L1Size)
	}
	if c.Cache.MaxObjectSize <= 0 {
		add("cache.max_object_size", "must be positive")
	} else if c.Cache.MaxObjectSize > c.Cache.L1Size/4 && c.Cache.L1Size >= 512<<10 {
		// freecache refuses entries larger than 1/1024 of its size; bodies
		// above that are stored in chunks, but one object must not be able
		// to take a quarter of the cache.
		add("cache.max_object_size", "%s is more than a quarter of cache.l1_size (%s)", c.Cache.MaxObjectSize, c.Cache.L1Size)
	}
	checkStaleIfError := func(path string, d units.Duration) {
		if d < 0 || d.D() > maxStaleIfError {
			add(path, "must be between 0s and %s, got %s", maxStaleIfError, d.D())
		}
	}
	checkStaleIfError("cache.stale_if_error", c.Cache.StaleIfError)
	if c.Cache.LargeSize != 0 && (c.Cache.LargeSize < 1<<20 || c.Cache.LargeSize > c.Cache.L1Size/2) {
		add("cache.large_size", "must be 0 (a quarter of cache.l1_size) or from 1MiB to half of cache.l1_size (%s), got %s", c.Cache.L1Size/2, c.Cache.LargeSize)
	}
	if c.Cache.LargeMinSize < 1<<10 {
		add("cache.large_min_size", "must be at least 1KiB, got %s", c.Cache.LargeMinSize)
	}
	if c.Cache.IndexSize != 0 && c.Cache.IndexSize < 64<<10 {
		add("cache.index_size", "must be 0 (a quarter of cache.l1_size) or at least 64KiB, got %s", c.Cache.IndexSize)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "must be one of debug, info, warn, error; got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format", "must be text or json; got %q", c.Log.Format)
	}
	c.Log.validateAccess(add)
	if len(c.Redis.Addrs) > 0 {
		switch c.Redis.Mode {
		case "standalone", "cluster":
		case "sentinel":
			if c.Redis.MasterName == "" {
				add("redis.master_name", "required when redis.mode = \"sentinel\"")
			}
		default:
			add("redis.mode", "must be standalone, sentinel or cluster; got %q", c.Redis.Mode)
		}
		for i, a := range c.Redis.Addrs {
			checkAddr(fmt.Sprintf("redis.addrs[%d]", i), a)
		}
		switch c.Redis.Compression {
		case "", "s2", "zstd", "none":
		default:
			add("redis.compression", "must be s2, zstd or none; got %q", c.Redis.Compression)
		}
		for _, n := range []struct {
			key string
			v   int
		}{{"write_queue", c.Redis.WriteQueue}, {"writers", c.Redis.Writers}, {"breaker_failures", c.Redis.BreakerFailures}, {"pool_size", c.Redis.PoolSize}} {
			if n.v < 0 {
				add("redis."+n.key, "must not be negative")
			}
		}
		if strings.ContainsAny(c.Redis.KeyPrefix, "{}") {
			add("redis.key_prefix", "must not contain '{' or '}' (they would change Redis Cluster hash slots)")
		}
		if n := len(c.Redis.Secret); n > 0 && n < minRedisSecret {
			add("redis.secret", "must be at least %d bytes (got %d); use a random string, e.g. openssl rand -hex 32", minRedisSecret, n)
		}
	}
	if len(c.Routes) == 0 {
		add("routes", "at least one [[routes]] entry is required")
	}
	names := map[string]int{}
	matches := map[string]int{}
	for i := range c.Routes {
		r := &c.Routes[i]
		p := fmt.Sprintf("routes[%d]", i)
		if r.Name == "" {
			add(p+".name", "required")
		} else if j, dup := names[r.Name]; dup {
			add(p+".name", "%q already used by routes[%d]", r.Name, j)
		} else {
			names[r.Name] = i
		}
		if r.Host != "*" && (r.Host == "" || strings.ContainsAny(r.Host, ":/ *")) {
			add(p+".host", "must be a host name without port, or \"*\"; got %q", r.Host)
		}
		if !strings.HasPrefix(r.PathPrefix, "/") {
			add(p+".path_prefix", "must start with \"/\"; got %q", r.PathPrefix)
		}
		m := strings.ToLower(r.Host) + " " + r.PathPrefix
		if j, dup := matches[m]; dup {
			add(p, "host %q and path_prefix %q overlap with routes[%d]", r.Host, r.PathPrefix, j)
		} else {
			matches[m] = i
		}
		if len(r.Upstreams) == 0 {
			add(p+".upstreams", "at least one upstream is required")
		}
		for j, u := range r.Upstreams {
			if err := checkUpstream(u); err != nil {
				add(fmt.Sprintf("%s.upstreams[%d]", p, j), "%w", err)
			}
		}
		if r.UpstreamHost != "" {
			if _, err := normalHost(nil, []byte(r.UpstreamHost)); err != nil {
				add(p+".upstream_host", "must be a host name or IP literal with an optional port; got %q", r.UpstreamHost)
			}
		}
		if r.MaxFails < 0 {
			add(p+".max_fails", "must not be negative")
		}
		if r.StaleIfError != nil {
			checkStaleIfError(p+".stale_if_error", *r.StaleIfError)
		}
		errs = append(errs, r.validateTLS(p)...)
		if _, ok := c.Policies[r.Policy]; !ok && r.Policy != "default" {
			add(p+".policy", "%q is neither \"default\" nor a [policies.NAME] section", r.Policy)
		}
	}
	errs = append(errs, c.KV.validate(len(c.Redis.Addrs) > 0)...)
	errs = append(errs, keypath.Leaves(keypath.Under("rollout", c.Rollout.Validate()))...)
	for _, name := range slices.Sorted(maps.Keys(c.Policies)) {
		p := "policies." + name
		if !ValidPolicyName(name) {
			add(p, "invalid policy name %q (1 to 64 of a-z, 0-9, _; not \"default\")", name)
			continue
		}
		pc := c.Policies[name]
		errs = append(errs, keypath.Leaves(keypath.Under(p, pc.Validate()))...)
	}
	return errors.Join(errs...)
}

// validateTLS checks the route's tls_* keys (p is the route's key path):
// they need an https upstream, and the CA file must be readable and hold at
// least one certificate. The errors are *FieldError.
func (r *RouteConfig) validateTLS(p string) []error {
	if r.TLSCAFile == "" && r.TLSServerName == "" && !r.TLSInsecureSkipVerify {
		return nil
	}
	var errs []error
	if !slices.ContainsFunc(r.Upstreams, func(u string) bool { return strings.HasPrefix(u, "https://") }) {
		errs = append(errs, keypath.Errorf(p, "tls_ca_file, tls_server_name and tls_insecure_skip_verify need an https upstream"))
	}
	if r.TLSCAFile != "" {
		if _, err := loadCAFile(r.TLSCAFile); err != nil {
			errs = append(errs, keypath.Errorf(p+".tls_ca_file", "%w", err))
		}
	}
	if r.TLSServerName != "" && strings.ContainsAny(r.TLSServerName, ":/ ") {
		errs = append(errs, keypath.Errorf(p+".tls_server_name", "must be a host name without port; got %q", r.TLSServerName))
	}
	return errs
}

func checkUpstream(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("invalid upstream URL %q (want http://host:port)", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("invalid upstream URL %q: scheme must be http or https", s)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("invalid upstream URL %q: only scheme://host[:port] is allowed", s)
	}
	return nil
}
