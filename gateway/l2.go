package gateway

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/flowcache/flowcache/gateway/internal/entry"
	"github.com/flowcache/flowcache/gateway/internal/l2"
)

// l2Tier is the shared second cache tier (Redis), behind L1. The gateway
// stores in it the records it stores in L1 under the same keys (entries,
// variant records) when the policy's tier allows, except that an entry is
// always whole in L2, where L1 may chunk its body (see record.go): one
// read per hit. It looks in it on an L1 miss, and deletes from it on PURGE
// and invalidation.
//
// Implementations must be safe for concurrent use, must never block a
// request for long (bounded timeouts, a circuit breaker) and report a dead
// Redis as a miss (found = false) with the error, which the gateway counts
// but never turns into an error page.
type l2Tier interface {
	// Enabled reports whether the tier is configured; when false the
	// gateway skips every other call.
	Enabled() bool
	// Seq returns the tier's invalidation sequence. The gateway reads it
	// before each upstream request and passes it back in l2Index.Seq when
	// storing what that request brought, so that the tier can drop a write
	// that an invalidation (from any node) overtook.
	Seq() uint64
	// Get appends the value stored under key to dst[:0] and returns it.
	Get(ctx context.Context, key, dst []byte) (value []byte, found bool, err error)
	// Set stores value under key for ttl, possibly asynchronously (it may
	// copy and queue, and drop under pressure). The slices are only valid
	// during the call, and so is ix.
	Set(key, value []byte, ttl time.Duration, ix *l2Index)
	// Delete removes keys and returns how many existed.
	Delete(ctx context.Context, keys ...[]byte) (int, error)
	// Close releases the tier's connections.
	Close() error
}

// l2MultiGetter is implemented by an l2Tier that can read several keys in
// one round trip: the body chunks of an entry found in L2.
type l2MultiGetter interface {
	// GetEach reads keys and calls fn for each in order with the value
	// (appended to dst[:0], valid only during fn) and what Get's error
	// would be (nil, or a miss or unavailable error; errL2Invalidated for
	// a soft-purged value). When Redis is unavailable fn is called once,
	// with i = 0 and the error. fn returning false skips the rest. It
	// returns dst (possibly grown) for reuse.
	GetEach(ctx context.Context, keys [][]byte, dst []byte, fn func(i int, value []byte, err error) bool) []byte
}

// l2Index describes a stored record for the tier's purge indexes.
type l2Index struct {
	// Tags is the response's Surrogate-Key value (space separated).
	Tags []byte
	// Host and Path are the policy key's Host and Target: purge by URL
	// removes every record written with them (all variants, all chunks).
	Host, Path []byte
	// Seq is Seq() read before the upstream request.
	Seq uint64
}

// newL2Tier builds the L2 tier from cfg.Redis, with g's L1 as the target of
// the invalidations other nodes publish; with no Redis address it is the
// no-op tier. Redis being down is not an error: the tier starts with its
// circuit breaker open and closes it when Redis answers.
func (g *Gateway) newL2Tier(cfg *Config) (l2Tier, error) {
	rc := &cfg.Redis
	if len(rc.Addrs) == 0 {
		return noL2{}, nil
	}
	lc := l2ConfigOf(rc)
	lc.NodeID = newNodeID()
	if lc.Secret == "" {
		g.log.LogAttrs(context.Background(), slog.LevelWarn, "redis_trusted_without_secret",
			slog.String("hint", "set [redis] secret (or $FLOWCACHE_REDIS_SECRET) on every node: anyone who can write to this Redis can purge this node's cache and push policy modules to it"))
	}
	r := &redisL2{nodeID: lc.NodeID, log: g.log, invalid: g.set.NewCounter("flowcache_l2_invalid_records_total")}
	t, err := l2.New(lc, l2.Deps{
		Logger: g.log,
		OnInvalidate: func(inv l2.Invalidation) {
			if inv.Origin == r.nodeID {
				return // applied to this node's L1 before it was published
			}
			g.applyL1(&inv)
		},
		OnResync: func(l2.Resync) { g.flushL1() },
	})
	if err != nil {
		return nil, err
	}
	r.t = t
	t.RegisterMetrics(g.set)
	return r, nil
}

// l2ConfigOf maps the [redis] section onto the L2 tier's configuration:
// the one source of every Redis client's options (the tier's and the
// policy syncer's, through l2.Config.UniversalOptions).
func l2ConfigOf(rc *RedisConfig) l2.Config {
	lc := l2.Config{
		Addrs:        rc.Addrs,
		Mode:         rc.Mode,
		MasterName:   rc.MasterName,
		Username:     rc.Username,
		Password:     rc.Password,
		DB:           rc.DB,
		PoolSize:     rc.PoolSize,
		DialTimeout:  rc.DialTimeout.D(),
		ReadTimeout:  rc.ReadTimeout.D(),
		WriteTimeout: rc.WriteTimeout.D(),
		KeyPrefix:    rc.KeyPrefix,
		Secret:       rc.Secret,

		SentinelUsername: rc.SentinelUsername,
		SentinelPassword: rc.SentinelPassword,
		Compression:      rc.Compression,
		CompressMinSize:  int(rc.CompressMinSize),
		WriteQueue:       rc.WriteQueue,
		Writers:          rc.Writers,
		BreakerFailures:  rc.BreakerFailures,
		BreakerCooldown:  rc.BreakerCooldown.D(),
		SlowCall:         rc.SlowCall.D(),
		SyncInterval:     rc.SyncInterval.D(),
		ResyncAlways:     rc.ResyncAlways,
	}
	if rc.TLS {
		lc.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return lc
}

// newNodeID names this process in published invalidations and in Redis'
// CLIENT LIST: host name, process id and a random suffix.
func newNodeID() string {
	host, err := os.Hostname()
	if err != nil {
		host = "flowcache"
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// redisL2 is the Redis tier (package l2) behind the l2Tier seam, with the
// purge and health calls of l2Bus.
type redisL2 struct {
	t       *l2.Tier
	nodeID  string
	log     *slog.Logger
	invalid *metrics.Counter // flowcache_l2_invalid_records_total
	warn    l2.WarnLimiter
}

// rejectRecord implements l2Untrusted: it counts a refused record and
// logs it at most once per ten seconds.
func (r *redisL2) rejectRecord(err error) {
	r.invalid.Inc()
	if ok, held := r.warn.Allow(time.Now()); ok {
		r.log.LogAttrs(context.Background(), slog.LevelWarn, "l2_record_rejected",
			slog.String("error", err.Error()), slog.Uint64("suppressed", held))
	}
}

// l2Untrusted is implemented by an l2Tier whose data anyone with access to
// it may have written (Redis): the gateway checks every record it reads
// from it with checkL2Record, and reports the ones it refuses.
type l2Untrusted interface {
	rejectRecord(err error)
}

// maxStoredHeaders bounds the header fields of an entry read from L2.
const maxStoredHeaders = 1024

// Errors of checkL2Record.
var (
	errRecordHead    = errors.New("gateway: l2 record: bad head")
	errRecordVariant = errors.New("gateway: l2 record: bad variant record")
)

// checkL2Record reports why v, a record read from L2, is not one the
// gateway could have written, or nil: a known kind and flags; an entry
// that decodes and passes entry.Check (status, body length up to maxBody,
// header names and values); a variant record whose Vary names are
// lower-case and control-free and whose list holds exactly its count of
// variants, at most maxVariants. It reads v only and does not allocate.
func checkL2Record(v []byte, maxBody int64) error {
	kind, flags, _, payload, ok := parseRecordHead(v)
	if !ok || flags&^recAdmitL1 != 0 {
		return errRecordHead
	}
	switch kind {
	case kindEntry:
		var e entry.Entry
		if err := entry.Decode(payload, &e); err != nil {
			return err
		}
		return e.Check(entry.Limits{MaxBodyLen: maxBody, MaxHeaders: maxStoredHeaders})
	case kindVariants:
		rec, ok := parseVariantRecord(payload)
		if !ok || rec.n > maxVariants || len(rec.names) > maxVaryLen || !varyNames(rec.names) {
			return errRecordVariant
		}
		l := rec.list
		for range rec.n {
			m, rest, ok := nextVariant(l)
			if !ok || len(m) > maxVaryLen {
				return errRecordVariant
			}
			l = rest
		}
		if len(l) != 0 {
			return errRecordVariant
		}
		return nil
	default:
		return errRecordHead
	}
}

// varyNames reports whether names is a comma-separated list of non-empty,
// lower-case names free of control characters, as a variant record stores
// the Vary items (may be empty).
func varyNames(names []byte) bool {
	for len(names) > 0 {
		n := names
		if i := indexByte(names, ','); i >= 0 {
			n, names = names[:i], names[i+1:]
			if len(names) == 0 {
				return false // a trailing comma
			}
		} else {
			names = nil
		}
		if len(n) == 0 {
			return false
		}
		for _, c := range n {
			if c < 0x20 || c == 0x7f || 'A' <= c && c <= 'Z' {
				return false
			}
		}
	}
	return true
}

func (r *redisL2) Enabled() bool { return true }
func (r *redisL2) Seq() uint64   { return r.t.InvalidationSeq() }

// Get maps the tier's errors: a miss and an unavailable Redis are not
// found; a soft-purged value is found, with errL2Invalidated.
func (r *redisL2) Get(ctx context.Context, key, dst []byte) ([]byte, bool, error) {
	v, err := r.t.Get(ctx, key, dst[:0])
	switch {
	case err == nil:
		return v, true, nil
	case errors.Is(err, l2.ErrInvalidated):
		return v, true, err
	case errors.Is(err, l2.ErrMiss):
		return v, false, nil
	default:
		return v, false, err
	}
}

// GetEach implements l2MultiGetter (package l2, Tier.GetEach).
func (r *redisL2) GetEach(ctx context.Context, keys [][]byte, dst []byte, fn func(i int, value []byte, err error) bool) []byte {
	return r.t.GetEach(ctx, keys, dst, fn)
}

func (r *redisL2) Set(key, value []byte, ttl time.Duration, ix *l2Index) {
	// A dropped write is counted by the tier (flowcache_l2_writes_dropped_*).
	_ = r.t.Set(key, value, ttl, l2.Index{Tags: ix.Tags, Host: ix.Host, Path: ix.Path, Seq: ix.Seq})
}

func (r *redisL2) Delete(ctx context.Context, keys ...[]byte) (int, error) {
	return r.t.Delete(ctx, keys...)
}

func (r *redisL2) Close() error { return r.t.Close() }

func (r *redisL2) Purge(ctx context.Context, inv l2.Invalidation) (int, error) {
	return r.t.Purge(ctx, inv)
}

func (r *redisL2) Notify(ctx context.Context, inv *l2.Invalidation) error {
	return r.t.Notify(ctx, inv)
}

func (r *redisL2) Health() (state l2.State, subscribed bool) {
	return r.t.State(), r.t.Subscribed()
}

// l2Bus is the part of the Redis tier beyond the l2Tier seam: purges
// applied to L2 and published to every node, and health for /readyz.
type l2Bus interface {
	// Purge applies inv to L2 and publishes it (package l2, Tier.Purge).
	Purge(ctx context.Context, inv l2.Invalidation) (int, error)
	// Notify sends the URL invalidation inv to every node without touching
	// L2 or the purge epoch (package l2, Tier.Notify).
	Notify(ctx context.Context, inv *l2.Invalidation) error
	// Health reports the circuit breaker's state and whether the
	// invalidation subscriber is connected.
	Health() (state l2.State, subscribed bool)
}

// bus returns the L2 tier's purge bus, or nil when L2 is off (or a test
// tier without one).
func (g *Gateway) bus() l2Bus {
	b, _ := g.l2.(l2Bus)
	return b
}

// errL2Invalidated comes with a value L2 found soft-purged.
var errL2Invalidated = l2.ErrInvalidated

var (
	_ l2Tier        = (*redisL2)(nil)
	_ l2Bus         = (*redisL2)(nil)
	_ l2MultiGetter = (*redisL2)(nil)
	_ l2Untrusted   = (*redisL2)(nil)
)

// noL2 is the tier used when no Redis is configured.
type noL2 struct{}

func (noL2) Enabled() bool { return false }
func (noL2) Get(_ context.Context, _, dst []byte) ([]byte, bool, error) {
	return dst[:0], false, nil
}
func (noL2) Seq() uint64                                    { return 0 }
func (noL2) Set([]byte, []byte, time.Duration, *l2Index)    {}
func (noL2) Delete(context.Context, ...[]byte) (int, error) { return 0, nil }
func (noL2) Close() error                                   { return nil }

var _ l2Tier = noL2{}

// # Hooks for the L2 subscriber
//
// Purges and invalidations made on another node reach this one through the
// L2 tier's pub/sub; the tier calls these to drop what this node's L1
// holds. Both are safe for concurrent use.

// dropL1URL removes from L1 only every stored variant of the URL whose
// policy key has Host host and Target target, on every route, and returns
// how many responses were removed.
func (g *Gateway) dropL1URL(host, target []byte) int {
	return g.walkL1URL(host, target, false)
}

// walkL1URL removes (or, when soft, marks invalidated) in L1 every stored
// variant of the URL host + target on every route.
func (g *Gateway) walkL1URL(host, target []byte, soft bool) int {
	if g.st.Load() == nil {
		return 0 // a message before New finished: L1 is empty
	}
	x := acquireKeyView(g)
	defer releaseKeyView(x)
	n := 0
	for _, rt := range g.currentRoutes() {
		x.rt = rt
		x.setPolicy(g.policyFor(rt)) // the key space of its current version
		x.key.Host, x.key.Target = host, target
		x.pkey = appendPrimaryKey(x.pkey[:0], x.space, &x.key)
		if soft {
			n += g.markURL(x.pkey)
		} else {
			n += g.removeURL(x.pkey, true)
		}
		if c, ok := g.canaryFor(rt); ok { // and the key space of its canary
			x.setPolicy(c)
			x.pkey = appendPrimaryKey(x.pkey[:0], x.space, &x.key)
			if soft {
				n += g.markURL(x.pkey)
			} else {
				n += g.removeURL(x.pkey, true)
			}
		}
	}
	x.key.Host, x.key.Target = nil, nil
	return n
}

// flushL1 empties L1: after invalidations may have been missed (a
// reconnection to Redis), nothing in it can be trusted.
func (g *Gateway) flushL1() {
	g.inv.log.addAny()
	g.l1.clear()
	g.inv.ix.reset()
}

// readyBody is /readyz's answer while serving: ready, with "l2":"degraded"
// (and why) when Redis is configured but its circuit breaker is not closed
// or the invalidation subscriber is disconnected. The node still serves
// (from L1 and upstream), so the status stays 200.
func (g *Gateway) readyBody() string {
	b := g.bus()
	if b == nil {
		return `{"status":"ready"}` + "\n"
	}
	st, sub := b.Health()
	if st == l2.StateClosed && sub {
		return `{"status":"ready","l2":"ok"}` + "\n"
	}
	return `{"status":"ready","l2":"degraded","l2_breaker":"` + st.String() + `","l2_subscribed":` + strconv.FormatBool(sub) + "}\n"
}
