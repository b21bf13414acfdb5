package gateway

import (
	"bytes"
	"encoding/binary"
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
// head entry (entry.FlagBodyChunked) holds the first part. A chunk missing
// (evicted) turns the head into a miss.
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

// Stored record layout, in L1 and L2 alike:
//
//	[0]     kind: kindEntry or kindVariants
//	[1]     flags: recAdmitL1 (a copy found in L2 may be promoted to L1)
//	[2:10]  id: the chunk id of an entry, the generation of a variant record
//	[10:]   payload: an entry encoding (entry.AppendEncode), or a variant record
//
// A variant record lists the lower-cased names of the response's Vary field
// and the variants stored for the URL:
//
//	u16 len, names joined by ","; u16 n; n × (u16 len, variant material)
//
// Variant keys are primaryKey "\x00v" gen material; chunk keys are
// headKey "\x00c" id u32(index). A new generation makes every older variant
// unreachable at once.
const (
	kindEntry    = 'E'
	kindVariants = 'V'
	recAdmitL1   = 1
	recHeadSize  = 10
	maxVariants  = 64
)

func appendRecordHead(dst []byte, kind byte, flags byte, id uint64) []byte {
	dst = append(dst, kind, flags)
	return binary.BigEndian.AppendUint64(dst, id)
}

func parseRecordHead(v []byte) (kind, flags byte, id uint64, payload []byte, ok bool) {
	if len(v) < recHeadSize {
		return 0, 0, 0, nil, false
	}
	return v[0], v[1], binary.BigEndian.Uint64(v[2:10]), v[recHeadSize:], true
}

func appendChunkKey(dst, headKey []byte, id uint64, i int) []byte {
	dst = append(dst, headKey...)
	dst = append(dst, 0, 'c')
	dst = binary.BigEndian.AppendUint64(dst, id)
	return binary.BigEndian.AppendUint32(dst, uint32(i)) //nolint:gosec // a chunk index is small and non-negative
}

func appendVariantKey(dst, primary []byte, gen uint64, material []byte) []byte {
	dst = append(dst, primary...)
	dst = append(dst, 0, 'v')
	dst = binary.BigEndian.AppendUint64(dst, gen)
	return append(dst, material...)
}

// variantRecord is a parsed variant record; its slices alias the record.
type variantRecord struct {
	names []byte // lower-case Vary names joined by ","
	list  []byte // the encoded variant list
	n     int
}

func parseVariantRecord(p []byte) (variantRecord, bool) {
	var r variantRecord
	if len(p) < 2 {
		return r, false
	}
	n := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	if len(p) < n+2 {
		return r, false
	}
	r.names, p = p[:n], p[n:]
	r.n = int(binary.BigEndian.Uint16(p))
	r.list = p[2:]
	return r, true
}

// next returns the next variant material of the list.
func nextVariant(list []byte) (material, rest []byte, ok bool) {
	if len(list) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(list))
	if len(list) < 2+n {
		return nil, nil, false
	}
	return list[2 : 2+n], list[2+n:], true
}

func (r *variantRecord) has(material []byte) bool {
	for l := r.list; ; {
		m, rest, ok := nextVariant(l)
		if !ok {
			return false
		}
		if bytes.Equal(m, material) {
			return true
		}
		l = rest
	}
}

// appendVariantRecord appends a record with names and the list of
// materials (old, then extra if not empty).
func appendVariantRecord(dst, names []byte, old variantRecord, extra []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(names))) //nolint:gosec // at most maxVaryLen
	dst = append(dst, names...)
	n := old.n
	if len(extra) > 0 {
		n++
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(n)) //nolint:gosec // at most maxVariants
	dst = append(dst, old.list...)
	if len(extra) > 0 {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(extra))) //nolint:gosec // at most maxVaryLen
		dst = append(dst, extra...)
	}
	return dst
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
