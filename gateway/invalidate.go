package gateway

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowcache/flowcache/gateway/internal/entry"
	"github.com/flowcache/flowcache/gateway/internal/l2"
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
// tens of bytes per stored URL.
//
// The index is bounded by max members. Members are not removed when
// freecache evicts or expires an entry (stale members are harmless: a purge
// deletes a key that is gone), so a long-running node fills it: it then
// drops its maps and marks itself overflowed, and the next tag or prefix
// purge flushes L1 (correct, conservative), which resets the index.
type l1Index struct {
	mu    sync.Mutex
	max   int
	n     int
	over  bool
	tags  map[string]map[string]struct{} // tag → primary keys
	hosts map[string]map[string]string   // host → primary key → target
}

func (ix *l1Index) init(max int) { ix.max = max }

// add records the URL stored at pkey (policy key host and target) and its
// surrogate keys (space-separated).
func (ix *l1Index) add(tags, host, target, pkey []byte) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.over {
		return
	}
	if ix.hosts == nil {
		ix.hosts = map[string]map[string]string{}
		ix.tags = map[string]map[string]struct{}{}
	}
	hm := ix.hosts[string(host)]
	if hm == nil {
		hm = map[string]string{}
		ix.hosts[string(host)] = hm
	}
	if _, ok := hm[string(pkey)]; !ok {
		hm[string(pkey)] = string(target)
		ix.n++
	}
	for len(tags) > 0 {
		var tag []byte
		tag, tags = nextTag(tags)
		if len(tag) == 0 {
			continue
		}
		tm := ix.tags[string(tag)]
		if tm == nil {
			tm = map[string]struct{}{}
			ix.tags[string(tag)] = tm
		}
		if _, ok := tm[string(pkey)]; !ok {
			tm[string(pkey)] = struct{}{}
			ix.n++
		}
	}
	if ix.n > ix.max {
		ix.over, ix.n, ix.tags, ix.hosts = true, 0, nil, nil
	}
}

// nextTag splits the first space-separated tag off list.
func nextTag(list []byte) (tag, rest []byte) {
	for len(list) > 0 && (list[0] == ' ' || list[0] == '\t' || list[0] == ',') {
		list = list[1:]
	}
	i := 0
	for i < len(list) && list[i] != ' ' && list[i] != '\t' && list[i] != ',' {
		i++
	}
	return list[:i], list[i:]
}

// byTags removes and returns the primary keys tagged with any of tags;
// flush reports that the index overflowed and L1 must be flushed instead.
func (ix *l1Index) byTags(tags []string) (pkeys []string, flush bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.over {
		return nil, true
	}
	for _, t := range tags {
		for k := range ix.tags[t] {
			pkeys = append(pkeys, k)
		}
		ix.n -= len(ix.tags[t])
		delete(ix.tags, t)
	}
	return pkeys, false
}

// byPrefix removes and returns the primary keys of host's URLs whose target
// starts with prefix.
func (ix *l1Index) byPrefix(host, prefix string) (pkeys []string, flush bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.over {
		return nil, true
	}
	hm := ix.hosts[host]
	for k, target := range hm {
		if strings.HasPrefix(target, prefix) {
			pkeys = append(pkeys, k)
			delete(hm, k)
			ix.n--
		}
	}
	return pkeys, false
}

// reset empties the index (L1 was flushed).
func (ix *l1Index) reset() {
	ix.mu.Lock()
	ix.over, ix.n, ix.tags, ix.hosts = false, 0, nil, nil
	ix.mu.Unlock()
}

// applyL1 applies an invalidation to this node's L1 only and returns how
// many stored responses it removed or marked (0 for a flush or purge-all).
// It is called for purges made here, and for those other nodes publish.
func (g *Gateway) applyL1(inv *l2.Invalidation) int {
	if inv.Kind == l2.KindURL {
		g.inv.log.addURL([]byte(inv.Host), []byte(inv.Path))
	} else {
		g.inv.log.addAny()
	}
	switch inv.Kind {
	case l2.KindURL:
		return g.walkL1URL([]byte(inv.Host), []byte(inv.Path), inv.Soft)
	case l2.KindTag:
		pkeys, flush := g.inv.ix.byTags(inv.Tags)
		return g.applyL1Keys(pkeys, flush, inv.Soft)
	case l2.KindPrefix:
		pkeys, flush := g.inv.ix.byPrefix(inv.Host, inv.Path)
		return g.applyL1Keys(pkeys, flush, inv.Soft)
	case l2.KindAll:
		if inv.Soft {
			g.inv.softAll.Store(g.now().UnixNano())
		} else {
			g.flushL1()
		}
	}
	return 0
}

func (g *Gateway) applyL1Keys(pkeys []string, flush, soft bool) int {
	if flush {
		g.flushL1()
		return 0
	}
	if len(pkeys) == 0 {
		return 0
	}
	x := acquireExchange(g, nil, nil)
	defer releaseExchange(x)
	n := 0
	for _, k := range pkeys {
		x.pkey = append(x.pkey[:0], k...)
		if soft {
			n += g.markURL(x)
		} else {
			n += g.removeURL(x, true)
		}
	}
	return n
}

// markURL marks every L1 entry of the URL at x.pkey invalidated (soft
// purge): it keeps being served stale where its stale windows allow, and is
// revalidated before it is served fresh. It returns how many were marked.
func (g *Gateway) markURL(x *exchange) int {
	mu := g.records.lock(x.pkey)
	mu.Lock()
	defer mu.Unlock()
	v, ok := g.l1.get(x.pkey, x.rec)
	if !ok {
		return 0
	}
	x.rec = v
	kind, _, gen, payload, ok := parseRecordHead(v)
	if !ok {
		return 0
	}
	switch kind {
	case kindEntry:
		if g.markL1Entry(x, x.pkey, v) {
			return 1
		}
	case kindVariants:
		rec, ok := parseVariantRecord(payload)
		if !ok {
			return 0
		}
		n := 0
		for l := rec.list; ; {
			m, rest, ok := nextVariant(l)
			if !ok {
				break
			}
			l = rest
			x.ekey = appendVariantKey(x.ekey[:0], x.pkey, gen, m)
			ev, found := g.l1.get(x.ekey, x.buf)
			x.buf = ev
			if found && g.markL1Entry(x, x.ekey, ev) {
				n++
			}
		}
		return n
	}
	return 0
}

// markL1Entry rewrites the entry record v stored at key with
// entry.FlagInvalidated, keeping its remaining L1 lifetime.
func (g *Gateway) markL1Entry(x *exchange, key, v []byte) bool {
	enc, ok := appendInvalidated(x.enc[:0], v)
	if !ok {
		return false
	}
	x.enc = enc
	ttl, err := g.l1.c.TTL(key)
	if err != nil || ttl == 0 {
		return false
	}
	return g.l1.set(key, enc, time.Duration(ttl)*time.Second)
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
