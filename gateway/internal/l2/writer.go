package l2

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowcache/flowcache/internal/httplex"
)

// Index names the purge indexes an entry joins when it is written.
type Index struct {
	// Tags is the response's Surrogate-Key value: space-separated tags.
	Tags []byte
	// Host and Path index the entry for purge by URL (all variants: every
	// key written with this exact Path) and by path prefix. Path is the
	// request target, without NUL bytes. Empty Host: not indexed.
	Host, Path []byte
	// Seq is the Tier's InvalidationSeq read before the upstream request
	// that produced the value (0: when Set is called). If any invalidation
	// is applied or received after that, the write is dropped instead of
	// sent: it could bring back an entry purged meanwhile.
	Seq uint64
}

// writeItem is one queued write; its slices point into buf.
type writeItem struct {
	buf                          []byte
	key, value, tags, host, path []byte
	ttl                          time.Duration
	seq                          uint64
	touch                        bool // only extend the key's life (Touch): value is unused
}

var writeItemPool = sync.Pool{New: func() any { return new(writeItem) }}

func (it *writeItem) release() {
	if cap(it.buf) > 1<<20 {
		it.buf = nil // do not pin large buffers in the pool
	}
	it.buf = it.buf[:0]
	it.key, it.value, it.tags, it.host, it.path = nil, nil, nil, nil, nil
	it.touch = false
	writeItemPool.Put(it)
}

// Set queues an asynchronous write of value under key, expiring after ttl
// (the freshness lifetime plus the stale windows), and joins the indexes in
// ix. It copies its arguments and never blocks: when the queue is full, or
// ttl < 1ms, or the value is larger than Config.MaxValueSize, the write is
// dropped and counted. It reports whether the write was queued.
//
// A queued write is lost if Redis fails before it is sent; the breaker being
// open when its turn comes also drops it.
func (t *Tier) Set(key, value []byte, ttl time.Duration, ix Index) bool {
	return t.enqueue(key, value, ttl, ix, false)
}

// Touch queues, like Set, a change of the life of the value under key to
// ttl (PEXPIRE), without sending the value again: a refreshed entry's body
// chunks. Its index memberships are extended as Set's are. A key that is
// gone stays gone.
func (t *Tier) Touch(key []byte, ttl time.Duration, ix Index) bool {
	return t.enqueue(key, nil, ttl, ix, true)
}

// enqueue queues a Set or a Touch.
func (t *Tier) enqueue(key, value []byte, ttl time.Duration, ix Index, touch bool) bool {
	if ttl < time.Millisecond || len(value) > t.cfg.MaxValueSize || t.closed.Load() {
		t.st.dropInvalid.Add(1)
		return false
	}
	if t.br.isOpen() {
		t.st.dropOpen.Add(1)
		return false
	}
	if len(t.queue) == cap(t.queue) {
		// Full (a racy look, but then the send below decides): do not pay
		// for the copy of a write that will be dropped.
		t.st.dropFull.Add(1)
		return false
	}
	it := writeItemPool.Get().(*writeItem)
	n := len(key) + len(value) + len(ix.Tags) + len(ix.Host) + len(ix.Path)
	if cap(it.buf) < n {
		it.buf = make([]byte, 0, n)
	}
	b := it.buf[:0]
	part := func(p []byte) []byte {
		s := len(b)
		b = append(b, p...)
		return b[s:len(b):len(b)]
	}
	it.key, it.value, it.tags = part(key), part(value), part(ix.Tags)
	if len(ix.Host) > 0 {
		it.host, it.path = part(ix.Host), part(ix.Path)
	}
	it.buf, it.ttl, it.seq, it.touch = b, ttl, ix.Seq, touch
	if it.seq == 0 {
		it.seq = t.invalSeq.Load()
	}
	select {
	case t.queue <- it:
		t.st.queued.Add(1)
		return true
	default:
		t.st.dropFull.Add(1)
		it.release()
		return false
	}
}

// writeLoop drains the queue in batches of up to WriteBatch writes, one
// pipeline per batch. On Close it sends what is queued, then returns.
func (t *Tier) writeLoop() {
	defer t.wg.Done()
	w := &batchWriter{t: t, batch: make([]*writeItem, 0, t.cfg.WriteBatch)}
	for {
		select {
		case it := <-t.queue:
			w.batch = append(w.batch, it)
		case <-t.stopWrite:
			for {
				select {
				case it := <-t.queue:
					w.batch = append(w.batch, it)
					if len(w.batch) == cap(w.batch) {
						w.flush()
					}
				default:
					w.flush()
					return
				}
			}
		}
	fill:
		for len(w.batch) < cap(w.batch) {
			select {
			case it := <-t.queue:
				w.batch = append(w.batch, it)
			default:
				break fill
			}
		}
		w.flush()
	}
}

// batchWriter is one writer goroutine's reusable state.
type batchWriter struct {
	t     *Tier
	batch []*writeItem
	env   []byte           // envelopes of the batch, back to back
	keys  []byte           // index members of the batch, back to back
	ixTTL map[string]int64 // index sets added to in the batch: longest member TTL (ms)
}

// addIndex adds member to the sorted set key with its expiry (unix ms) as
// score and notes key's longest member TTL for trimIndex, which flush calls
// once per key after the batch's additions.
func (w *batchWriter) addIndex(ctx context.Context, pipe redis.Pipeliner, key string, member []byte, score float64, ttlMs int64) {
	pipe.ZAddGT(ctx, key, redis.Z{Score: score, Member: member})
	if w.ixTTL == nil {
		w.ixTTL = make(map[string]int64)
	}
	if old, ok := w.ixTTL[key]; !ok || ttlMs > old {
		w.ixTTL[key] = ttlMs
	}
}

func (w *batchWriter) flush() {
	if len(w.batch) == 0 {
		return
	}
	t := w.t
	defer func() {
		for i, it := range w.batch {
			it.release()
			w.batch[i] = nil
		}
		w.batch = w.batch[:0]
	}()
	if !t.br.allow() {
		t.st.dropOpen.Add(uint64(len(w.batch)))
		return
	}
	// Only the first 256KiB of scratch stays between batches.
	if cap(w.env) > 256<<10 {
		w.env = nil
	}
	w.env, w.keys = w.env[:0], w.keys[:0]

	ctx, cancel := context.WithTimeout(context.Background(), t.callTimeout())
	defer cancel()
	gen, softGen := t.gen.Load(), t.softGen.Load()
	now := time.Now()
	nowMs := "(" + strconv.FormatInt(now.UnixMilli(), 10)
	pipe := t.client.Pipeline()
	var in, stored, compressed, sent uint64
	seq := t.invalSeq.Load()
	clear(w.ixTTL)
	for _, it := range w.batch {
		if it.seq != seq {
			t.st.dropStale.Add(1)
			continue
		}
		sent++
		if it.touch {
			pipe.PExpire(ctx, string(t.appendEntryKey(nil, gen, it.key)), it.ttl)
		} else {
			start := len(w.env)
			var c bool
			w.env, c = t.codec.appendEncode(w.env, it.value, softGen)
			// Slices of earlier envelopes stay valid if env grows: the
			// old array is kept alive by them until Exec returns.
			env := w.env[start:len(w.env):len(w.env)]
			in += uint64(len(it.value))
			stored += uint64(len(env))
			if c {
				compressed++
			}
			pipe.Set(ctx, string(t.appendEntryKey(nil, gen, it.key)), env, it.ttl)
		}
		score := float64(now.Add(it.ttl).UnixMilli())
		ttlMs := it.ttl.Milliseconds()
		tags := it.tags
		for len(tags) > 0 {
			var tag []byte
			tag, tags = nextTag(tags)
			if len(tag) > 0 {
				w.addIndex(ctx, pipe, t.tagKey(tag), it.key, score, ttlMs)
			}
		}
		if len(it.host) > 0 {
			s := len(w.keys)
			w.keys = append(w.keys, it.path...)
			w.keys = append(w.keys, 0)
			w.keys = append(w.keys, it.key...)
			w.addIndex(ctx, pipe, t.hostKey(it.host), w.keys[s:len(w.keys):len(w.keys)], score, ttlMs)
		}
	}
	// Each index set of the batch is trimmed and given its expiry once,
	// after all its additions: the records of one URL (an entry, its
	// variant record, other variants) share their URL's host set (and tag
	// sets), which per record would cost three commands more each.
	for key, ttlMs := range w.ixTTL {
		trimIndex(ctx, pipe, key, ttlMs, nowMs)
	}
	if sent == 0 {
		t.br.release()
		return
	}
	_, err := pipe.Exec(ctx)
	if err != nil {
		t.st.writeErrors.Add(sent)
		t.callFailed(ctx, err)
		return
	}
	t.br.success()
	t.st.written.Add(sent)
	t.st.bytesIn.Add(in)
	t.st.bytesStored.Add(stored)
	t.st.compressed.Add(compressed)
}

// trimIndex trims the members of the index set key that have expired, and
// makes the set live at least as long as its longest-lived member, ttlMs
// (PEXPIRE NX sets a first TTL, GT only extends it; Redis >= 7.0).
func trimIndex(ctx context.Context, pipe redis.Pipeliner, key string, ttlMs int64, nowMs string) {
	pipe.ZRemRangeByScore(ctx, key, "-inf", nowMs)
	pipe.Do(ctx, "PEXPIRE", key, ttlMs, "NX")
	pipe.Do(ctx, "PEXPIRE", key, ttlMs, "GT")
}

// nextTag is httplex.NextTag: tags are split as the gateway's L1 index and
// purges split them (a comma separates tags too), so that a purge of one
// tag of "a,b" finds the entry in both tiers.
func nextTag(s []byte) (tag, rest []byte) { return httplex.NextTag(s) }
