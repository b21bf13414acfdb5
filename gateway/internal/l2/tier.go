package l2

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"
)

// Errors returned by a Tier. Branch on them with errors.Is.
var (
	// ErrMiss: the key is not in L2.
	ErrMiss = errors.New("l2: miss")
	// ErrUnavailable: L2 was not asked (circuit breaker open, or state not
	// yet loaded from Redis) or Redis failed. The caller goes on to the
	// upstream; the breaker has already counted the failure.
	ErrUnavailable = errors.New("l2: unavailable")
	// ErrInvalidated comes with a value that was soft-purged: it may be
	// served stale (stale-if-error, stale-while-revalidate) but must be
	// revalidated before it is served fresh. A caller that treats every
	// error as a miss stays correct.
	ErrInvalidated = errors.New("l2: invalidated")
	// ErrClosed: the Tier was closed.
	ErrClosed = errors.New("l2: closed")
)

// Tier is the Redis L2 shared by every gateway node: reads, bounded
// asynchronous writes, purges, and the invalidation bus. Create it with
// [New]; all methods are safe for concurrent use.
type Tier struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	client redis.UniversalClient
	codec  *codec
	br     *breaker
	nodeID string
	signer *Signer
	warn   WarnLimiter // rejected messages and state

	// Redis key names, built once.
	kGen, kSoftGen, kEpoch, kID, channel string
	sharded                              bool // SPUBLISH/SSUBSCRIBE (cluster)

	// Generations, loaded from Redis (see meta.go); read on every call.
	gen     atomic.Uint64
	softGen atomic.Uint32
	metaMu  sync.Mutex
	redisID string // instance id of the Redis data set; guarded by metaMu
	loaded  bool   // meta loaded at least once; guarded by metaMu

	// invalSeq counts invalidations applied here or received; writes
	// fetched before the latest one are dropped (Index.Seq).
	invalSeq atomic.Uint64

	ps atomic.Pointer[redis.PubSub] // the subscriber's; closed by Close to end a blocked Receive

	queue     chan *writeItem
	getq      chan *getCall // reads waiting for a reader (getbatch.go)
	stopWrite chan struct{}
	stopCtx   context.Context
	stop      context.CancelFunc
	wg        sync.WaitGroup
	closed    atomic.Bool

	keyPool sync.Pool // *[]byte scratch for key names on the read path
	st      counters
}

// New connects a Tier to Redis as cfg says and starts its background
// goroutines: writers, the breaker's prober and the subscriber. It does not
// fail when Redis is down: the breaker starts open and closes by itself when
// Redis answers. It fails only on an invalid configuration.
func New(cfg Config, deps Deps) (*Tier, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "l2")
	nodeID := cfg.NodeID
	if nodeID == "" {
		host, _ := os.Hostname() // an empty host name still leaves the pid
		nodeID = host + "-" + strconv.Itoa(os.Getpid()) + "-" + newID()[:6]
	}
	cd, err := newCodec(cfg.Compression, cfg.CompressMinSize, cfg.MaxValueSize)
	if err != nil {
		return nil, err
	}

	opts := cfg.UniversalOptions("flowcache-" + nodeID)
	// A cache read is worth one attempt: the breaker, not retries, handles
	// a sick Redis. go-redis' own defaults (3 retries, 5 dial attempts
	// 100ms apart) would hold a request for seconds.
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	opts.Dialer = deps.Dialer

	ctx, cancel := context.WithCancel(context.Background())
	meta := cfg.KeyPrefix + "{meta}:"
	t := &Tier{
		cfg:       cfg,
		deps:      deps,
		log:       log,
		client:    redis.NewUniversalClient(opts),
		codec:     cd,
		br:        newBreaker(cfg.BreakerFailures),
		nodeID:    nodeID,
		signer:    NewSigner(cfg.Secret),
		kGen:      meta + "gen",
		kSoftGen:  meta + "softgen",
		kEpoch:    meta + "epoch",
		kID:       meta + "id",
		channel:   meta + "inval",
		sharded:   cfg.Mode == ModeCluster,
		queue:     make(chan *writeItem, cfg.WriteQueue),
		getq:      make(chan *getCall, maxGetBatch),
		stopWrite: make(chan struct{}),
		stopCtx:   ctx,
		stop:      cancel,
	}
	t.client.AddHook(countHook{t: t})
	t.invalSeq.Store(1) // 0 in Index.Seq means "now"

	// Until the generations are known, reading would risk serving entries
	// of a purged generation: start with the breaker open unless they load.
	lctx, lcancel := context.WithTimeout(probeContext(ctx), t.callTimeout())
	m, err := t.loadMeta(lctx)
	lcancel()
	if err == nil {
		t.applyMeta(m)
	} else {
		log.LogAttrs(ctx, slog.LevelWarn, "redis_unavailable_at_start", slog.String("error", err.Error()))
		t.br.trip()
	}

	readers := getReaders()
	t.wg.Add(2 + cfg.Writers + readers)
	go t.probeLoop()
	go t.syncLoop()
	for range cfg.Writers {
		go t.writeLoop()
	}
	for range readers {
		go t.getLoop()
	}
	return t, nil
}

// callTimeout bounds one background command (probe, poll, batch).
func (t *Tier) callTimeout() time.Duration {
	return t.cfg.DialTimeout + t.cfg.ReadTimeout + t.cfg.WriteTimeout
}

// Close stops accepting writes, sends those already queued (each batch
// bounded by the command timeouts), stops the background goroutines and
// closes the connections. Calls after Close return ErrClosed or drop.
func (t *Tier) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	close(t.stopWrite)
	t.stop()
	if ps := t.ps.Load(); ps != nil {
		// Ends a Receive blocked for up to SyncInterval; the subscriber
		// sees the canceled context and returns.
		_ = ps.Close()
	}
	t.wg.Wait()
	t.codec.close()
	return t.client.Close()
}

// InvalidationSeq returns a number that changes whenever this node applies
// (Purge) or receives (subscriber) an invalidation, or resyncs. Read it
// before an upstream request and pass it in Index.Seq when storing the
// answer. The gateway can use it the same way for its L1.
func (t *Tier) InvalidationSeq() uint64 { return t.invalSeq.Load() }

// State returns the circuit breaker's state.
func (t *Tier) State() State { return t.br.State() }

// Get appends the value stored under key to dst and returns it.
//
// It returns ErrMiss when the key is absent, ErrUnavailable (at once, without
// touching the network) when the breaker is open or wrapping the Redis
// error otherwise, and ErrInvalidated together with the value when it was
// soft-purged. The key is not retained.
func (t *Tier) Get(ctx context.Context, key, dst []byte) ([]byte, error) {
	if !t.br.allow() {
		t.st.rejected.Add(1)
		return dst, ErrUnavailable
	}
	c := getCallPool.Get().(*getCall)
	c.key = t.appendEntryKey(c.key[:0], t.gen.Load(), key)
	var start time.Time
	if t.cfg.SlowCall > 0 {
		start = time.Now()
	}
	s, err, ok := t.roundTrip(ctx, c) // pipelined with the reads waiting beside it (getbatch.go)
	if ok {
		c.s, c.err = "", nil
		getCallPool.Put(c)
	}
	if err != nil && err != redis.Nil { //nolint:errorlint // redis.Nil is returned unwrapped
		t.callFailed(ctx, err)
		return dst, fmt.Errorf("%w: get: %w", ErrUnavailable, err)
	}
	t.callDone(start)
	return t.decodeReply(dst, s, err)
}

// decodeReply turns a GET reply (s, or err == redis.Nil for an absent key)
// into what Get returns: the value appended to dst, and ErrMiss or
// ErrInvalidated.
func (t *Tier) decodeReply(dst []byte, s string, err error) ([]byte, error) {
	if err == redis.Nil { //nolint:errorlint // redis.Nil is returned unwrapped
		t.st.misses.Add(1)
		return dst, ErrMiss
	}
	// The stored bytes are only read, and only during this call.
	stored := unsafe.Slice(unsafe.StringData(s), len(s))
	out, env, err := t.codec.decode(dst, stored)
	if err != nil {
		t.st.corrupt.Add(1)
		return dst, ErrMiss
	}
	t.st.hits.Add(1)
	if env.invalidated || env.softGen < t.softGen.Load() {
		return out, ErrInvalidated
	}
	return out, nil
}

// GetEach reads keys in one round trip (a pipeline of GETs, one command
// per key, so that a cluster client may spread them over nodes) and calls
// fn for each key in order with what Get would have returned for it: the
// value appended to dst[:0] (valid only during fn) and nil, ErrMiss or
// ErrInvalidated. When Redis is not asked (breaker open) or fails, fn is
// called once, with i = 0 and ErrUnavailable. fn returning false skips the
// rest. It returns the (possibly grown) dst for reuse. The keys are not
// retained.
func (t *Tier) GetEach(ctx context.Context, keys [][]byte, dst []byte, fn func(i int, value []byte, err error) bool) []byte {
	if len(keys) == 0 {
		return dst
	}
	if !t.br.allow() {
		t.st.rejected.Add(1)
		fn(0, dst[:0], ErrUnavailable)
		return dst
	}
	gen := t.gen.Load()
	pipe := t.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	kb := t.acquireKey()
	for i, k := range keys {
		*kb = t.appendEntryKey((*kb)[:0], gen, k)
		cmds[i] = pipe.Get(ctx, string(*kb))
	}
	t.releaseKey(kb)
	var start time.Time
	if t.cfg.SlowCall > 0 {
		start = time.Now()
	}
	// Exec reports the first failed command's error, redis.Nil (an absent
	// key) included: look at each command instead.
	_, _ = pipe.Exec(ctx)
	for _, c := range cmds {
		if err := c.Err(); err != nil && err != redis.Nil { //nolint:errorlint // as in Get
			t.callFailed(ctx, err)
			fn(0, dst[:0], fmt.Errorf("%w: get: %w", ErrUnavailable, err))
			return dst
		}
	}
	t.callDone(start)
	for i, c := range cmds {
		s, err := c.Result()
		v, err := t.decodeReply(dst[:0], s, err)
		dst = v[:0]
		if !fn(i, v, err) {
			break
		}
	}
	return dst
}

// Delete removes keys from L2 (current generation) and returns how many
// existed. It does not touch the purge indexes (their stale members are
// harmless) and publishes nothing: use Purge or Publish to reach the other
// nodes' L1. Keys go one command each, so a cluster client may spread them
// over nodes.
func (t *Tier) Delete(ctx context.Context, keys ...[]byte) (int, error) {
	if t.closed.Load() {
		return 0, ErrClosed
	}
	if len(keys) == 0 {
		return 0, nil
	}
	if !t.br.allow() {
		t.st.rejected.Add(1)
		return 0, ErrUnavailable
	}
	gen := t.gen.Load()
	pipe := t.client.Pipeline()
	cmds := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Del(ctx, string(t.appendEntryKey(nil, gen, k)))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.callFailed(ctx, err)
		return 0, fmt.Errorf("%w: delete: %w", ErrUnavailable, err)
	}
	t.callDone(time.Time{})
	n := 0
	for _, c := range cmds {
		n += int(c.Val())
	}
	return n, nil
}

// callDone records a successful call that started at start (zero: not timed).
func (t *Tier) callDone(start time.Time) {
	if !start.IsZero() && time.Since(start) >= t.cfg.SlowCall {
		t.st.slow.Add(1)
		t.br.failure()
		return
	}
	t.br.success()
}

// callFailed records a failed call. A Redis error reply (wrong type, OOM,
// ...) proves Redis is up and counts as a success; the caller giving up
// (context canceled) counts as nothing.
func (t *Tier) callFailed(ctx context.Context, err error) {
	t.st.errors.Add(1)
	var rerr redis.Error
	switch {
	case errors.As(err, &rerr):
		t.br.success() // Redis answered
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		t.br.release()
	default:
		t.br.failure()
	}
}

// appendEntryKey appends the Redis key of an entry: prefix "e:{}" gen ":"
// key.
//
// # Why "{}"?
//
// key comes from the request (its path, its Vary values): a "{x}" in it
// would be a Redis Cluster hash tag, letting a client choose the slot of
// its keys (all on one shard, or next to a key it targets). Redis hashes
// the whole key when the first '{' is followed at once by '}', so this
// empty tag, before any byte of key, turns every later one off. Tag and
// host index keys get it too; KeyPrefix may not hold braces.
func (t *Tier) appendEntryKey(dst []byte, gen uint64, key []byte) []byte {
	dst = append(dst, t.cfg.KeyPrefix...)
	dst = append(dst, "e:{}"...)
	dst = strconv.AppendUint(dst, gen, 10)
	dst = append(dst, ':')
	return append(dst, key...)
}

func (t *Tier) tagKey(tag []byte) string   { return t.cfg.KeyPrefix + "t:{}" + string(tag) }
func (t *Tier) hostKey(host []byte) string { return t.cfg.KeyPrefix + "h:{}" + string(host) }

func (t *Tier) acquireKey() *[]byte {
	if b, ok := t.keyPool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 256)
	return &b
}

func (t *Tier) releaseKey(b *[]byte) {
	if cap(*b) <= 64<<10 {
		t.keyPool.Put(b)
	}
}

// meta is the shared state in Redis, all under one hash tag ({meta}) so
// that one MGET reads it in a cluster too.
type meta struct {
	gen     uint64 // purge-all generation, part of every entry key
	softGen uint32 // soft purge-all generation, compared with the envelope
	epoch   uint64 // bumped by every published invalidation
	id      string // random id of this Redis data set (changes if data is lost)
}

// loadMeta reads the shared state, creating the instance id if missing.
func (t *Tier) loadMeta(ctx context.Context) (meta, error) {
	var m meta
	pipe := t.client.Pipeline()
	pipe.SetNX(ctx, t.kID, newID(), 0)
	mget := pipe.MGet(ctx, t.kGen, t.kSoftGen, t.kEpoch, t.kID)
	if _, err := pipe.Exec(ctx); err != nil {
		return m, fmt.Errorf("l2: load state: %w", err)
	}
	vals := mget.Val()
	if len(vals) != 4 {
		return m, fmt.Errorf("l2: load state: MGET returned %d values", len(vals))
	}
	var errs []error
	num := func(name string, v any, limit uint64) uint64 {
		s, _ := v.(string) // nil (missing key) reads as 0
		n, err := parseCounter(s, limit)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		return n
	}
	m.gen = num("gen", vals[0], maxGen)
	m.softGen = uint32(num("softgen", vals[1], maxSoftGen)) //nolint:gosec // bounded by maxSoftGen
	m.epoch = num("epoch", vals[2], maxGen)
	m.id, _ = vals[3].(string) // set by the SETNX just before
	if len(m.id) == 0 || len(m.id) > 64 {
		errs = append(errs, fmt.Errorf("id: %d bytes", len(m.id)))
	}
	if err := errors.Join(errs...); err != nil {
		// Not a Redis failure: Redis holds what no node wrote. Reading
		// with a wrong generation could serve purged entries, so the state
		// counts as unreadable until a purge (whose script repairs the
		// counter) or an operator fixes it.
		t.reject("redis_state_rejected", err, 0)
		return meta{}, fmt.Errorf("l2: load state: %w", err)
	}
	return m, nil
}

// parseCounter reads a {meta} counter as stateScriptLib writes it: empty
// (missing) is 0, else 1 to 15 decimal digits below limit.
func parseCounter(s string, limit uint64) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	if len(s) > 15 {
		return 0, errors.New("implausible counter")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a counter")
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n >= limit {
		return 0, errors.New("implausible counter")
	}
	return n, nil
}

// applyMeta installs loaded state. Generations only move forward within one
// data set; when the data set changed (a restart lost it, or a failover to
// an empty replica) they are taken as they are. Whether that calls for a
// resync is the subscriber's business (it compares ids itself: the prober
// may see the new data set first).
func (t *Tier) applyMeta(m meta) {
	t.metaMu.Lock()
	defer t.metaMu.Unlock()
	if !t.loaded || m.id != t.redisID {
		t.gen.Store(m.gen)
		t.softGen.Store(m.softGen)
	} else {
		t.raiseGen(m.gen, m.softGen)
	}
	t.redisID, t.loaded = m.id, true
}

// raiseGen moves the generations forward (never back).
func (t *Tier) raiseGen(gen uint64, softGen uint32) {
	for {
		g := t.gen.Load()
		if gen <= g || t.gen.CompareAndSwap(g, gen) {
			break
		}
	}
	for {
		g := t.softGen.Load()
		if softGen <= g || t.softGen.CompareAndSwap(g, softGen) {
			break
		}
	}
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// probeLoop moves the breaker from open to half-open when Redis answers
// again. It loads the shared state as its probe, so a Redis that came back
// empty is noticed before any read.
func (t *Tier) probeLoop() {
	defer t.wg.Done()
	for {
		select {
		case <-t.stopCtx.Done():
			return
		case <-t.br.wake:
		}
		cooldown := t.cfg.BreakerCooldown
		for t.br.State() == StateOpen {
			if !sleepCtx(t.stopCtx, cooldown) {
				return
			}
			ctx, cancel := context.WithTimeout(probeContext(t.stopCtx), t.callTimeout())
			m, err := t.loadMeta(ctx)
			cancel()
			if err != nil {
				t.st.probeFailures.Add(1)
				cooldown = min(2*cooldown, t.cfg.BreakerMaxCooldown)
				continue
			}
			t.applyMeta(m)
			t.br.probed()
			t.log.LogAttrs(t.stopCtx, slog.LevelInfo, "redis_available", slog.String("breaker", t.br.State().String()))
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// probeKey marks background commands (probes, polls) so that the command
// counter counts only calls made for requests and writes.
type probeKey struct{}

func probeContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, probeKey{}, true)
}

// countHook counts commands handed to the network layer and dials.
type countHook struct{ t *Tier }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		h.t.st.dials.Add(1)
		return next(ctx, network, addr)
	}
}

func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if ctx.Value(probeKey{}) == nil {
			h.t.st.commands.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if ctx.Value(probeKey{}) == nil {
			h.t.st.commands.Add(uint64(len(cmds)))
		}
		return next(ctx, cmds)
	}
}
