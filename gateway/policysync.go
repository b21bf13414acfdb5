package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/go-redis/v9"

	"github.com/flowcache/flowcache/gateway/internal/l2"
	"github.com/flowcache/flowcache/plugins"
)

// # Sharing policy versions through Redis
//
// With Redis configured, every node of a cluster runs the same version of
// each policy under the same activation number (hence the same cache key
// namespace). The store orders activations ([plugins.Store.Apply]: a higher
// activation number wins, then the greater version id); the syncer below is
// the transport. Its keys, none with a TTL:
//
//	<prefix>policy:module:<sha256>  the module bytes (a string)
//	<prefix>policy:modules          a sorted set: each module's sha256, scored
//	                                with the unix time it was last published
//	<prefix>policy:event:<name>     the name's latest change: a hash of
//	                                activation (the change number, Event.Order),
//	                                id (Event.Tie) and event (plugins.Event JSON)
//	<prefix>policy:names            a set of the names with an event key
//	<prefix>policy:events           the channel on which events are published
//
// An event carries the policy's whole state: active version, candidate
// (shadow or canary, with its share), last automatic rollback, or a
// tombstone. A tombstone is kept like any event: a node that was down, or
// that still runs the policy, applies it (deletes the policy) instead of
// publishing the policy again.
//
// Module keys no event references (versions aged out of every node's last
// 32, deleted policies, discarded candidates) are collected: at most once a
// minute, after a resync, a node deletes the modules not referenced by the
// events it read and not published within policyModuleGrace. A node that
// activates an old version again publishes its module again.
//
// Publishing a local activation: SET NX the module bytes, SADD the name, then
// one script compares the event with the stored one, replaces it only if it
// is newer and PUBLISHes it, atomically: an older activation never overwrites
// a newer one, and an event is never visible without its module. Each
// script touches one key, so it runs on Redis Cluster too.
//
// Receiving: every message is applied. Pub/sub drops messages while a node
// is disconnected, so on every (re)subscription (go-redis reconnects and
// resubscribes by itself; the subscription confirmation it receives again
// is the signal), at startup and every reconcileInterval the node reads
// every event key and applies each: a lost message costs at most that long.
//
// Local activations are found by comparing the store's state with what the
// syncer knows Redis holds, every localScanInterval and whenever
// [Gateway.PolicyChanged] is called: this also covers activations made
// before the syncer started (the startup config) or while Redis was down,
// which are published once it answers.
//
// flowcache_policy_sync_resyncs_total counts the full reads that
// succeeded.
//
// Redis is shared, not trusted. With [redis] secret set, every event is
// stored and published sealed with an HMAC-SHA256 under it (l2.Signer,
// domain l2.DomainPolicy), and an event that does not verify is refused
// (flowcache_policy_sync_rejected_events_total, a rate-limited warning):
// whoever can write to Redis cannot make a node run a module. The module
// bytes need no MAC of their own: the signed event names them by sha256,
// which Store.Apply checks, and by size, checked before they are read. A
// captured event cannot be replayed to any effect: activations only move
// forward, and an event not newer than what a node runs is ignored.
//
// Redis down: the node keeps serving the versions it has; errors are
// counted in flowcache_policy_sync_errors_total and logged once when Redis
// fails and once when it answers again, never on the request path.
//
// Deletions are shared as tombstones (see above). DELETE /policies/NAME is
// refused while one of this node's routes uses the policy; another node
// whose routes use it applies the tombstone all the same, and serves those
// routes with their default policy (counted in
// flowcache_policy_fallbacks_total).

const (
	// localScanInterval: how often the store's state is compared with what
	// was published (no Redis traffic unless something changed).
	localScanInterval = 100 * time.Millisecond
	// reconcileInterval: how often every event key is read back, in case
	// a message was lost.
	reconcileInterval = 5 * time.Second
	// retryMin is the first delay before retrying a failed resync; it
	// doubles up to reconcileInterval.
	retryMin = 100 * time.Millisecond
	// syncOpTimeout bounds one Redis round trip of the syncer.
	syncOpTimeout = 3 * time.Second
)

// publishEventScript stores the event ARGV[3] (activation ARGV[1], id
// ARGV[2]) in the hash KEYS[1] and publishes it on channel ARGV[4] unless
// the hash holds the same or a newer activation; it then returns {0, the
// stored event}, else {1}. Activation numbers stay far below 2^53, exact in
// Lua's numbers; ids are lower-case hex and compare as strings, as in
// plugins.Store.Apply. ARGV[5] = "1" replaces the stored event whatever it
// says: the caller found it forged (its signature does not verify).
var publishEventScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'activation', 'id', 'event')
if cur[1] and ARGV[5] ~= '1' then
  local a, ca = tonumber(ARGV[1]), tonumber(cur[1])
  if ca > a or (ca == a and cur[2] >= ARGV[2]) then
    return {0, cur[3]}
  end
end
redis.call('HSET', KEYS[1], 'activation', ARGV[1], 'id', ARGV[2], 'event', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[3])
return {1}`)

// stamp orders activations as plugins.Store.Apply does.
type stamp struct {
	activation uint64
	id         string
}

func stampOf(ev *plugins.Event) stamp { return stamp{ev.Order(), ev.Tie()} }

func (s stamp) newer(than stamp) bool {
	if s.activation != than.activation {
		return s.activation > than.activation
	}
	return s.id > than.id
}

// policySync shares a store's activations with the other nodes through
// Redis (see above). Everything but PolicyChanged runs on its goroutine.
type policySync struct {
	store     *plugins.Store
	client    redis.UniversalClient
	log       *slog.Logger
	errs      *metrics.Counter
	resyncs   *metrics.Counter
	rejected  *metrics.Counter
	collected *metrics.Counter
	signer    *l2.Signer
	warn      l2.WarnLimiter

	kModule, kModules, kEvent, kNames, kShadow, channel string
	node                                                string // this node's id: names its shadow summaries

	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	// kPrefetch is the channel of upload hints (policyprefetch.go);
	// prefetching is set while one is compiled, by a goroutine of
	// prefetchWG, which run waits for.
	kPrefetch   string
	prefetching atomic.Bool
	prefetchWG  sync.WaitGroup

	// Owned by the goroutine (and by newPolicySync before it starts).
	known       map[string]stamp  // what Redis holds, as last seen or written
	down        bool              // the last Redis call failed
	applyFailed map[string]string // name -> version id whose Apply failed (logged once)
	lastGC      time.Time         // the last collection of unused modules
}

// newPolicySync connects to cfg.Redis, applies the activations Redis holds
// (bounded by syncOpTimeout per call; Redis down is not an error: the node
// starts with its own versions) and starts syncing.
func newPolicySync(cfg *RedisConfig, store *plugins.Store, log *slog.Logger, set *metrics.Set) *policySync {
	opts := l2ConfigOf(cfg).UniversalOptions("flowcache-policysync")
	opts.PoolSize = 2
	opts.MaxRetries = 1
	p := &policySync{
		store:       store,
		client:      redis.NewUniversalClient(opts),
		log:         log.With(slog.String("component", "policysync")),
		errs:        set.NewCounter("flowcache_policy_sync_errors_total"),
		resyncs:     set.NewCounter("flowcache_policy_sync_resyncs_total"),
		rejected:    set.NewCounter("flowcache_policy_sync_rejected_events_total"),
		collected:   set.NewCounter("flowcache_policy_sync_modules_collected_total"),
		signer:      l2.NewSigner(cfg.Secret),
		kModule:     cfg.KeyPrefix + "policy:module:",
		kModules:    cfg.KeyPrefix + "policy:modules",
		kShadow:     cfg.KeyPrefix + "policy:shadow:",
		node:        newNodeID(),
		kEvent:      cfg.KeyPrefix + "policy:event:",
		kNames:      cfg.KeyPrefix + "policy:names",
		channel:     cfg.KeyPrefix + "policy:events",
		kPrefetch:   cfg.KeyPrefix + "policy:prefetch",
		kick:        make(chan struct{}, 1),
		done:        make(chan struct{}),
		known:       map[string]stamp{},
		applyFailed: map[string]string{},
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	// Before the first request: a node started after an upload elsewhere
	// serves the active version from the start.
	p.resync(ctx)
	go p.run(ctx)
	return p
}

// close stops the syncer and closes its Redis client.
func (p *policySync) close() error {
	p.cancel()
	<-p.done
	if err := p.client.Close(); err != nil {
		return fmt.Errorf("policy sync: close redis client: %w", err)
	}
	return nil
}

// PolicyChanged tells the gateway that its policy store activated a version
// locally; pass it as (part of) plugins.StoreOptions.OnChange of the store
// given in Options.Store. With Redis configured the activation is then
// published at once instead of at the next scan (within 100ms). It never
// blocks and is safe for concurrent use, also before New returns (through a
// variable set afterwards) or without Redis (it does nothing).
func (g *Gateway) PolicyChanged(plugins.Event) {
	if g == nil || g.psync == nil {
		return
	}
	select {
	case g.psync.kick <- struct{}{}:
	default: // a scan is pending already
	}
}

func (p *policySync) run(ctx context.Context) {
	defer close(p.done)
	defer p.prefetchWG.Wait() // after the context is cancelled (close)
	ps := p.client.Subscribe(ctx, p.channel, p.kPrefetch)
	defer func() {
		_ = ps.Close() // shutting down; nothing to do about a close error
	}()
	msgs := ps.ChannelWithSubscriptions(redis.WithChannelHealthCheckInterval(time.Second))
	scan := time.NewTicker(localScanInterval)
	defer scan.Stop()
	reconcile := time.NewTicker(reconcileInterval)
	defer reconcile.Stop()
	// A failed resync is retried sooner than the next reconcile: Redis
	// coming back is often first seen by the subscriber, while the
	// client's pool still fails fast with the last dial error.
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var backoff time.Duration
	ticks := 0
	resync := func() {
		if p.resync(ctx) {
			backoff = 0
			retry.Stop()
			return
		}
		backoff = min(max(2*backoff, retryMin), reconcileInterval)
		retry.Reset(backoff)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *redis.Subscription:
				// Sent for the first subscription and again after each
				// reconnection: messages may have been missed meanwhile.
				if m.Kind == "subscribe" && m.Channel == p.channel {
					resync()
				}
			case *redis.Message:
				if m.Channel == p.kPrefetch {
					p.receivePrefetch(ctx, []byte(m.Payload))
					continue
				}
				p.receive(ctx, []byte(m.Payload))
			}
		case <-p.kick:
			p.publishLocal(ctx)
		case <-scan.C:
			if !p.down { // while Redis is down, resyncs retry (retry, reconcile)
				p.publishLocal(ctx)
				if ticks++; ticks%shadowPublishTicks == 0 {
					p.publishShadows(ctx)
				}
			}
		case <-reconcile.C:
			resync()
		case <-retry.C:
			resync()
		}
	}
}

// receive applies an event published by a node (this one included: Apply
// ignores what the store already runs).
func (p *policySync) receive(ctx context.Context, payload []byte) {
	ev, err := p.decodeEvent(payload, "")
	if err != nil {
		p.reject(ctx, p.channel, err)
		return
	}
	if p.apply(ctx, &ev) {
		if st := stampOf(&ev); st.newer(p.known[ev.Name]) {
			p.known[ev.Name] = st
		}
	}
}

// apply applies ev to the store, fetching its module from Redis if needed.
// It reports false on failure, logged once per version.
func (p *policySync) apply(ctx context.Context, ev *plugins.Event) bool {
	size := func(sha string) int64 {
		for _, v := range []*plugins.VersionInfo{&ev.Version, candidateVersion(ev)} {
			switch {
			case v == nil:
			case v.ModuleSHA256 == sha:
				return int64(v.Size)
			case v.VectorsSHA256 == sha:
				return int64(v.VectorsSize)
			}
		}
		return -1
	}
	err := p.store.Apply(ctx, *ev, func(sha string) ([]byte, error) {
		octx, cancel := context.WithTimeout(ctx, syncOpTimeout)
		defer cancel()
		// The event (verified) gives the size: a larger value is not read.
		if n, err := p.client.StrLen(octx, p.kModule+sha).Result(); err != nil || n != size(sha) {
			return nil, fmt.Errorf("redis STRLEN %s%s = %d, %v; want %d", p.kModule, sha, n, err, size(sha))
		}
		b, err := p.client.Get(octx, p.kModule+sha).Bytes()
		if err != nil {
			return nil, fmt.Errorf("redis GET %s%s: %w", p.kModule, sha, err)
		}
		return b, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return false // shutting down
		}
		p.errs.Inc()
		if p.applyFailed[ev.Name] != ev.Version.ID {
			p.applyFailed[ev.Name] = ev.Version.ID
			p.log.LogAttrs(ctx, slog.LevelWarn, "policy_sync_apply_failed",
				slog.String("policy", ev.Name), slog.String("version", ev.Version.ID),
				slog.Uint64("activation", ev.Activation), slog.String("error", err.Error()))
		}
		return false
	}
	if p.applyFailed[ev.Name] != "" {
		delete(p.applyFailed, ev.Name)
	}
	return true
}

// resync reads every event key, applies each, records what Redis holds
// and publishes the local activations newer than that (or missing, e.g.
// after Redis lost its data). It reports whether Redis answered.
func (p *policySync) resync(ctx context.Context) bool {
	evs, err := p.readEvents(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.redisFailed(ctx, err)
		}
		return false
	}
	p.redisOK(ctx)
	p.resyncs.Inc()
	known := make(map[string]stamp, len(evs))
	for i := range evs {
		ev := &evs[i]
		known[ev.Name] = stampOf(ev)
		p.apply(ctx, ev)
	}
	p.known = known
	p.publishLocal(ctx)
	if !p.down && time.Since(p.lastGC) >= time.Duration(policyGCInterval.Load()) {
		p.lastGC = time.Now()
		p.collectModules(ctx, evs)
	}
	return !p.down
}

// readEvents returns the event of every name listed in Redis.
func (p *policySync) readEvents(ctx context.Context) ([]plugins.Event, error) {
	octx, cancel := context.WithTimeout(ctx, syncOpTimeout)
	defer cancel()
	names, err := p.client.SMembers(octx, p.kNames).Result()
	if err != nil {
		return nil, fmt.Errorf("redis SMEMBERS %s: %w", p.kNames, err)
	}
	if len(names) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.StringCmd, len(names))
	_, err = p.client.Pipelined(octx, func(pipe redis.Pipeliner) error {
		for i, name := range names {
			cmds[i] = pipe.HGet(octx, p.kEvent+name, "event")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redis HGET %s*: %w", p.kEvent, err)
	}
	evs := make([]plugins.Event, 0, len(names))
	for i, cmd := range cmds {
		b, err := cmd.Bytes()
		if errors.Is(err, redis.Nil) {
			continue // listed before its first event was written
		}
		if err != nil {
			return nil, fmt.Errorf("redis HGET %s%s: %w", p.kEvent, names[i], err)
		}
		ev, err := p.decodeEvent(b, names[i])
		if err != nil {
			p.reject(ctx, p.kEvent+names[i], err)
			continue
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// publishLocal publishes every local activation newer than what Redis is
// known to hold.
func (p *policySync) publishLocal(ctx context.Context) {
	for _, ev := range p.store.State() {
		st := stampOf(&ev)
		if !st.newer(p.known[ev.Name]) {
			continue
		}
		cur, err := p.publish(ctx, &ev)
		if err != nil {
			if ctx.Err() == nil {
				p.redisFailed(ctx, err)
			}
			return
		}
		p.redisOK(ctx)
		if cur == nil {
			p.known[ev.Name] = st
			continue
		}
		// Redis holds an activation at least as new (another node's,
		// published meanwhile): apply it.
		if p.apply(ctx, cur) {
			p.known[ev.Name] = stampOf(cur)
		}
	}
}

// publish stores ev's module and ev in Redis and publishes ev, unless Redis
// holds the same or a newer activation, which it returns.
func (p *policySync) publish(ctx context.Context, ev *plugins.Event) (*plugins.Event, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("policy sync: encode event: %w", err)
	}
	body = p.signer.Seal(nil, l2.DomainPolicy, body)
	octx, cancel := context.WithTimeout(ctx, syncOpTimeout)
	defer cancel()
	for _, sha := range eventModules(ev) {
		// Scored first: a collection running meanwhile sees it as fresh.
		if err := p.client.ZAdd(octx, p.kModules, redis.Z{Score: float64(time.Now().Unix()), Member: sha}).Err(); err != nil {
			return nil, fmt.Errorf("redis ZADD %s: %w", p.kModules, err)
		}
		n, err := p.client.Exists(octx, p.kModule+sha).Result()
		if err != nil {
			return nil, fmt.Errorf("redis EXISTS %s%s: %w", p.kModule, sha, err)
		}
		if n == 0 {
			wasm, err := p.store.Module(sha)
			if err != nil {
				return nil, fmt.Errorf("policy sync: policy %q module %s: %w", ev.Name, sha, err)
			}
			if err := p.client.SetNX(octx, p.kModule+sha, wasm, 0).Err(); err != nil {
				return nil, fmt.Errorf("redis SET %s%s: %w", p.kModule, sha, err)
			}
		}
	}
	if err := p.client.SAdd(octx, p.kNames, ev.Name).Err(); err != nil {
		return nil, fmt.Errorf("redis SADD %s: %w", p.kNames, err)
	}
	force := "0"
	for {
		res, err := publishEventScript.Run(octx, p.client, []string{p.kEvent + ev.Name},
			ev.Order(), ev.Tie(), body, p.channel, force).Slice()
		if err != nil {
			return nil, fmt.Errorf("redis publish policy %q event: %w", ev.Name, err)
		}
		if len(res) != 2 {
			break
		}
		s, _ := res[1].(string) // not a string: refused below
		cur, err := p.decodeEvent([]byte(s), ev.Name)
		if err == nil {
			return &cur, nil
		}
		if force == "1" {
			return nil, fmt.Errorf("policy sync: policy %q: refused event in %s%s: %w", ev.Name, p.kEvent, ev.Name, err)
		}
		// A "newer" event no node made (it does not verify) must not
		// block this node's activations: replace it.
		p.reject(ctx, p.kEvent+ev.Name, err)
		force = "1"
	}
	if p.log.Enabled(ctx, slog.LevelDebug) {
		p.log.LogAttrs(ctx, slog.LevelDebug, "policy_published", slog.String("policy", ev.Name),
			slog.String("version", ev.Version.ID), slog.Uint64("activation", ev.Activation))
	}
	return nil, nil
}

// maxEventSize bounds a policy event read from Redis (an event is a few
// hundred bytes plus the version's configuration).
const maxEventSize = 1 << 20

// decodeEvent opens (see l2.Signer) and decodes an event read from Redis;
// name, if not empty, is the policy it must be about.
func (p *policySync) decodeEvent(b []byte, name string) (plugins.Event, error) {
	var ev plugins.Event
	if len(b) > maxEventSize {
		return ev, fmt.Errorf("event of %d bytes", len(b))
	}
	msg, err := p.signer.Open(l2.DomainPolicy, b)
	if err != nil {
		return ev, err
	}
	if err := json.Unmarshal(msg, &ev); err != nil {
		return ev, err
	}
	if name != "" && ev.Name != name {
		return ev, fmt.Errorf("event of policy %.64q under the key of %.64q", ev.Name, name)
	}
	return ev, nil
}

// reject counts an event refused by decodeEvent (from key, or the channel)
// and logs it at most once per ten seconds.
func (p *policySync) reject(ctx context.Context, key string, err error) {
	p.rejected.Inc()
	if ok, held := p.warn.Allow(time.Now()); ok {
		p.log.LogAttrs(ctx, slog.LevelWarn, "policy_sync_event_rejected", slog.String("key", key),
			slog.String("error", err.Error()), slog.Uint64("suppressed", held))
	}
}

// redisFailed counts err and logs it if Redis was answering until now.
func (p *policySync) redisFailed(ctx context.Context, err error) {
	p.errs.Inc()
	if !p.down {
		p.down = true
		p.log.LogAttrs(ctx, slog.LevelWarn, "policy_sync_redis_unavailable",
			slog.String("error", err.Error()))
	}
}

// redisOK logs the recovery after a failure.
func (p *policySync) redisOK(ctx context.Context) {
	if p.down {
		p.down = false
		p.log.LogAttrs(ctx, slog.LevelInfo, "policy_sync_redis_recovered")
	}
}

// eventModules returns the sha256 of every module (and vectors) ev names.
func eventModules(ev *plugins.Event) []string {
	var out []string
	if ev.Deleted {
		return nil
	}
	for _, v := range []*plugins.VersionInfo{&ev.Version, candidateVersion(ev)} {
		if v == nil {
			continue
		}
		if v.ModuleSHA256 != "" {
			out = append(out, v.ModuleSHA256)
		}
		if v.VectorsSHA256 != "" {
			out = append(out, v.VectorsSHA256)
		}
	}
	return out
}

// candidateVersion returns the version of ev's candidate, or nil.
func candidateVersion(ev *plugins.Event) *plugins.VersionInfo {
	if ev.Candidate == nil {
		return nil
	}
	return &ev.Candidate.Version
}

// policyGCInterval is how often a node collects unused module keys
// (tests shorten it).
var policyGCInterval atomic.Int64

// policyModuleGrace is how long a module key is kept after it was last
// published even if no event references it: the time for the event that
// references it to be written (tests shorten it).
var policyModuleGrace atomic.Int64

func init() {
	policyGCInterval.Store(int64(time.Minute))
	policyModuleGrace.Store(int64(10 * time.Minute))
}

// collectModules deletes the module keys that no event of evs (every
// policy's latest change, just read) references and that were not
// published within policyModuleGrace.
//
// # Why a grace period?
//
// Another node may be publishing an event that references a module: it
// scores the module (ZADD) before writing it and the event. A module
// scored within the grace period is never collected, and the score is read
// again right before the DEL and right after it: a module published in
// between is written back from this node's store when it has it (the
// publisher, seeing the key, did not write it). A publisher whose module
// this node lacks can still lose it in that window of one round trip; its
// receivers then fail to apply the event (logged) until it is published
// again.
func (p *policySync) collectModules(ctx context.Context, evs []plugins.Event) {
	used := map[string]bool{}
	for i := range evs {
		for _, sha := range eventModules(&evs[i]) {
			used[sha] = true
		}
	}
	octx, cancel := context.WithTimeout(ctx, syncOpTimeout)
	defer cancel()
	cutoff := time.Now().Add(-time.Duration(policyModuleGrace.Load())).Unix()
	old, err := p.client.ZRangeByScore(octx, p.kModules, &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(cutoff, 10)}).Result()
	if err != nil {
		p.redisFailed(ctx, fmt.Errorf("redis ZRANGEBYSCORE %s: %w", p.kModules, err))
		return
	}
	for _, sha := range old {
		if used[sha] {
			continue
		}
		score, err := p.client.ZScore(octx, p.kModules, sha).Result()
		if err != nil || score > float64(cutoff) {
			continue // published again meanwhile (or gone)
		}
		if err := p.client.Del(octx, p.kModule+sha).Err(); err != nil {
			p.redisFailed(ctx, fmt.Errorf("redis DEL %s%s: %w", p.kModule, sha, err))
			return
		}
		if score, err := p.client.ZScore(octx, p.kModules, sha).Result(); err == nil && score > float64(cutoff) {
			// Published again between the check and the DEL: put the
			// bytes back if this node has them (the publisher saw them
			// present and did not write them).
			if b, err := p.store.Module(sha); err == nil {
				_ = p.client.Set(octx, p.kModule+sha, b, 0).Err() // best effort: a failure shows as the receivers' apply error
			}
			continue
		}
		if err := p.client.ZRem(octx, p.kModules, sha).Err(); err != nil {
			p.redisFailed(ctx, fmt.Errorf("redis ZREM %s: %w", p.kModules, err))
			return
		}
		p.collected.Inc()
		p.log.LogAttrs(ctx, slog.LevelInfo, "policy_module_collected", slog.String("module_sha256", sha))
	}
}
