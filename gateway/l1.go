package gateway

import (
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/coocood/freecache"

	"github.com/flowcache/flowcache/gateway/internal/blob"
)

// l1Cache is the in-process tier: a freecache sized by cache.l1_size.
//
// # Why chunks?
//
// freecache refuses an entry (key + value + 24-byte header) larger than
// 1/1024 of its size, 256KiB for a 256MiB cache. Larger bodies are stored
// in chunks under keys derived from the head's key and a random id; the
// head entry (entry.FlagBodyChunked) holds the first part (see record.go).
// A chunk missing (evicted) drops the head: the next lookup reads the
// entry whole from L2, or misses.
//
// # Large objects
//
// Bodies of at least cache.large_min_size do not go to freecache but to
// the large-object tier (package blob, cache.large_size bytes): their
// records are immutable slices, served without a copy (SetBodyRaw).
// Lookups read freecache first, then that tier; everything that removes
// from L1 (purge, eviction from the index, flush) removes from both.
type l1Cache struct {
	c     *freecache.Cache
	size  int
	maxKV int // largest len(key)+len(value) freecache accepts

	big    *blob.Store // the large-object tier; nil when cache.large_size is 0
	bigMin int         // the smallest body it takes
	now    func() time.Time

	// freecache's counters restart at zero when it is cleared (clear):
	// what they had counted is carried in cleared, and mono keeps the sums
	// from going down between the read and the clear.
	cleared                       [3]atomic.Uint64 // evictions, expirations, overwrites
	evictions, expiries, overwrit monotonic
}

// freecache.Timer over the gateway's clock, so that tests can move time.
type clockTimer func() time.Time

func (f clockTimer) Now() uint32 {
	return uint32(f().Unix()) //nolint:gosec // freecache's clock is 32-bit seconds, valid until 2106
}

func newL1Cache(size int, now func() time.Time, largeSize, largeMin int) *l1Cache {
	const minSize = 512 << 10 // freecache's own minimum
	if size < minSize {
		size = minSize
	}
	l := &l1Cache{
		c:      freecache.NewCacheCustomTimer(size, clockTimer(now)),
		size:   size,
		maxKV:  size/256/4 - 24,
		bigMin: largeMin,
		now:    now,
	}
	if largeSize > 0 {
		l.big = blob.New(int64(largeSize))
	}
	return l
}

// capacity is L1's memory: freecache's and the large-object tier's
// (cache.l1_size).
func (l *l1Cache) capacity() int64 {
	if l.big == nil {
		return int64(l.size)
	}
	return int64(l.size) + l.big.Capacity()
}

// large reports whether an entry with a body of n bytes goes to the
// large-object tier.
func (l *l1Cache) large(n int) bool { return l.big != nil && n >= l.bigMin }

// getLarge returns the immutable record under key in the large-object
// tier, not copied, if it is there and not expired at now.
func (l *l1Cache) getLarge(key []byte, now time.Time) ([]byte, bool) {
	if l.big == nil {
		return nil, false
	}
	v, _, ok := l.big.Get(key, now.UnixNano())
	return v, ok
}

// setLarge stores the record rec under key in the large-object tier for
// ttl, taking ownership of rec (never modified again), and removes what
// freecache held under key.
func (l *l1Cache) setLarge(key, rec []byte, ttl time.Duration) bool {
	now := l.now()
	if !l.big.Set(key, rec, now.Add(max(ttl, time.Second)).UnixNano(), now.UnixNano()) {
		return false
	}
	l.c.Del(key)
	return true
}

// getLocal is get, also finding (and copying) a record of the large-object
// tier: for the purge walks.
func (l *l1Cache) getLocal(key, buf []byte) ([]byte, bool) {
	if v, ok := l.get(key, buf); ok {
		return v, true
	}
	if v, ok := l.getLarge(key, l.now()); ok {
		return append(buf[:0], v...), true
	}
	return buf[:0], false
}

// remaining returns how long the record under key has left to live, and
// whether the large-object tier (not freecache) holds it.
func (l *l1Cache) remaining(key []byte) (ttl time.Duration, large, ok bool) {
	if sec, err := l.c.TTL(key); err == nil && sec > 0 {
		return time.Duration(sec) * time.Second, false, true
	}
	if l.big != nil {
		now := l.now()
		if _, exp, ok := l.big.Get(key, now.UnixNano()); ok {
			return time.Duration(exp - now.UnixNano()), true, true
		}
	}
	return 0, false, false
}

func (l *l1Cache) register(set *metrics.Set) {
	if l.big != nil {
		big := l.big
		set.NewGauge("flowcache_large_bytes", func() float64 { return float64(big.Bytes()) })
		set.NewGauge("flowcache_large_capacity_bytes", func() float64 { return float64(big.Capacity()) })
		set.NewGauge("flowcache_large_entries", func() float64 { return float64(big.Len()) })
		set.NewGauge("flowcache_large_evictions_total", func() float64 { return float64(big.Evictions()) })
	}
	set.NewGauge("flowcache_l1_entries", func() float64 { return float64(l.c.EntryCount()) })
	set.NewGauge("flowcache_l1_capacity_bytes", func() float64 { return float64(l.capacity()) })
	set.NewGauge("flowcache_l1_evictions_total", func() float64 {
		return float64(l.evictions.value(l.cleared[0].Load() + uint64(l.c.EvacuateCount()))) //nolint:gosec // freecache's counts are not negative
	})
	set.NewGauge("flowcache_l1_expirations_total", func() float64 {
		return float64(l.expiries.value(l.cleared[1].Load() + uint64(l.c.ExpiredCount()))) //nolint:gosec // as above
	})
	set.NewGauge("flowcache_l1_overwrites_total", func() float64 {
		return float64(l.overwrit.value(l.cleared[2].Load() + uint64(l.c.OverwriteCount()))) //nolint:gosec // as above
	})
}

// clear empties L1, keeping its eviction, expiration and overwrite
// counts (freecache's restart at zero).
func (l *l1Cache) clear() {
	l.cleared[0].Add(uint64(l.c.EvacuateCount()))  //nolint:gosec // freecache's counts are not negative
	l.cleared[1].Add(uint64(l.c.ExpiredCount()))   //nolint:gosec // as above
	l.cleared[2].Add(uint64(l.c.OverwriteCount())) //nolint:gosec // as above
	l.c.Clear()
	if l.big != nil {
		l.big.Clear()
	}
}

// get copies the value stored under key into buf (growing it when too
// small) and returns it; it does not allocate when buf is large enough.
func (l *l1Cache) get(key, buf []byte) ([]byte, bool) {
	v, err := l.c.GetWithBuf(key, buf[:cap(buf)])
	if err != nil {
		return buf[:0], false
	}
	return v, true
}

// setFreecache stores value under key in freecache for ttl (at least one
// second: freecache counts whole seconds, and 0 would mean forever).
func (l *l1Cache) setFreecache(key, value []byte, ttl time.Duration) bool {
	sec := int((ttl + time.Second - 1) / time.Second)
	if sec < 1 {
		sec = 1
	}
	return l.c.Set(key, value, sec) == nil
}

// del removes key from freecache and the large-object tier.
func (l *l1Cache) del(key []byte) bool {
	ok := l.c.Del(key)
	if l.big != nil && l.big.Delete(key) {
		ok = true
	}
	return ok
}

// set stores value under key in freecache for ttl (see setFreecache),
// and removes what the large-object tier held under key, which would
// otherwise be found once freecache has evicted value.
func (l *l1Cache) set(key, value []byte, ttl time.Duration) bool {
	if l.big != nil {
		l.big.Delete(key)
	}
	return l.setFreecache(key, value, ttl)
}

// fits reports whether key and value fit in one freecache entry.
func (l *l1Cache) fits(key []byte, valueLen int) bool {
	return len(key)+valueLen <= l.maxKV
}

// touch extends key's life to ttl from now.
func (l *l1Cache) touch(key []byte, ttl time.Duration) {
	sec := int((ttl + time.Second - 1) / time.Second)
	if sec < 1 {
		sec = 1
	}
	// A chunk already evicted cannot be revived; the head then turns into a
	// miss when read, which is the intended outcome.
	_ = l.c.Touch(key, sec)
}
