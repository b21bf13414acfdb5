package gateway

import (
	"bytes"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/flowcache/flowcache/gateway/internal/entry"
	"github.com/flowcache/flowcache/gateway/internal/l2"
	"github.com/flowcache/flowcache/internal/httplex"
)

// invalState is what this node keeps to apply purges to its L1: the
// tag/prefix index and the soft purge-all cutoff.
type invalState struct {
	ix  l1Index
	log invalLog
	// softAll is the time (unix ns) of the last soft purge-all: an L1 entry
	// whose ResponseTime is not after it is served as invalidated (stale,
	// revalidated). A refresh gives the entry a later ResponseTime.
	softAll atomic.Int64
}

// l1Index maps surrogate keys and hosts to the primary keys of the URLs
// stored in this node's L1, so that a purge by tag or by path prefix (from
// this node or from another one, through L2's pub/sub) finds them without
// scanning L1, which freecache cannot do.
//
// # Why an index and not a flush?
//
// A flush of L1 on every tag or prefix purge would be correct and free to
// write, but it empties every node's L1 on every content update of an origin
// that tags its answers (Fastly-style purges are frequent), and each flushed
// entry then costs an L2 round trip (25-45µs) or an upstream request. The
// index costs a map insert on the store path (a miss, never a hit) and a few
// hundred bytes per stored URL.
//
// # Bounded by bytes
//
// The index holds at most budget bytes, as accounted by memberCost and
// setCost: the primary key of each URL (the target is a part of it), the
// names of the hosts and tags, plus estimates of what Go's maps and
// pointers cost around them. URLs and tags are chosen by clients and
// origins (a 16KiB URL is a valid one), so a bound in members would not
// bound memory.
//
// Every URL L1 holds has a member: that is what keeps purges correct. When a
// new member does not fit, the oldest members are evicted, and their URLs
// with them: they are queued (pending) and removed from L1 by dropEvicted,
// which the store path calls as soon as it holds no record lock (a purge
// running in between, a few microseconds, does not see them: the same race
// as with a purge that arrives while the entry is being stored). A member
// larger than the whole budget is refused, and its URL leaves L1 the same
// way (L2 may still hold it; L2 has its own index). Members are not removed
// when freecache evicts or expires an entry (a stale member is harmless: a
// purge deletes a key that is gone); being the oldest, they are evicted
// first.
type l1Index struct {
	mu      sync.Mutex
	budget  int
	used    int
	members map[string]*ixMember // primary key → member
	hosts   map[string]*ixSet
	tags    map[string]*ixSet
	// head is the oldest member, tail the newest.
	head, tail *ixMember
	pending    []string // primary keys evicted, to remove from L1
	evictions  atomic.Uint64
}

// ixMember is one URL stored in L1.
type ixMember struct {
	pkey       string
	target     string // a suffix of pkey
	host       *ixSet
	tags       []*ixSet
	size       int
	prev, next *ixMember
}

// ixSet is the members of one host or tag.
type ixSet struct {
	name string
	m    map[*ixMember]struct{}
}

// Accounting estimates, in bytes, of what Go's allocations cost around the
// strings (checked in TestL1Index_Accounting, with a margin of about 10%):
// a member's struct and its entries in members and in its host's set; each
// of its tags' entries in the member and in the tag's set; a host's or
// tag's set and its map; a string's header (see stringCost for the bytes).
const (
	ixMemberOverhead = 208
	ixTagRefOverhead = 56
	ixSetOverhead    = 240
	ixStringOverhead = 16
)

// stringCost is what a string of n bytes is accounted: Go rounds a small
// allocation up by at most an eighth, a large one (over 32KiB) to 8KiB pages.
func stringCost(n int) int {
	if n > 32<<10 {
		return ixStringOverhead + (n+8<<10-1)&^(8<<10-1)
	}
	return ixStringOverhead + n + n/8
}

// memberCost is what a member with this primary key and tags is accounted,
// apart from the sets it needs (setCost).
func memberCost(pkey, tags []byte) int {
	n := ixMemberOverhead + stringCost(len(pkey))
	for len(tags) > 0 {
		var tag []byte
		tag, tags = httplex.NextTag(tags)
		if len(tag) > 0 {
			n += ixTagRefOverhead
		}
	}
	return n
}

// setCost is what a host's or tag's set with a name of n bytes is
// accounted.
func setCost(n int) int { return ixSetOverhead + stringCost(n) }

// setsCost is what the sets of a member with host and tags cost: those the
// index lacks (onlyNew), or all of them. A tag listed twice is counted
// twice: an upper bound.
func (ix *l1Index) setsCost(host, tags []byte, onlyNew bool) int {
	n := 0
	if !onlyNew || ix.hosts[string(host)] == nil {
		n += setCost(len(host))
	}
	for len(tags) > 0 {
		var tag []byte
		tag, tags = httplex.NextTag(tags)
		if len(tag) > 0 && (!onlyNew || ix.tags[string(tag)] == nil) {
			n += setCost(len(tag))
		}
	}
	return n
}

func (ix *l1Index) init(budget int) { ix.budget = budget }

// add records the URL stored at pkey (policy key host and target) and its
// surrogate keys (space-separated). It reports false if the member alone
// exceeds the budget: the URL must then not be kept in L1, and is queued
// for dropEvicted (an older copy may be there). The oldest members make
// room for it; their URLs are queued for dropEvicted.
func (ix *l1Index) add(tags, host, target, pkey []byte) bool {
	size := memberCost(pkey, tags)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if m := ix.members[string(pkey)]; m != nil {
		if m.size == size && m.host.name == string(host) && ix.sameTags(m, tags) {
			ix.moveToTail(m) // added again (refreshed, another variant): newest
			return true
		}
		ix.remove(m) // with other tags: added anew below
	}
	if size+ix.setsCost(host, tags, false) > ix.budget {
		ix.pending = append(ix.pending, string(pkey))
		return false // more than the whole budget, even into an empty index
	}
	for ix.head != nil && ix.used+size+ix.setsCost(host, tags, true) > ix.budget {
		m := ix.head
		ix.remove(m)
		ix.pending = append(ix.pending, m.pkey)
		ix.evictions.Add(1)
	}
	if ix.members == nil {
		ix.members = map[string]*ixMember{}
		ix.hosts = map[string]*ixSet{}
		ix.tags = map[string]*ixSet{}
	}
	m := &ixMember{pkey: string(pkey), size: size}
	if strings.HasSuffix(m.pkey, string(target)) { // always (appendPrimaryKey): shared, not copied
		m.target = m.pkey[len(m.pkey)-len(target):]
	} else {
		m.target = string(target)
	}
	m.host = ix.set(ix.hosts, host)
	m.host.m[m] = struct{}{}
	for len(tags) > 0 {
		var tag []byte
		tag, tags = httplex.NextTag(tags)
		if len(tag) == 0 {
			continue
		}
		ts := ix.set(ix.tags, tag)
		if _, dup := ts.m[m]; !dup {
			ts.m[m] = struct{}{}
			m.tags = append(m.tags, ts)
		}
	}
	ix.members[m.pkey] = m
	ix.link(m)
	ix.used += size
	return true
}

// sameTags reports whether m is listed under exactly the tags of list.
func (ix *l1Index) sameTags(m *ixMember, list []byte) bool {
	n := 0
	for len(list) > 0 {
		var tag []byte
		tag, list = httplex.NextTag(list)
		if len(tag) == 0 {
			continue
		}
		ts := ix.tags[string(tag)]
		if ts == nil {
			return false
		}
		if _, ok := ts.m[m]; !ok {
			return false
		}
		n++
	}
	return n == len(m.tags) // a tag listed twice makes it differ: added anew
}

// link makes m the newest member.
func (ix *l1Index) link(m *ixMember) {
	m.prev, m.next = ix.tail, nil
	if ix.tail != nil {
		ix.tail.next = m
	} else {
		ix.head = m
	}
	ix.tail = m
}

// unlink takes m out of the age order.
func (ix *l1Index) unlink(m *ixMember) {
	if m.prev != nil {
		m.prev.next = m.next
	} else {
		ix.head = m.next
	}
	if m.next != nil {
		m.next.prev = m.prev
	} else {
		ix.tail = m.prev
	}
	m.prev, m.next = nil, nil
}

// moveToTail makes m the newest member.
func (ix *l1Index) moveToTail(m *ixMember) {
	if ix.tail != m {
		ix.unlink(m)
		ix.link(m)
	}
}

// set returns the set named name in sets, created if needed.
func (ix *l1Index) set(sets map[string]*ixSet, name []byte) *ixSet {
	s := sets[string(name)]
	if s == nil {
		s = &ixSet{name: string(name), m: map[*ixMember]struct{}{}}
		sets[s.name] = s
		ix.used += setCost(len(name))
	}
	return s
}

// remove takes m out of the index.
func (ix *l1Index) remove(m *ixMember) {
	delete(ix.members, m.pkey)
	ix.unset(ix.hosts, m.host, m)
	for _, ts := range m.tags {
		ix.unset(ix.tags, ts, m)
	}
	ix.unlink(m)
	ix.used -= m.size
}

func (ix *l1Index) unset(sets map[string]*ixSet, s *ixSet, m *ixMember) {
	delete(s.m, m)
	if len(s.m) == 0 {
		delete(sets, s.name)
		ix.used -= setCost(len(s.name))
	}
}

// byTags returns the primary keys tagged with any of tags. A hard purge
// (!soft) also removes their members, as their URLs leave L1; a soft one
// keeps them, as the marked entries stay in L1 and a later purge must still
// find them.
func (ix *l1Index) byTags(tags []string, soft bool) (pkeys []string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var found []*ixMember
	for _, t := range tags {
		if ts := ix.tags[t]; ts != nil {
			for m := range ts.m {
				found = append(found, m)
			}
		}
	}
	return ix.take(found, soft)
}

// byPrefix returns the primary keys of host's URLs whose target starts
// with prefix, removing their members unless soft (see byTags).
func (ix *l1Index) byPrefix(host, prefix string, soft bool) (pkeys []string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var found []*ixMember
	if hs := ix.hosts[host]; hs != nil {
		for m := range hs.m {
			if strings.HasPrefix(m.target, prefix) {
				found = append(found, m)
			}
		}
	}
	return ix.take(found, soft)
}

// take returns the distinct primary keys of found, removing their members
// unless soft.
func (ix *l1Index) take(found []*ixMember, soft bool) []string {
	pkeys := make([]string, 0, len(found))
	seen := make(map[*ixMember]struct{}, len(found))
	for _, m := range found {
		if _, dup := seen[m]; dup {
			continue // listed under two of the purged tags
		}
		seen[m] = struct{}{}
		pkeys = append(pkeys, m.pkey)
		if !soft {
			ix.remove(m)
		}
	}
	return pkeys
}

// takePending appends to dst the primary keys evicted since the last call.
func (ix *l1Index) takePending(dst []string) []string {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	dst = append(dst, ix.pending...)
	clear(ix.pending)
	ix.pending = ix.pending[:0]
	return dst
}

// bytes returns the bytes accounted now.
func (ix *l1Index) bytes() int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.used
}

// reset empties the index (L1 was flushed).
func (ix *l1Index) reset() {
	ix.mu.Lock()
	ix.used, ix.members, ix.hosts, ix.tags, ix.head, ix.tail, ix.pending = 0, nil, nil, nil, nil, nil, nil
	ix.mu.Unlock()
}

// indexL1 records x's URL, about to be stored in L1 with tags, in the L1
// index; false means it must not be stored in L1 (see l1Index.add).
func (g *Gateway) indexL1(x *exchange, tags []byte) bool {
	return g.inv.ix.add(tags, x.key.Host, x.key.Target, x.pkey)
}

// dropEvicted removes from L1 the URLs the index evicted to make room. The
// caller must hold no record lock (removeURL takes them).
func (g *Gateway) dropEvicted() {
	var buf [8]string
	pkeys := g.inv.ix.takePending(buf[:0])
	if len(pkeys) == 0 {
		return
	}
	var pkey []byte
	for _, k := range pkeys {
		pkey = append(pkey[:0], k...)
		g.removeURL(pkey, true)
	}
}

// applyL1 applies an invalidation to this node's L1 only and returns how
// many stored responses it removed or marked (0 for a flush or purge-all).
// It is called for purges made here, and for those other nodes publish.
func (g *Gateway) applyL1(inv *l2.Invalidation) int {
	if isKVInvalidation(inv) {
		return g.applyKV(inv) // a look-aside value (kv.go)
	}
	if inv.Kind == l2.KindURL {
		g.inv.log.addURL([]byte(inv.Host), []byte(inv.Path))
	} else {
		g.inv.log.addAny()
	}
	switch inv.Kind {
	case l2.KindURL:
		return g.walkL1URL([]byte(inv.Host), []byte(inv.Path), inv.Soft)
	case l2.KindTag:
		return g.applyL1Keys(g.inv.ix.byTags(inv.Tags, inv.Soft), inv.Soft)
	case l2.KindPrefix:
		return g.applyL1Keys(g.inv.ix.byPrefix(inv.Host, inv.Path, inv.Soft), inv.Soft)
	case l2.KindAll:
		if inv.Soft {
			g.inv.softAll.Store(g.now().UnixNano())
		} else {
			g.flushL1()
		}
	}
	return 0
}

func (g *Gateway) applyL1Keys(pkeys []string, soft bool) int {
	if len(pkeys) == 0 {
		return 0
	}
	var pkey []byte
	n := 0
	for _, k := range pkeys {
		pkey = append(pkey[:0], k...)
		if soft {
			n += g.markURL(pkey)
		} else {
			n += g.removeURL(pkey, true)
		}
	}
	return n
}

// markURL marks every L1 entry of the URL at pkey invalidated (soft
// purge): it keeps being served stale where its stale windows allow, and is
// revalidated before it is served fresh. It returns how many were marked.
func (g *Gateway) markURL(pkey []byte) int {
	mu := g.records.lock(pkey)
	mu.Lock()
	defer mu.Unlock()
	s := acquireRecordScratch()
	defer releaseRecordScratch(s)
	v, ok := g.l1.getLocal(pkey, s.rec)
	if !ok {
		return 0
	}
	s.rec = v
	kind, _, gen, payload, ok := parseRecordHead(v)
	if !ok {
		return 0
	}
	n := 0
	switch kind {
	case kindKV: // a look-aside value cannot be revalidated: soft is hard
		if g.l1.del(pkey) {
			n = 1
		}
	case kindEntry:
		if g.markL1Entry(s, pkey, v) {
			n = 1
		}
	case kindVariants:
		forEachVariant(&s.ekey, pkey, gen, payload, func(ekey, _ []byte) bool {
			ev, found := g.l1.getLocal(ekey, s.buf)
			s.buf = ev
			if found && g.markL1Entry(s, ekey, ev) {
				n++
			}
			return true
		})
	}
	return n
}

// markL1Entry rewrites the entry record v stored at key with
// entry.FlagInvalidated, keeping its remaining L1 lifetime.
func (g *Gateway) markL1Entry(s *recordScratch, key, v []byte) bool {
	enc, ok := appendInvalidated(s.enc[:0], v)
	if !ok {
		return false
	}
	s.enc = enc
	ttl, large, ok := g.l1.remaining(key)
	if !ok {
		return false
	}
	if large {
		// A record of the large-object tier: immutable, so replaced by
		// a copy.
		return g.l1.setLarge(key, bytes.Clone(enc), ttl)
	}
	return g.l1.set(key, enc, ttl)
}

// appendInvalidated appends the entry record v with
// entry.FlagInvalidated set; ok is false if v is not an entry record.
func appendInvalidated(dst, v []byte) ([]byte, bool) {
	kind, flags, id, payload, ok := parseRecordHead(v)
	if !ok || kind != kindEntry {
		return dst, false
	}
	var e entry.Entry
	if entry.Decode(payload, &e) != nil {
		return dst, false
	}
	e.Flags |= entry.FlagInvalidated
	dst = appendRecordHead(dst, kind, flags, id)
	return e.AppendEncode(dst), true
}

// invalLog remembers the last invalidations applied to L1, so that a
// response fetched before one of them is not stored in L1 after it (the
// purge would be undone until the entry expires):
//
//	node B: miss on /x, request to the origin (seq read: 5)
//	node A: PURGE /x; B drops /x from L1 (nothing there), seq 6
//	node B: the old /x arrives; stored in L1?  overtaken(5, /x) = true: no
//
// Only invalidations of the same URL (or tag, prefix, purge-all and
// flushes, which may cover any URL) count, so that a steady stream of
// unsafe requests to other URLs does not stop L1 from filling. L2 makes
// the same check for its own writes (l2Index.Seq), more coarsely.
type invalLog struct {
	mu   sync.Mutex
	seed maphash.Seed
	seq  atomic.Uint64
	ring [invalLogSize]invalRecord
}

// invalLogSize is how many invalidations are remembered; a fetch that
// more overtook is not stored in L1.
const invalLogSize = 128

type invalRecord struct {
	url uint64 // hash of the URL, 0 with any
	any bool   // the invalidation may cover every URL
}

func (l *invalLog) init() { l.seed = maphash.MakeSeed() }

// urlHash hashes a policy key's host and target.
func (l *invalLog) urlHash(host, target []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(l.seed)
	_, _ = h.Write(host) // maphash.Hash.Write never fails
	_ = h.WriteByte(0)
	_, _ = h.Write(target)
	return h.Sum64() | 1
}

// current returns the sequence number to pass to overtaken later.
func (l *invalLog) current() uint64 { return l.seq.Load() }

// addURL records an invalidation of one URL; addAny one that may cover
// every URL.
func (l *invalLog) addURL(host, target []byte) { l.add(invalRecord{url: l.urlHash(host, target)}) }
func (l *invalLog) addAny()                    { l.add(invalRecord{any: true}) }

func (l *invalLog) add(r invalRecord) {
	l.mu.Lock()
	s := l.seq.Load() + 1
	l.ring[s%invalLogSize] = r
	l.seq.Store(s)
	l.mu.Unlock()
}

// overtaken reports whether an invalidation recorded after since may cover
// the URL host + target.
func (l *invalLog) overtaken(since uint64, host, target []byte) bool {
	if l.seq.Load() == since {
		return false // the common case: nothing happened, no lock
	}
	h := l.urlHash(host, target)
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.seq.Load()
	if cur-since >= invalLogSize {
		return true
	}
	for s := since + 1; s <= cur; s++ {
		if r := l.ring[s%invalLogSize]; r.any || r.url == h {
			return true
		}
	}
	return false
}
