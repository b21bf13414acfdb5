package l2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ResyncReason says why OnResync was called.
type ResyncReason uint8

// Resync reasons.
const (
	// ResyncEpoch: the purge epoch moved while this node was not listening
	// (or a message was lost): some invalidations were missed.
	ResyncEpoch ResyncReason = iota + 1
	// ResyncDataLost: Redis came back without its data set (restart without
	// persistence, failover to an empty replica): anything may have been
	// purged, and the generations start again.
	ResyncDataLost
	// ResyncReconnect: Config.ResyncAlways is set and the subscriber
	// reconnected.
	ResyncReconnect
)

// String returns "epoch", "data_lost" or "reconnect".
func (r ResyncReason) String() string {
	switch r {
	case ResyncEpoch:
		return "epoch"
	case ResyncDataLost:
		return "data_lost"
	case ResyncReconnect:
		return "reconnect"
	default:
		return "reason(" + strconv.Itoa(int(r)) + ")"
	}
}

// Resync tells the node that its L1 may hold entries purged meanwhile.
type Resync struct {
	Reason ResyncReason
	// Missed is how many invalidations were missed, when known
	// (ResyncEpoch); 0 otherwise.
	Missed uint64
}

// publishScript bumps the purge epoch and publishes the message prefixed
// with the new epoch, atomically: no node can see the epoch move without
// the message being sent, so a missed message is always detectable.
// ARGV[1] is PUBLISH or SPUBLISH; the channel shares the epoch's hash slot.
// An epoch that is not a plausible counter (see stateScriptLib) starts
// again from 1: the nodes then resync, as after a lost message.
var publishScript = redis.NewScript(stateScriptLib + `
local e = nextCounter(KEYS[1], 0)
redis.call(ARGV[1], ARGV[2], e .. ' ' .. ARGV[3])
return e`)

// wireInvalidation is an Invalidation as published: with the time it was
// sent and the data set it applies to, both covered by the signature, so
// that a captured message is refused once it is older than maxMessageAge
// or once Redis has lost the data set it was about.
type wireInvalidation struct {
	Invalidation
	// Time is when the message was published, unix milliseconds.
	Time int64 `json:"ts"`
	// DataSet is the publisher's id of the Redis data set ({meta}:id).
	DataSet string `json:"ds,omitempty"`
}

// Bounds of a received invalidation message; larger ones are rejected.
const (
	maxMessageSize = 1 << 20
	maxMessageTags = 4096
	maxMessageHost = 1024
	maxMessagePath = 64 << 10
	maxMessageTag  = 1024
	maxOriginLen   = 256
	// maxMessageAge bounds how old (or, for clock skew, how far in the
	// future) a signed message may be: the replay window of a captured
	// message. Nodes' clocks must agree within it.
	maxMessageAge = 5 * time.Minute
	// maxEpochsAhead bounds how far past the last accounted-for epoch a
	// received one is tracked.
	maxEpochsAhead = 1 << 16
)

// Publish bumps the purge epoch in Redis and publishes inv to every node's
// subscriber (this node's included). Purge calls it; for the invalidation
// after an unsafe request, already applied to L2 by Delete, use Notify. It
// sets inv.Origin and inv.Epoch. With Config.Secret the message is signed
// (see Signer).
//
// # Why classic PUBLISH outside a cluster, SPUBLISH in a cluster?
//
// In Redis Cluster, PUBLISH is broadcast over the cluster bus to every node,
// whatever the channel; SPUBLISH goes only to the shard that owns the
// channel's slot. The bus has one channel, so sharding does not spread load;
// it spares every other shard the traffic and, better, puts the channel on
// the same shard as the epoch key ({meta} hash tag): the script above bumps
// the epoch and publishes on that one shard, atomically, and a subscriber
// that can reach the channel can also read the epoch it is checked against.
func (t *Tier) Publish(ctx context.Context, inv *Invalidation) error {
	if err := inv.validate(); err != nil {
		return err
	}
	inv.Origin = t.nodeID
	body, err := t.seal(nil, inv)
	if err != nil {
		return fmt.Errorf("l2: publish: %w", err)
	}
	cmd := "PUBLISH"
	if t.sharded {
		cmd = "SPUBLISH"
	}
	e, err := publishScript.Run(ctx, t.client, []string{t.kEpoch}, cmd, t.channel, body).Uint64()
	if err != nil {
		return fmt.Errorf("l2: publish %s invalidation: %w", inv.Kind, err)
	}
	inv.Epoch = e
	t.st.published.Add(1)
	return nil
}

// Notify publishes inv, which must be a KindURL invalidation, to every
// node's subscriber (this node's included) without bumping the purge
// epoch: it is sent with epoch 0, which no subscriber counts, so a node
// that is not listening misses it and is not told. It is for the
// invalidation after an unsafe request (RFC 9111, Section 4.4), which any
// client can cause: bumping the epoch for each would let a stream of
// anonymous POSTs make every node that misses one flush its whole L1. It
// sets inv.Origin.
func (t *Tier) Notify(ctx context.Context, inv *Invalidation) error {
	if inv.Kind != KindURL {
		return fmt.Errorf("l2: notify: %s invalidation: only url may skip the epoch", inv.Kind)
	}
	if err := inv.validate(); err != nil {
		return err
	}
	inv.Origin = t.nodeID
	msg, err := t.seal([]byte("0 "), inv)
	if err != nil {
		return fmt.Errorf("l2: notify: %w", err)
	}
	if t.sharded {
		err = t.client.SPublish(ctx, t.channel, msg).Err()
	} else {
		err = t.client.Publish(ctx, t.channel, msg).Err()
	}
	if err != nil {
		return fmt.Errorf("l2: notify %s invalidation: %w", inv.Kind, err)
	}
	t.st.published.Add(1)
	return nil
}

// seal appends inv to dst as published: with its send time and this
// node's Redis data set (wireInvalidation), signed when a secret is set.
func (t *Tier) seal(dst []byte, inv *Invalidation) ([]byte, error) {
	t.metaMu.Lock()
	ds := t.redisID
	t.metaMu.Unlock()
	body, err := json.Marshal(wireInvalidation{Invalidation: *inv, Time: time.Now().UnixMilli(), DataSet: ds})
	if err != nil {
		return nil, err
	}
	return t.signer.Seal(dst, DomainInvalidation, body), nil
}

// Subscribed reports whether the invalidation subscriber is connected now.
// While it is not, this node's L1 may keep entries purged elsewhere, until
// the reconnection's resync.
func (t *Tier) Subscribed() bool { return t.st.subscribed.Load() }

// epochTracker knows which invalidation epochs this node has received.
//
// Every published invalidation bumps the epoch by one, atomically with its
// message (publishScript). Epochs up to low are all accounted for; got
// holds those received above low, out of order. At each poll the epoch read
// from Redis one poll earlier must be <= low: a message that has not arrived
// a full SyncInterval after its epoch was visible is considered lost.
//
// id is the Redis data set the epochs belong to: if it changes, Redis lost
// its data and the epochs start again.
type epochTracker struct {
	init    bool
	id      string
	low     uint64
	pending uint64
	got     map[uint64]struct{}
}

func (tr *epochTracker) reset(m meta) {
	tr.init, tr.id, tr.low, tr.pending = true, m.id, m.epoch, m.epoch
	clear(tr.got)
}

// missed returns how many epochs between low and e were not received.
func (tr *epochTracker) missed(e uint64) uint64 {
	if e <= tr.low {
		return 0
	}
	return e - tr.low
}

func (tr *epochTracker) saw(e uint64) {
	// The epoch prefix is set by Redis' script, outside the signature: one
	// far ahead is not believed (nor kept: the set stays bounded); if it
	// was real, the poll finds the gap and resyncs.
	if e <= tr.low || e > tr.low+maxEpochsAhead {
		return
	}
	if tr.got == nil {
		tr.got = make(map[uint64]struct{})
	}
	tr.got[e] = struct{}{}
	for {
		if _, ok := tr.got[tr.low+1]; !ok {
			return
		}
		delete(tr.got, tr.low+1)
		tr.low++
	}
}

// syncLoop runs the subscriber: it delivers invalidations, notices lost
// connections, and on every (re)subscription and every SyncInterval checks
// the shared state to decide whether this node missed something.
//
// # Why an epoch check instead of flushing L1 on every reconnect?
//
// Flushing is always correct but turns every connection blip (a Redis
// failover, an idle-timeout kill, a deploy of Redis) into a cold L1 on every
// node at once, and a burst of L2 and upstream traffic. The epoch is one
// counter read: when nothing was purged during the outage, which is the
// common case, the L1 is kept. See RATIONALE.md for the measurement.
func (t *Tier) syncLoop() {
	defer t.wg.Done()
	ctx := t.stopCtx
	subscribe := func() {
		var ps *redis.PubSub
		if t.sharded {
			ps = t.client.SSubscribe(ctx, t.channel)
		} else {
			ps = t.client.Subscribe(ctx, t.channel)
		}
		t.ps.Store(ps)
	}
	subscribe()
	defer func() {
		// Closing an already broken connection may fail; nothing to do.
		_ = t.ps.Load().Close()
	}()
	var tr epochTracker
	connected, everConnected, needCheck := false, false, false
	backoff := 10 * time.Millisecond
	nextPoll := time.Now().Add(t.cfg.SyncInterval)
	lastHeard, pollFails := time.Now(), 0
	lost := func(reason string) {
		if !connected {
			return
		}
		connected = false
		t.st.subscribed.Store(false)
		t.st.disconnects.Add(1)
		t.log.LogAttrs(ctx, slog.LevelWarn, "invalidation_subscriber_disconnected", slog.String("error", reason))
	}
	for {
		ps := t.ps.Load()
		wait := max(time.Until(nextPoll), time.Millisecond)
		msg, err := ps.ReceiveTimeout(ctx, wait)
		if ctx.Err() != nil {
			return
		}
		var ne net.Error
		switch {
		case err != nil && errors.As(err, &ne) && ne.Timeout() && connected:
			// Nothing arrived: fall through to the poll.
		case err != nil:
			lost(err.Error())
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, t.cfg.SyncInterval)
			continue
		default:
			backoff = 10 * time.Millisecond
			lastHeard = time.Now()
			switch m := msg.(type) {
			case *redis.Subscription:
				if t.log.Enabled(ctx, slog.LevelDebug) {
					t.log.LogAttrs(ctx, slog.LevelDebug, "invalidation_subscription", slog.String("kind", m.Kind), slog.Int("count", m.Count))
				}
				switch m.Kind {
				case "subscribe", "ssubscribe":
					reconnect := everConnected
					connected, everConnected = true, true
					needCheck = !t.checkState(ctx, &tr, reconnect)
					// Published after the check, so that a caller seeing
					// Subscribed also sees the resync it caused.
					t.st.subscribed.Store(true)
				case "unsubscribe", "sunsubscribe":
					// The server dropped the subscription (the channel's
					// slot moved): subscribe again; the next confirmation
					// runs the state check.
					lost("server ended the subscription")
					if t.sharded {
						_ = ps.SSubscribe(ctx, t.channel) // a failure shows up in the next Receive
					} else {
						_ = ps.Subscribe(ctx, t.channel) // as above
					}
				}
			case *redis.Message:
				t.deliver(m.Payload, &tr)
			}
		}
		if connected && !time.Now().Before(nextPoll) {
			nextPoll = time.Now().Add(t.cfg.SyncInterval)
			if time.Since(lastHeard) > 3*t.cfg.SyncInterval && pollFails >= 2 {
				// Pings went unanswered for three intervals and Redis does
				// not answer the data connections either: it is frozen, or
				// the network is partitioned while the connection still
				// looks open. (A busy node that is merely late reading its
				// pongs still polls fine and keeps its connection.) Start
				// over on a new connection; its confirmation runs the state
				// check.
				lost("no answer to pings")
				_ = ps.Close() // the connection is dead already
				subscribe()
				lastHeard, pollFails = time.Now(), 0
				continue
			}
			ok := true
			if needCheck {
				ok = t.checkState(ctx, &tr, true)
				needCheck = !ok
			} else {
				ok = t.poll(ctx, &tr)
			}
			if ok {
				pollFails = 0
			} else {
				pollFails++
			}
			// Answered by a Pong, which counts as hearing from Redis.
			_ = ps.Ping(ctx) // a failure shows up in the next Receive
		}
	}
}

// readMeta loads the shared state for the subscriber, unless the breaker is
// open (no call touches Redis then; the prober loads it).
func (t *Tier) readMeta(ctx context.Context) (meta, bool) {
	if t.br.isOpen() {
		return meta{}, false
	}
	cctx, cancel := context.WithTimeout(probeContext(ctx), t.callTimeout())
	defer cancel()
	m, err := t.loadMeta(cctx)
	if err != nil {
		return meta{}, false
	}
	return m, true
}

// checkState runs after a (re)subscription: it compares the shared state
// with what this node last knew, calls OnResync if invalidations may have
// been missed, and resets the tracker. It reports false if the state could
// not be read (the caller retries at the next poll).
//
// The state is read after the subscription is confirmed, so every
// invalidation is either counted in the epoch read here or delivered on the
// new subscription. A purge racing with the read may be both: that costs at
// most one unneeded resync.
func (t *Tier) checkState(ctx context.Context, tr *epochTracker, reconnect bool) bool {
	m, ok := t.readMeta(ctx)
	if !ok {
		return false
	}
	t.applyMeta(m)
	switch {
	case !tr.init:
		// First subscription: the node's L1 is as new as its knowledge.
	case m.id != tr.id:
		t.resync(ctx, Resync{Reason: ResyncDataLost})
	case m.epoch != tr.low:
		// Moved on (missed messages), or back (the epoch key was lost).
		t.resync(ctx, Resync{Reason: ResyncEpoch, Missed: tr.missed(m.epoch)})
	case reconnect && t.cfg.ResyncAlways:
		t.resync(ctx, Resync{Reason: ResyncReconnect})
	}
	tr.reset(m)
	return true
}

// poll checks, while connected, that no message was lost: every epoch seen
// in Redis at the previous poll must have arrived by now. It reports
// whether the state could be read.
func (t *Tier) poll(ctx context.Context, tr *epochTracker) bool {
	m, ok := t.readMeta(ctx)
	if !ok {
		return false
	}
	t.applyMeta(m)
	switch {
	case m.id != tr.id:
		t.resync(ctx, Resync{Reason: ResyncDataLost})
		tr.reset(m)
	case tr.pending > tr.low || m.epoch < tr.low:
		t.resync(ctx, Resync{Reason: ResyncEpoch, Missed: tr.missed(tr.pending)})
		tr.reset(m)
	default:
		tr.pending = m.epoch
	}
	return true
}

func (t *Tier) resync(ctx context.Context, r Resync) {
	t.invalSeq.Add(1)
	t.st.resyncs.Add(1)
	t.log.LogAttrs(ctx, slog.LevelWarn, "l1_resync", slog.String("reason", r.Reason.String()), slog.Uint64("missed", r.Missed))
	if t.deps.OnResync != nil {
		t.deps.OnResync(r)
	}
}

// deliver decodes one message ("epoch json [mac]"), checks it and hands
// it to OnInvalidate. A message that fails a check is counted, logged (at
// most once per warnEvery) and dropped; its epoch is not marked received,
// so if it stood for a real invalidation the next poll notices the gap and
// resyncs, which is the safe side.
func (t *Tier) deliver(payload string, tr *epochTracker) {
	inv, err := t.decodeMessage(payload, time.Now())
	if err != nil {
		t.reject("invalidation_message_rejected", err, len(payload))
		return
	}
	if inv.Origin != t.nodeID {
		// This node's own purges moved the sequence when they started.
		t.invalSeq.Add(1)
	}
	t.st.received.Add(1)
	tr.saw(inv.Epoch)
	if !t.applyGen(&inv) {
		// A generation more than one step ahead: messages were lost, or
		// the claim is forged. Redis' own counter decides (bounded there).
		if m, ok := t.readMeta(t.stopCtx); ok {
			t.applyMeta(m)
		}
	}
	if t.deps.OnInvalidate != nil {
		t.deps.OnInvalidate(inv)
	}
}

// decodeMessage parses and checks one bus message received at now.
func (t *Tier) decodeMessage(payload string, now time.Time) (Invalidation, error) {
	if len(payload) > maxMessageSize {
		return Invalidation{}, fmt.Errorf("message of %d bytes", len(payload))
	}
	sp := strings.IndexByte(payload, ' ')
	if sp < 0 || sp > 20 {
		return Invalidation{}, errors.New("no epoch")
	}
	e, err := strconv.ParseUint(payload[:sp], 10, 64)
	if err != nil {
		return Invalidation{}, errors.New("bad epoch")
	}
	body, err := t.signer.Open(DomainInvalidation, []byte(payload[sp+1:]))
	if err != nil {
		return Invalidation{}, err
	}
	var w wireInvalidation
	if err := json.Unmarshal(body, &w); err != nil {
		return Invalidation{}, err
	}
	if err := w.check(); err != nil {
		return Invalidation{}, err
	}
	if t.signer.Enabled() {
		// Only a signed message's time and data set mean anything.
		if age := now.Sub(time.UnixMilli(w.Time)); age > maxMessageAge || age < -maxMessageAge {
			return Invalidation{}, fmt.Errorf("message sent %s ago, outside the replay window", age.Round(time.Second))
		}
		t.metaMu.Lock()
		ds := t.redisID
		t.metaMu.Unlock()
		if w.DataSet != ds {
			return Invalidation{}, errors.New("message for another Redis data set")
		}
	}
	if e == 0 && w.Kind != KindURL {
		// Only Notify sends epoch 0, and only for one URL: anything wider
		// must be counted in the epoch, so that a node that misses it knows.
		return Invalidation{}, fmt.Errorf("untracked %s invalidation", w.Kind)
	}
	inv := w.Invalidation
	inv.Epoch = e
	return inv, nil
}

// check bounds a received message's fields.
func (w *wireInvalidation) check() error {
	if err := w.validate(); err != nil {
		return err
	}
	if len(w.Host) > maxMessageHost || len(w.Path) > maxMessagePath || len(w.Origin) > maxOriginLen ||
		len(w.Tags) > maxMessageTags {
		return errors.New("field too long")
	}
	for _, tag := range w.Tags {
		if tag == "" || len(tag) > maxMessageTag {
			return errors.New("bad tag")
		}
	}
	if w.Kind == KindAll && (w.Gen == 0 || w.Gen >= maxGen || w.Soft && w.Gen >= maxSoftGen) {
		return errors.New("generation out of range")
	}
	return nil
}

// reject counts data from Redis that failed a check, and logs it at most
// once per warnEvery.
func (t *Tier) reject(msg string, err error, size int) {
	t.st.rejectedMsgs.Add(1)
	if ok, held := t.warn.Allow(time.Now()); ok {
		t.log.LogAttrs(t.stopCtx, slog.LevelWarn, msg, slog.String("error", err.Error()),
			slog.Int("len", size), slog.Uint64("suppressed", held))
	}
}
