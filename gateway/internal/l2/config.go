package l2

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Modes of [Config].Mode.
const (
	ModeStandalone = "standalone"
	ModeSentinel   = "sentinel"
	ModeCluster    = "cluster"
)

// Codecs of [Config].Compression.
const (
	CompressionNone = "none"
	CompressionS2   = "s2"
	CompressionZstd = "zstd"
)

// Config configures a [Tier]. The connection fields mirror the gateway's
// [redis] section; the rest are L2 tuning knobs whose zero values mean the
// defaults of [DefaultConfig]. A Config is copied by New and never read
// again.
type Config struct {
	// Addrs lists Redis addresses (host:port). Standalone uses the first;
	// Sentinel lists the sentinels; Cluster lists seed nodes.
	Addrs []string
	// Mode is ModeStandalone, ModeSentinel or ModeCluster.
	Mode string
	// MasterName is the Sentinel master name (Mode = ModeSentinel).
	MasterName string
	// Username and Password authenticate to Redis.
	Username, Password string
	// SentinelUsername and SentinelPassword authenticate to the sentinels
	// (Mode = ModeSentinel); empty when the sentinels need no AUTH, which
	// is common: a sentinel without requirepass refuses AUTH.
	SentinelUsername, SentinelPassword string
	// DB selects the database (standalone and Sentinel only).
	DB int
	// TLS, when not nil, enables TLS with this configuration.
	TLS *tls.Config
	// PoolSize is the connection pool size per node (0 = go-redis default,
	// 10 per CPU).
	PoolSize int
	// DialTimeout, ReadTimeout and WriteTimeout bound each network step of
	// a command. A timeout counts as a failure for the circuit breaker.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// KeyPrefix prefixes every key and channel. It must not contain '{' or
	// '}' (they would change the cluster hash slot of the metadata keys).
	KeyPrefix string

	// Compression is the codec for values of at least CompressMinSize
	// bytes: CompressionS2 (default), CompressionZstd or CompressionNone. A
	// compressed value is kept only if it saves at least 1/8 of the size.
	Compression string
	// CompressMinSize is the smallest value that is compressed. See the
	// repository's RATIONALE.md for the measured break-even.
	CompressMinSize int
	// MaxValueSize bounds a stored value after decompression; larger values
	// are not written, and a larger stored value reads as an error.
	MaxValueSize int

	// WriteQueue is the number of pending asynchronous writes; when it is
	// full, Set drops the write and counts it.
	WriteQueue int
	// Writers is the number of goroutines draining the write queue.
	Writers int
	// WriteBatch is the most writes one writer sends in one pipeline.
	WriteBatch int

	// BreakerFailures consecutive failures (errors, timeouts or calls slower
	// than SlowCall) open the circuit breaker.
	BreakerFailures int
	// BreakerCooldown is how long the breaker stays open before the first
	// background probe; it doubles after each failed probe up to
	// BreakerMaxCooldown.
	BreakerCooldown, BreakerMaxCooldown time.Duration
	// SlowCall is the latency from which a successful call still counts as
	// a failure (Redis is up but too slow to be worth waiting for). Zero
	// disables the check.
	SlowCall time.Duration

	// SyncInterval is how often the subscriber checks the purge epoch in
	// Redis and pings its connection; it bounds how long a lost
	// invalidation message can go unnoticed (about twice this).
	SyncInterval time.Duration
	// ResyncAlways makes every reconnection of the subscriber call
	// OnResync, instead of only those where the purge epoch moved.
	ResyncAlways bool
	// NodeID names this node in published invalidations (Origin) and in
	// CLIENT LIST. Empty means host name, process id and a random suffix.
	NodeID string
	// Secret is the cluster secret: invalidations are published signed
	// with it (HMAC-SHA256) and only those it verifies are applied. Empty
	// means Redis is trusted: messages are only checked for shape and
	// bounds. Every node sharing the Redis must have the same secret.
	Secret string
}

// DefaultConfig returns the defaults used for zero fields of a Config.
func DefaultConfig() Config {
	return Config{
		Mode:               ModeStandalone,
		DialTimeout:        time.Second,
		ReadTimeout:        200 * time.Millisecond,
		WriteTimeout:       200 * time.Millisecond,
		KeyPrefix:          "flowcache:",
		Compression:        CompressionS2,
		CompressMinSize:    defaultCompressMinSize,
		MaxValueSize:       64 << 20,
		WriteQueue:         4096,
		Writers:            2,
		WriteBatch:         64,
		BreakerFailures:    5,
		BreakerCooldown:    500 * time.Millisecond,
		BreakerMaxCooldown: 10 * time.Second,
		SlowCall:           0,
		SyncInterval:       time.Second,
	}
}

// withDefaults fills the zero fields of c from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	orDefault(&c.Mode, d.Mode)
	orDefault(&c.DialTimeout, d.DialTimeout)
	orDefault(&c.ReadTimeout, d.ReadTimeout)
	orDefault(&c.WriteTimeout, d.WriteTimeout)
	orDefault(&c.Compression, d.Compression)
	orDefault(&c.CompressMinSize, d.CompressMinSize)
	orDefault(&c.MaxValueSize, d.MaxValueSize)
	orDefault(&c.WriteQueue, d.WriteQueue)
	orDefault(&c.Writers, d.Writers)
	orDefault(&c.WriteBatch, d.WriteBatch)
	orDefault(&c.BreakerFailures, d.BreakerFailures)
	orDefault(&c.BreakerCooldown, d.BreakerCooldown)
	// The cap must not be below a configured cooldown.
	orDefault(&c.BreakerMaxCooldown, max(d.BreakerMaxCooldown, c.BreakerCooldown))
	orDefault(&c.SyncInterval, d.SyncInterval)
	return c
}

// orDefault sets *v to d when *v is the zero value.
func orDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// Validate reports every problem of c (after defaults), joined.
func (c Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("l2: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if len(c.Addrs) == 0 {
		add("addrs", "at least one address is required")
	}
	for i, a := range c.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			add(fmt.Sprintf("addrs[%d]", i), "invalid address %q (want host:port)", a)
		}
	}
	switch c.Mode {
	case ModeStandalone, ModeCluster:
	case ModeSentinel:
		if c.MasterName == "" {
			add("master_name", "required in sentinel mode")
		}
	default:
		add("mode", "must be standalone, sentinel or cluster; got %q", c.Mode)
	}
	for _, r := range c.KeyPrefix {
		if r == '{' || r == '}' {
			add("key_prefix", "must not contain '{' or '}'; got %q", c.KeyPrefix)
			break
		}
	}
	switch c.Compression {
	case CompressionNone, CompressionS2, CompressionZstd:
	default:
		add("compression", "must be none, s2 or zstd; got %q", c.Compression)
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"compress_min_size", c.CompressMinSize}, {"max_value_size", c.MaxValueSize},
		{"write_queue", c.WriteQueue}, {"writers", c.Writers}, {"write_batch", c.WriteBatch},
		{"breaker_failures", c.BreakerFailures},
	} {
		if f.v < 0 {
			add(f.name, "must not be negative; got %d", f.v)
		}
	}
	if c.DialTimeout < 0 || c.ReadTimeout < 0 || c.WriteTimeout < 0 || c.SlowCall < 0 ||
		c.BreakerCooldown < 0 || c.BreakerMaxCooldown < 0 || c.SyncInterval < 0 {
		add("timeouts", "durations must not be negative")
	}
	return errors.Join(errs...)
}

// UniversalOptions returns the go-redis options of a client of the Redis
// that c names (after defaults): mode and addresses, credentials (the
// sentinels' too), database, TLS, pool size and timeouts, named clientName
// in CLIENT LIST. Every client of the gateway is built from it, so that
// they all reach Redis the same way; a caller may tune retries and pool
// size on the result, which is its own.
func (c Config) UniversalOptions(clientName string) *redis.UniversalOptions {
	c = c.withDefaults()
	opts := &redis.UniversalOptions{
		ClientName:            clientName,
		Username:              c.Username,
		Password:              c.Password,
		SentinelUsername:      c.SentinelUsername,
		SentinelPassword:      c.SentinelPassword,
		DB:                    c.DB,
		TLSConfig:             c.TLS,
		PoolSize:              c.PoolSize,
		DialTimeout:           c.DialTimeout,
		ReadTimeout:           c.ReadTimeout,
		WriteTimeout:          c.WriteTimeout,
		ContextTimeoutEnabled: true,
		// Cluster maintenance notifications are for managed Redis; plain
		// servers answer the handshake with an error.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	switch c.Mode {
	case ModeSentinel:
		opts.Addrs = c.Addrs
		opts.MasterName = c.MasterName
	case ModeCluster:
		opts.Addrs = c.Addrs
		opts.IsClusterMode = true
		opts.DB = 0
	default:
		if len(c.Addrs) > 0 {
			opts.Addrs = c.Addrs[:1]
		}
	}
	return opts
}

// Deps are the collaborators of a [Tier]. All fields are optional.
type Deps struct {
	// Logger receives the tier's logs, with component=l2. Nil discards.
	Logger *slog.Logger
	// OnInvalidate, when set, starts the subscriber: it is called, from the
	// subscriber goroutine and one message at a time, for every invalidation
	// published by any node (this one included; compare Origin). It must not
	// block for long: messages queue behind it.
	OnInvalidate func(Invalidation)
	// OnResync, when set (it also starts the subscriber), is called from the
	// subscriber goroutine when invalidations may have been missed: after a
	// reconnection when the purge epoch moved meanwhile, or when Redis lost
	// its data. The node must then flush (or re-check) its L1.
	OnResync func(Resync)
	// Dialer, when set, replaces the TCP dialer (fault injection in tests,
	// proxies).
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
}
