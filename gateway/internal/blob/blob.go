package blob

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// itemOverhead is what an item costs beside its key and value, counted in
// the store's bytes: the item, its map slot, its ghost slot.
const itemOverhead = 128

// maxFreq caps an item's read count: the number of extra rounds it gets in
// the main queue.
const maxFreq = 3

// Store is a bounded set of immutable values by key. All methods are safe
// for concurrent use. The zero value is not usable: call New.
type Store struct {
	mu       sync.RWMutex
	m        map[string]*item
	small    queue // new items
	main     queue // items read while in small, or recently evicted from it
	ghost    ghost
	capacity int64
	smallCap int64
	bytes    int64 // of every item, guarded by mu
	now      int64 // the time of the last Set, guarded by mu

	// Read by metrics without the lock.
	nBytes, nItems atomic.Int64
	evictions      atomic.Uint64
}

// item is one stored value and its place in a queue.
type item struct {
	key        string
	val        []byte
	expires    int64 // unix nanoseconds; 0: never
	freq       atomic.Int32
	inMain     bool
	prev, next *item
}

func (it *item) size() int64 { return int64(len(it.key)+len(it.val)) + itemOverhead }

// New returns a store of at most capacity bytes (values, keys and a fixed
// overhead per item).
func New(capacity int64) *Store {
	return &Store{
		m:        map[string]*item{},
		capacity: capacity,
		smallCap: capacity / 10,
		ghost:    ghost{seed: maphash.MakeSeed(), set: map[uint64]int32{}},
	}
}

// Capacity returns the store's capacity in bytes.
func (s *Store) Capacity() int64 { return s.capacity }

// Fits reports whether a value of n bytes under a key of k bytes may be
// stored: at most an eighth of the capacity, so that one value never
// empties the store.
func (s *Store) Fits(k, n int) bool {
	return int64(k+n)+itemOverhead <= s.capacity/8
}

// Get returns the value stored under key, and when it expires (unix
// nanoseconds, 0: never), if it is there and not expired at now. The value
// must not be modified. Get does not allocate.
func (s *Store) Get(key []byte, now int64) (val []byte, expires int64, ok bool) {
	s.mu.RLock()
	it := s.m[string(key)]
	if it == nil || it.expires != 0 && it.expires <= now {
		s.mu.RUnlock()
		return nil, 0, false
	}
	val, expires = it.val, it.expires
	if it.freq.Load() < maxFreq {
		it.freq.Add(1)
	}
	s.mu.RUnlock()
	return val, expires, true
}

// Set stores val under key until expires (unix nanoseconds, 0: never),
// replacing what was there, and evicts what it must to stay within
// capacity, expired values first as it meets them; now is the current
// time. The store owns val from now on: the caller must never modify it
// again. It reports false, storing nothing, when the value does not fit
// (Fits).
func (s *Store) Set(key []byte, val []byte, expires, now int64) bool {
	if !s.Fits(len(key), len(val)) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
	if old := s.m[string(key)]; old != nil {
		s.remove(old)
	}
	it := &item{key: string(key), val: val, expires: expires}
	if s.ghost.take(it.key) {
		it.inMain = true
		s.main.pushFront(it)
	} else {
		s.small.pushFront(it)
	}
	s.m[it.key] = it
	s.add(it.size())
	for s.bytes > s.capacity {
		s.evict()
	}
	return true
}

// Delete removes key and reports whether it was stored.
func (s *Store) Delete(key []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.m[string(key)]
	if it == nil {
		return false
	}
	s.remove(it)
	return true
}

// Clear removes every value.
func (s *Store) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.m)
	s.small, s.main = queue{}, queue{}
	s.ghost.reset()
	s.add(-s.bytes)
}

// Bytes returns the bytes stored (values, keys and overhead).
func (s *Store) Bytes() int64 { return s.nBytes.Load() }

// Len returns the number of values stored.
func (s *Store) Len() int { return int(s.nItems.Load()) }

// Evictions returns how many values were evicted to make room (not those
// deleted or replaced).
func (s *Store) Evictions() uint64 { return s.evictions.Load() }

// add accounts n more bytes (negative: fewer). Caller holds mu.
func (s *Store) add(n int64) {
	s.bytes += n
	s.nBytes.Store(s.bytes)
	s.nItems.Store(int64(len(s.m)))
}

// remove takes it out of the map and its queue. Caller holds mu.
func (s *Store) remove(it *item) {
	if it.inMain {
		s.main.unlink(it)
	} else {
		s.small.unlink(it)
	}
	delete(s.m, it.key)
	s.add(-it.size())
}

// evict removes one item (S3-FIFO): from the small queue while it holds
// more than its tenth, else from the main queue. Caller holds mu.
func (s *Store) evict() {
	if s.small.bytes > s.smallCap || s.main.tail == nil {
		s.evictSmall()
		return
	}
	s.evictMain()
}

// evictSmall moves the small queue's oldest items that were read again to
// the main queue, until it evicts one (remembered in the ghost queue).
func (s *Store) evictSmall() {
	for it := s.small.tail; it != nil; it = s.small.tail {
		s.small.unlink(it)
		if it.freq.Load() > 0 && !s.expired(it) {
			it.freq.Store(0)
			it.inMain = true
			s.main.pushFront(it)
			if s.main.bytes > s.capacity-s.smallCap && s.main.tail != nil {
				s.evictMain()
			}
			continue
		}
		s.ghost.add(it.key, len(s.m))
		s.drop(it)
		return
	}
	if s.main.tail != nil {
		s.evictMain()
	}
}

// evictMain gives the main queue's oldest items read since their last
// round another one, until it evicts one.
func (s *Store) evictMain() {
	for it := s.main.tail; it != nil; it = s.main.tail {
		s.main.unlink(it)
		if f := it.freq.Load(); f > 0 && !s.expired(it) {
			it.freq.Store(f - 1)
			s.main.pushFront(it)
			continue
		}
		s.drop(it)
		return
	}
}

// expired reports whether it had expired at the last Set.
func (s *Store) expired(it *item) bool { return it.expires != 0 && it.expires <= s.now }

// drop removes it, already unlinked, from the map, counting an eviction.
func (s *Store) drop(it *item) {
	delete(s.m, it.key)
	s.add(-it.size())
	s.evictions.Add(1)
}

// queue is a doubly linked FIFO of items: new ones at the front, the
// oldest at the tail.
type queue struct {
	head, tail *item
	bytes      int64
}

func (q *queue) pushFront(it *item) {
	it.prev, it.next = nil, q.head
	if q.head != nil {
		q.head.prev = it
	} else {
		q.tail = it
	}
	q.head = it
	q.bytes += it.size()
}

func (q *queue) unlink(it *item) {
	if it.prev != nil {
		it.prev.next = it.next
	} else {
		q.head = it.next
	}
	if it.next != nil {
		it.next.prev = it.prev
	} else {
		q.tail = it.prev
	}
	it.prev, it.next = nil, nil
	q.bytes -= it.size()
}

// ghost remembers the hashes of the keys last evicted from the small
// queue, as many as the store holds items.
type ghost struct {
	seed maphash.Seed
	ring []uint64
	next int
	set  map[uint64]int32 // hash → times in ring
}

// add remembers key, forgetting the oldest beyond limit keys.
func (g *ghost) add(key string, limit int) {
	limit = max(limit, 16)
	h := maphash.String(g.seed, key)
	if len(g.ring) < limit {
		g.ring = append(g.ring, h)
	} else {
		if g.next >= len(g.ring) {
			g.next = 0
		}
		g.forget(g.ring[g.next])
		g.ring[g.next] = h
		g.next++
	}
	g.set[h]++
}

// take reports whether key is remembered, and forgets it.
func (g *ghost) take(key string) bool {
	h := maphash.String(g.seed, key)
	if g.set[h] == 0 {
		return false
	}
	g.forget(h) // its ring slot stays, counted out
	return true
}

func (g *ghost) forget(h uint64) {
	if n := g.set[h]; n > 1 {
		g.set[h] = n - 1
	} else {
		delete(g.set, h)
	}
}

func (g *ghost) reset() {
	g.ring, g.next = g.ring[:0], 0
	clear(g.set)
}
