package gateway

import (
	"bytes"
	"hash/maphash"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/entry"
	"github.com/flowcache/flowcache/gateway/internal/freshness"
	"github.com/flowcache/flowcache/policy"
)

// revalidateKeep is how long past its stale windows an entry with
// validators is kept, so that it can be revalidated with a 304 instead of
// fetched again.
const revalidateKeep = time.Hour

// store builds the entry for the complete response resp with body and
// writes it (and its variant record) to the tiers the decision allows.
func (g *Gateway) store(x *exchange, resp *fasthttp.Response, body []byte, reqTime, respTime time.Time) bool {
	// Vary names, lower-cased, comma-joined.
	x.names = x.names[:0]
	for i := range x.resp.Headers {
		h := &x.resp.Headers[i]
		if !equalFold(h.Name, "vary") {
			continue
		}
		for v := h.Value; len(v) > 0; {
			var item []byte
			if j := indexByte(v, ','); j >= 0 {
				item, v = v[:j], v[j+1:]
			} else {
				item, v = v, nil
			}
			if item = trimOWS(item); len(item) > 0 {
				if len(x.names) > 0 {
					x.names = append(x.names, ',')
				}
				x.names = appendLower(x.names, item)
			}
		}
	}
	x.hdr = x.hdr[:0]
	for i := range x.resp.Headers {
		h := &x.resp.Headers[i]
		if equalFold(h.Name, "age") || equalFold(h.Name, "set-cookie") || equalFold(h.Name, "content-length") {
			continue
		}
		x.hdr = entry.AppendHeader(x.hdr, h.Name, h.Value)
	}
	e := entry.Entry{
		Status:       x.resp.Status,
		RequestTime:  reqTime.UnixNano(),
		ResponseTime: respTime.UnixNano(),
		InitialAge:   int64(freshness.CorrectedInitialAge(peekResponse(&resp.Header, "age"), peekResponse(&resp.Header, "date"), reqTime, respTime)),
		TTL:          int64(x.dec.TTL),
		SWR:          int64(x.dec.StaleWhileRevalidate),
		SIE:          int64(x.dec.StaleIfError),
		ETag:         peekResponse(&resp.Header, "etag"),
		LastModified: peekResponse(&resp.Header, "last-modified"),
		Tags:         peekResponse(&resp.Header, "surrogate-key"),
		Header:       x.hdr,
		Body:         body,
		BodyLen:      int64(len(body)),
	}
	if x.dec.MustRevalidate {
		e.Flags |= entry.FlagMustRevalidate
	}
	if x.dec.NoCache {
		e.Flags |= entry.FlagNoCache
	}
	defer g.dropEvicted() // what the L1 index evicted for this entry; no record lock held then
	if len(x.names) == 0 && len(x.key.Variant) == 0 {
		x.ekey = append(x.ekey[:0], x.pkey...)
		return g.putEntry(x, &e, x.ekey, l1Chunks{}).any()
	}
	x.material = appendMaterial(x.material[:0], x.key.Variant, x.names, x.req.Headers)
	if len(x.names) > maxVaryLen || len(x.material) > maxVaryLen {
		return false // lengths are 16-bit in the record; such variants are not worth keeping
	}
	return g.putVariant(x, &e)
}

// maxVaryLen bounds the Vary names and the variant material of a stored
// variant.
const maxVaryLen = 8 << 10

// keepFor is how long an entry stays in the cache tiers: its freshness
// lifetime and stale windows (the route's stale_if_error, sie, included
// when e allows it) from now, plus revalidateKeep when it has validators;
// <= 0 means not worth storing.
func keepFor(e *entry.Entry, now time.Time, sie time.Duration) time.Duration {
	age := freshness.CurrentAge(time.Duration(e.InitialAge), time.Unix(0, e.ResponseTime), now)
	keep := time.Duration(e.TTL+max(e.SWR, e.SIE, int64(operatorStaleIfError(e, sie)))) - age
	if len(e.ETag) > 0 || len(e.LastModified) > 0 {
		keep = max(keep, 0) + revalidateKeep
	}
	return keep
}

// tiers says which cache tiers a response is written to.
type tiers struct{ l1, l2 bool }

func (t tiers) any() bool { return t.l1 || t.l2 }

// tiersFor is the one rule deciding where a response of x goes, for every
// write (a new entry, a refreshed one, a variant and its record): L1 when
// the policy's tier allows it and the policy admits it (Decision.Admit:
// it may displace others in the bounded L1), no invalidation of its URL
// overtook the upstream request, and the L1 purge index took it; L2 when
// the policy's tier allows it and L2 is configured.
func (g *Gateway) tiersFor(x *exchange, tags []byte) tiers {
	t := tiers{
		l1: x.dec.Admit && x.dec.Tier != policy.TierL2,
		l2: x.dec.Tier != policy.TierL1 && g.l2.Enabled(),
	}
	if t.l1 && g.inv.log.overtaken(x.l1seq, x.key.Host, x.key.Target) {
		// An invalidation of this URL was applied since the upstream
		// request: what it brought may be what was purged (see invalLog).
		t.l1 = false
	}
	if t.l1 && !g.indexL1(x, tags) {
		// Indexed before it is written, so that a tag or prefix purge
		// never misses an entry L1 holds; too large to index: not in L1.
		t.l1 = false
	}
	return t
}

// l1Chunks names the L1 chunks a stored body already has: a refresh keeps
// them and extends their life instead of writing them again. id 0: none.
type l1Chunks struct {
	id    uint64 // chunk id
	first int    // body bytes the head holds
}

// putEntry writes e (its whole body) under key to the tiers tiersFor
// chooses, and returns those it was written to (none: not stored): L2 gets
// the record whole, L1 a head and chunks when it does not fit one
// freecache entry (putL1). reuse names the chunks of the entry being
// refreshed, if any. e is not modified.
func (g *Gateway) putEntry(x *exchange, e *entry.Entry, key []byte, reuse l1Chunks) tiers {
	keep := keepFor(e, g.now(), x.rt.staleIfError)
	if keep <= 0 {
		return tiers{}
	}
	to := g.tiersFor(x, e.Tags)
	if !to.any() {
		return tiers{}
	}
	var flags byte
	if x.dec.Admit {
		flags = recAdmitL1
	}
	if to.l2 {
		x.enc = appendRecordHead(x.enc[:0], kindEntry, flags, 0)
		x.enc = e.AppendEncode(x.enc)
		g.l2Set(x, key, x.enc, keep, e.Tags) // copied: x.enc is free again
	}
	if to.l1 && !g.putL1(x, key, e, flags, reuse, keep) {
		to.l1 = false
	}
	if !to.any() {
		return tiers{}
	}
	x.rt.m.stored.Inc()
	return to
}

// putL1 writes the entry e (whole body) under key to L1 for keep: to the
// large-object tier when its body is large enough (a new immutable record:
// the one copy of the body it costs), else one freecache record when it
// fits one entry, else a head holding the first bytes of the body and
// chunks (see record.go). reuse keeps the chunks of a refreshed entry:
// only their life is extended.
func (g *Gateway) putL1(x *exchange, key []byte, e *entry.Entry, flags byte, reuse l1Chunks, keep time.Duration) bool {
	meta := entry.HeadSize + len(e.ETag) + len(e.LastModified) + len(e.Tags) + len(e.Header)
	if g.l1.large(len(e.Body)) {
		rec := make([]byte, 0, recHeadSize+meta+len(e.Body))
		rec = appendRecordHead(rec, kindEntry, flags, 0)
		if g.l1.setLarge(key, e.AppendEncode(rec), keep) {
			if reuse.id != 0 {
				g.dropChunks(x, key, reuse, e.BodyLen)
			}
			return true
		}
		// Larger than the tier takes (an eighth of it): chunked below.
	}
	if reuse.id == 0 && g.l1.fits(key, recHeadSize+meta+len(e.Body)) {
		x.enc = appendRecordHead(x.enc[:0], kindEntry, flags, 0)
		x.enc = e.AppendEncode(x.enc)
		return g.l1.set(key, x.enc, keep)
	}
	if reuse.id != 0 && !g.l1.fits(key, recHeadSize+meta+reuse.first) {
		// The refreshed head outgrew its first part: the body is laid
		// out anew, and the old chunks go.
		g.dropChunks(x, key, reuse, e.BodyLen)
		reuse = l1Chunks{}
	}
	head := *e
	head.Flags |= entry.FlagBodyChunked
	id, first := reuse.id, reuse.first
	if id == 0 {
		first = g.l1.maxKV - len(key) - recHeadSize - meta
		if first < 0 {
			return false // the head alone is too large
		}
		id = rand.Uint64() | 1 //nolint:gosec // an id must be distinct, not secret
	}
	if first > len(e.Body) {
		return false // not the body the chunks were written for
	}
	head.Body = e.Body[:first]
	ok := g.l1.forEachChunk(&x.ckey, key, id, first, e.BodyLen, func(ckey []byte, from, to int64) bool {
		if reuse.id != 0 {
			// A chunk already evicted cannot be revived; the head then
			// reads as a miss.
			g.l1.touch(ckey, keep)
			return true
		}
		return g.l1.setFreecache(ckey, e.Body[from:to], keep)
	})
	if !ok {
		return false
	}
	x.enc = appendRecordHead(x.enc[:0], kindEntry, flags, id)
	x.enc = head.AppendEncode(x.enc)
	return g.l1.set(key, x.enc, keep)
}

// dropChunks removes from L1 the chunks c of a body of bodyLen bytes
// stored at key.
func (g *Gateway) dropChunks(x *exchange, key []byte, c l1Chunks, bodyLen int64) {
	g.l1.forEachChunk(&x.ckey, key, c.id, c.first, bodyLen, func(ckey []byte, _, _ int64) bool {
		g.l1.c.Del(ckey)
		return true
	})
}

// l2Set writes a record of x's URL to L2, indexed for purge.
func (g *Gateway) l2Set(x *exchange, key, value []byte, ttl time.Duration, tags []byte) {
	g.l2.Set(key, value, ttl, g.l2IndexOf(x, tags))
}

// l2IndexOf is the purge index of a record of x's URL.
func (g *Gateway) l2IndexOf(x *exchange, tags []byte) *l2Index {
	return &l2Index{Tags: tags, Host: x.key.Host, Path: x.key.Target, Seq: x.l2seq}
}

// putVariant stores e as the variant x.material of the URL x.pkey and
// records it in the URL's variant record. Record updates are serialised
// per URL (recordLocks), so that two variants stored at once are both
// listed and PURGE finds them.
func (g *Gateway) putVariant(x *exchange, e *entry.Entry) bool {
	mu := g.records.lock(x.pkey)
	mu.Lock()
	defer mu.Unlock()
	var old variantRecord
	gen := uint64(0)
	v, held, fromL2 := g.tierGetFrom(x.pkey, x.rec)
	if held {
		x.rec = v
		if kind, _, id, payload, ok := parseRecordHead(v); ok && kind == kindVariants {
			if r, ok := parseVariantRecord(payload); ok && bytes.Equal(r.names, x.names) && r.n < maxVariants {
				old, gen = r, id
			}
		}
	}
	if gen == 0 {
		gen = rand.Uint64() | 1 //nolint:gosec // a generation must be distinct, not secret
		old = variantRecord{}
	}
	x.ekey = appendVariantKey(x.ekey[:0], x.pkey, gen, x.material)
	to := g.putEntry(x, e, x.ekey, l1Chunks{})
	if !to.any() {
		return false
	}
	extra := x.material
	if old.has(x.material) {
		extra = nil
	}
	var flags byte
	if x.dec.Admit {
		flags = recAdmitL1
	}
	rec := appendRecordHead(x.hdr[len(x.hdr):], kindVariants, flags, gen) // x.hdr's spare capacity; e no longer needed
	rec = appendVariantRecord(rec, x.names, old, extra)
	keep := max(keepFor(e, g.now(), x.rt.staleIfError), revalidateKeep)
	// The record goes where its variant went; a copy L1 already holds
	// (another variant was admitted) is updated too, so that it lists
	// every variant for PURGE.
	if to.l1 || held && !fromL2 {
		g.l1.set(x.pkey, rec, keep)
	}
	if to.l2 {
		g.l2Set(x, x.pkey, rec, keep, nil)
	}
	return true
}

// recordLocks serialise variant record updates per URL (striped).
type recordLocks struct {
	seed maphash.Seed
	mu   [64]sync.Mutex
}

func (r *recordLocks) lock(pkey []byte) *sync.Mutex {
	return &r.mu[maphash.Bytes(r.seed, pkey)%uint64(len(r.mu))]
}
