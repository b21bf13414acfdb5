package gateway

import (
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/coocood/freecache"
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
type l1Cache struct {
	c     *freecache.Cache
	size  int
	maxKV int // largest len(key)+len(value) freecache accepts

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

func newL1Cache(size int, now func() time.Time) *l1Cache {
	const minSize = 512 << 10 // freecache's own minimum
	if size < minSize {
		size = minSize
	}
	return &l1Cache{
		c:     freecache.NewCacheCustomTimer(size, clockTimer(now)),
		size:  size,
		maxKV: size/256/4 - 24,
	}
}

func (l *l1Cache) register(set *metrics.Set) {
	set.NewGauge("flowcache_l1_entries", func() float64 { return float64(l.c.EntryCount()) })
	set.NewGauge("flowcache_l1_capacity_bytes", func() float64 { return float64(l.size) })
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

// set stores value under key for ttl (at least one second: freecache
// counts whole seconds, and 0 would mean forever).
func (l *l1Cache) set(key, value []byte, ttl time.Duration) bool {
	sec := int((ttl + time.Second - 1) / time.Second)
	if sec < 1 {
		sec = 1
	}
	return l.c.Set(key, value, sec) == nil
}

func (l *l1Cache) del(key []byte) bool { return l.c.Del(key) }

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
