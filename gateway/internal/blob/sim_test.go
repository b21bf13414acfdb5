package blob

import (
	"container/list"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"
)

// zipfTrace returns n requests over objects 0..objects-1, object i asked
// with probability proportional to 1/(i+1)^alpha, and the size of each
// object (log-uniform between 64 KiB and 2 MiB).
func zipfTrace(seed uint64, objects, n int, alpha float64) (trace []int, sizes []int) {
	r := rand.New(rand.NewPCG(seed, seed+1))
	cdf := make([]float64, objects)
	sum := 0.0
	for i := range cdf {
		sum += 1 / math.Pow(float64(i+1), alpha)
		cdf[i] = sum
	}
	perm := r.Perm(objects) // popularity does not follow size or key order
	trace = make([]int, n)
	for i := range trace {
		trace[i] = perm[sort.SearchFloat64s(cdf, r.Float64()*sum)]
	}
	sizes = make([]int, objects)
	for i := range sizes {
		sizes[i] = int(math.Exp(math.Log(64<<10) + r.Float64()*(math.Log(2<<20)-math.Log(64<<10))))
	}
	return trace, sizes
}

// lru is the baseline: a byte-bounded LRU, which freecache approximates
// (it moves an entry read more recently than the average to the front of
// its ring instead of evicting it).
type lru struct {
	capacity, bytes int64
	ll              *list.List
	m               map[int]*list.Element
	sizes           []int
}

func (c *lru) get(k int) bool {
	if e, ok := c.m[k]; ok {
		c.ll.MoveToFront(e)
		return true
	}
	return false
}

func (c *lru) set(k int) {
	c.m[k] = c.ll.PushFront(k)
	c.bytes += int64(c.sizes[k]) + itemOverhead
	for c.bytes > c.capacity {
		e := c.ll.Back()
		c.ll.Remove(e)
		delete(c.m, e.Value.(int))
		c.bytes -= int64(c.sizes[e.Value.(int)]) + itemOverhead
	}
}

// TestStore_ZipfHitRatio replays a Zipf trace of large objects through the
// store and through an LRU of the same bytes (freecache's approximation),
// and compares the share of requests each answers. Run with -v for the
// figures.
func TestStore_ZipfHitRatio(t *testing.T) {
	t.Parallel()
	const objects, requests = 20000, 200000
	buf := make([]byte, 2<<20) // every value is a prefix of it: the store does not read them
	for _, tc := range []struct {
		alpha   float64
		cacheOf float64 // capacity, as a share of all objects' bytes
	}{{0.8, 0.05}, {0.8, 0.2}, {1.0, 0.05}, {1.0, 0.2}} {
		trace, sizes := zipfTrace(7, objects, requests, tc.alpha)
		total := 0
		for _, n := range sizes {
			total += n
		}
		capacity := int64(float64(total) * tc.cacheOf)
		s := New(capacity)
		l := &lru{capacity: capacity, ll: list.New(), m: map[int]*list.Element{}, sizes: sizes}
		var key []byte
		sHits, lHits := 0, 0
		for _, o := range trace {
			key = strconv.AppendInt(key[:0], int64(o), 10)
			if _, _, ok := s.Get(key, 1); ok {
				sHits++
			} else {
				s.Set(key, buf[:sizes[o]], 0, 1)
			}
			if l.get(o) {
				lHits++
			} else {
				l.set(o)
			}
		}
		sr, lr := float64(sHits)/requests, float64(lHits)/requests
		t.Logf("zipf alpha %.1f, cache %2.0f%% of the bytes: S3-FIFO hit ratio %.3f, LRU %.3f (%+.1f%%)", tc.alpha, 100*tc.cacheOf, sr, lr, 100*(sr-lr)/lr)
		if sr < lr {
			t.Errorf("alpha %.1f, cache %.0f%%: S3-FIFO hit ratio %.3f below LRU's %.3f", tc.alpha, 100*tc.cacheOf, sr, lr)
		}
	}
}
