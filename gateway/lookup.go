package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/flowcache/flowcache/gateway/internal/entry"
	"github.com/flowcache/flowcache/gateway/internal/freshness"
	"github.com/flowcache/flowcache/policy"
	"github.com/flowcache/flowcache/policy/cachecontrol"
)

// serveCacheable answers a GET or HEAD on a caching route: key, lookup,
// freshness, then a hit, a stale answer with a background refresh, a
// revalidation, or a (coalesced) miss.
func (g *Gateway) serveCacheable(x *exchange) {
	x.loadRequest()
	x.policyKey()
	if x.key.Bypass {
		x.rt.m.bypass.Inc()
		g.forward(x.ctx, x.rt, fwdBypass)
		return
	}
	x.requestDirectives()
	x.pkey = appendPrimaryKey(x.pkey[:0], x.space, &x.key)
	x.now = g.now()
	g.lookup(x)
	if !x.found {
		if x.reqCC.OnlyIfCached {
			g.writeError(x.ctx, x.rt, x.fwd, errOnlyIfCached)
			return
		}
		g.miss(x)
		return
	}
	age := freshness.CurrentAge(time.Duration(x.ent.InitialAge), time.Unix(0, x.ent.ResponseTime), x.now)
	state := x.assess(age)
	switch {
	case state == freshness.Fresh:
		x.rt.m.hits.Inc()
		xc, detail := hitKind(x)
		x.cs = appendCacheStatus(x.cs[:0], "", 0, false, false, detail)
		x.cs = appendTTL(x.cs, time.Duration(x.ent.TTL), age)
		if g.writeEntry(x, int64(age/time.Second), xc, x.cs) {
			return
		}
		x.found, x.fwd = false, fwdMiss
		g.miss(x)
	case state == freshness.StaleWhileRevalidate:
		x.rt.m.stale.Inc()
		if !x.reqCC.OnlyIfCached { // only-if-cached: do not contact the origin at all
			g.refreshInBackground(x)
		}
		x.cs = appendCacheStatus(x.cs[:0], fwdStale, 0, false, false, "stale-while-revalidate")
		x.cs = appendTTL(x.cs, time.Duration(x.ent.TTL), age)
		if g.writeEntry(x, int64(age/time.Second), xcacheStale, x.cs) {
			return
		}
		x.found, x.fwd = false, fwdMiss
		g.miss(x)
	case x.reqCC.OnlyIfCached:
		g.writeError(x.ctx, x.rt, fwdStale, errOnlyIfCached)
	default:
		x.fwd = fwdStale
		if x.reqCC.NoCache || (x.reqCC.MaxAge >= 0 && age <= time.Duration(x.ent.TTL)) {
			x.fwd = fwdRequest
		}
		g.revalidate(x)
	}
}

// requestDirectives parses the request's Cache-Control (or Pragma) into
// x.reqCC, as far as cache.honor_client_no_cache lets the client decide.
func (x *exchange) requestDirectives() {
	if !cachecontrol.ParseField(&x.reqCC, x.req.Headers, "cache-control") {
		// RFC 9111, Section 5.4: Pragma: no-cache when Cache-Control is absent.
		if p := x.req.Headers.Get("pragma"); p != nil && containsToken(p, "no-cache") {
			x.reqCC.NoCache = true
		}
	}
	if !x.g.cfg.Cache.HonorClientNoCache {
		// The client cannot force a fetch (as Varnish and CDNs): its
		// no-store, only-if-cached, max-stale and min-fresh still apply.
		x.reqCC.NoCache, x.reqCC.MaxAge = false, -1 // -1: absent
	}
}

// hitKind returns the X-Cache value and Cache-Status detail of a fresh hit:
// HIT, or HIT-L2 with detail=l2 when the entry came from L2.
func hitKind(x *exchange) (xcache, detail string) {
	if x.fromL2 {
		return xcacheHitL2, "l2"
	}
	return xcacheHit, ""
}

// assess classifies the found entry for this request.
func (x *exchange) assess(age time.Duration) freshness.State {
	e := &x.ent
	if e.Flags.Has(entry.FlagInvalidated) || e.ResponseTime <= x.g.inv.softAll.Load() {
		return freshness.Stale // soft-purged: revalidate before serving
	}
	return freshness.Assess(age, time.Duration(e.TTL), time.Duration(e.SWR), time.Duration(e.SIE),
		e.Flags.Has(entry.FlagMustRevalidate), e.Flags.Has(entry.FlagNoCache), &x.reqCC)
}

// loadRequest fills the policy's read-only view of the client request.
// The slices alias fasthttp's buffers: valid until the handler returns.
func (x *exchange) loadRequest() {
	r := &x.req
	h := &x.ctx.Request.Header
	r.Method = h.Method()
	if x.g.https(x.ctx) {
		r.Scheme = schemeHTTPS
	} else {
		r.Scheme = schemeHTTP
	}
	r.Host = hostWithoutPort(h.Host())
	uri := x.ctx.Request.URI()
	r.Path = uri.PathOriginal()
	r.Query = uri.QueryString()
	r.Route = x.rt.name
	conn := peekRequest(h, "connection")
	for k, v := range h.All() {
		if isHopByHop(k) || (len(conn) > 0 && inConnection(conn, k)) {
			continue
		}
		switch {
		case len(k) == 5 && equalFold(k, "range"):
			x.rangeHdr = v
		case len(k) == 8 && equalFold(k, "if-range"):
			x.ifRange = v
		}
		r.Headers = append(r.Headers, policy.Header{Name: k, Value: v})
	}
}

var (
	schemeHTTP  = []byte("http")
	schemeHTTPS = []byte("https")
)

// policyFor returns the route's policy, or its default policy.
func (g *Gateway) policyFor(rt *route) policy.Policy {
	if rt.cfg.Policy == "default" {
		return &rt.def
	}
	g.waitLoaded()
	if g.policies != nil {
		if p, ok := g.policies.Policy(rt.cfg.Policy); ok && p != nil {
			return p
		}
	}
	rt.m.policyFallbacks.Inc()
	return &rt.def
}

// appendPrimaryKey appends route \0 host \0 target: the key of a URL's
// record. The record is the entry itself, or a variant record when the
// response varies (Vary) or the policy set a Key.Variant: PURGE of the URL
// then finds every variant from the record.
func appendPrimaryKey(dst, route []byte, k *policy.Key) []byte {
	dst = append(dst, route...)
	dst = append(dst, 0)
	dst = append(dst, k.Host...)
	dst = append(dst, 0)
	return append(dst, k.Target...)
}

// lookup finds the stored response for x: it reads the record at the
// primary key; a variant record leads to the variant of this request's
// Vary values. On success x.found is set, x.ent decoded (aliasing x.held:
// x.buf, or the immutable record of the large-object tier when x.large)
// and x.ekey is the entry's key; otherwise x.fwd says why. An entry read
// from L2 (always whole) is promoted to L1 when its record says it was
// admitted.
func (g *Gateway) lookup(x *exchange) { g.lookupIn(x, true) }

// lookupIn is lookup, in L1 only unless withL2.
func (g *Gateway) lookupIn(x *exchange, withL2 bool) {
	x.found, x.fromL2, x.large, x.held = false, false, false, nil
	x.fwd = fwdURIMiss
	rec, ok, fromL2, large := g.readRecord(x, x.pkey, withL2)
	if !ok {
		return
	}
	x.fromL2 = fromL2
	kind, _, id, payload, ok := parseRecordHead(rec)
	if !ok {
		return
	}
	x.ekey = append(x.ekey[:0], x.pkey...)
	if kind == kindEntry && len(x.key.Variant) > 0 {
		x.fwd = fwdVaryMiss // stored without variant, this request has one
		return
	}
	entFromL2 := x.fromL2
	if kind == kindVariants {
		vr, ok := parseVariantRecord(payload)
		if !ok {
			return
		}
		x.gen = id
		x.names = append(x.names[:0], vr.names...)
		x.material = appendMaterial(x.material[:0], x.key.Variant, vr.names, x.req.Headers)
		x.fwd = fwdVaryMiss
		x.ekey = appendVariantKey(x.ekey[:0], x.pkey, id, x.material)
		rec, ok, entFromL2, large = g.readRecord(x, x.ekey, withL2)
		if !ok {
			return
		}
		x.fromL2 = x.fromL2 || entFromL2
		kind, _, id, payload, ok = parseRecordHead(rec)
		if !ok || kind != kindEntry {
			return
		}
	}
	if kind != kindEntry || entry.Decode(payload, &x.ent) != nil || !storableStatus(x.ent.Status) ||
		entFromL2 && x.ent.Flags.Has(entry.FlagBodyChunked) {
		// A 206 or 304 record (written by an older version, or forged in
		// L2) is never served; nor a head whose chunks an older version
		// wrote to L2 (see record.go).
		x.fwd = fwdMiss
		return
	}
	x.gen = id // the entry's chunk id from here on
	x.found, x.held, x.large = true, rec, large
	if entFromL2 && rec[1]&recAdmitL1 != 0 {
		// Promoted once indexed for tag and prefix purges of L1 (a URL
		// too large to index stays in L2), chunked when it must be.
		if g.indexL1(x, x.ent.Tags) && g.putL1(x, x.ekey, &x.ent, recAdmitL1, l1Chunks{}, l2PromoteTTL) {
			x.holdLarge()
		}
		g.dropEvicted()
	}
}

// holdLarge makes x.ent the copy of itself just promoted to the
// large-object tier, if it went there, so that this hit too is served
// without copying the body again.
func (x *exchange) holdLarge() {
	if !x.g.l1.large(len(x.ent.Body)) {
		return
	}
	rec, ok := x.g.l1.getLarge(x.ekey, x.now)
	if !ok {
		return
	}
	var e entry.Entry
	if _, _, _, payload, ok := parseRecordHead(rec); ok && entry.Decode(payload, &e) == nil {
		x.ent, x.held, x.large = e, rec, true
	}
}

// appendChunks appends to the response body the L1 chunks of the chunked
// entry e found at x.ekey. It reports false when one is missing (evicted):
// it then drops the head from L1, so that the next lookup reads the entry
// whole from L2.
func (x *exchange) appendChunks(e *entry.Entry) bool {
	resp := &x.ctx.Response
	if x.forEachStoredChunk(e, func(c []byte) { resp.AppendBody(c) }) {
		return true
	}
	x.g.l1.del(x.ekey)
	return false
}

// forEachStoredChunk calls fn with each body chunk, in order, of the
// chunked entry e read from L1 at x.ekey (valid only during fn). It
// reports false when a chunk is missing or not of its layout's length.
func (x *exchange) forEachStoredChunk(e *entry.Entry, fn func(chunk []byte)) bool {
	l1 := x.g.l1
	return l1.forEachChunk(&x.ckey, x.ekey, x.gen, len(e.Body), e.BodyLen, func(ckey []byte, from, to int64) bool {
		var ok bool
		x.chunk, ok = l1.get(ckey, x.chunk)
		if !ok || int64(len(x.chunk)) != to-from {
			return false
		}
		fn(x.chunk)
		return true
	})
}

// readRecord reads the record at key for lookup: from freecache (into
// x.buf), from the large-object tier (large: the tier's immutable record,
// not copied; x.buf is left alone), or, withL2, from L2 (into x.buf).
func (g *Gateway) readRecord(x *exchange, key []byte, withL2 bool) (rec []byte, ok, fromL2, large bool) {
	x.buf, ok = g.l1.get(key, x.buf)
	if ok {
		return x.buf, true, false, false
	}
	if v, ok := g.l1.getLarge(key, x.now); ok {
		return v, true, false, true
	}
	if !withL2 || !g.l2.Enabled() {
		return nil, false, false, false
	}
	x.buf, ok = g.l2Get(key, x.buf)
	return x.buf, ok, ok, false
}

// tierGet reads key from L1, then from L2 (promoting an admitted variant
// record to L1). dst is reused as the read buffer; the returned slice
// replaces it.
func (g *Gateway) tierGet(key, dst []byte) ([]byte, bool) {
	v, ok, _ := g.tierGetFrom(key, dst)
	return v, ok
}

// tierGetFrom is tierGet, also reporting whether the record came from L2.
// An entry L2 holds soft-purged is returned with entry.FlagInvalidated
// set: servable stale, never fresh. A record from an untrusted L2 that the
// gateway could not have written (checkL2Record) is a miss. Entries are
// promoted by lookup, which knows whether to chunk them.
func (g *Gateway) tierGetFrom(key, dst []byte) (v []byte, ok, fromL2 bool) {
	v, ok = g.l1.getLocal(key, dst)
	if ok || !g.l2.Enabled() {
		return v, ok, false
	}
	v, ok = g.l2Get(key, v)
	return v, ok, ok
}

// l2Get reads the record at key from L2 into dst: see tierGetFrom.
func (g *Gateway) l2Get(key, dst []byte) (v []byte, ok bool) {
	v, ok, err := g.l2.Get(context.Background(), key, dst)
	if !ok {
		return v, false
	}
	if err != nil && !errors.Is(err, errL2Invalidated) {
		return v, false
	}
	if u, untrusted := g.l2.(l2Untrusted); untrusted {
		if cerr := checkL2Record(v, int64(g.cfg.Cache.MaxObjectSize)); cerr != nil {
			u.rejectRecord(cerr)
			return v, false
		}
	}
	if err != nil {
		if m, marked := appendInvalidated(nil, v); marked {
			v = append(v[:0], m...)
		}
	}
	if kind, flags, _, _, ok := parseRecordHead(v); ok && kind != kindEntry && flags&recAdmitL1 != 0 && g.l1.fits(key, len(v)) {
		g.l1.set(key, v, l2PromoteTTL)
	}
	return v, true
}

// l2PromoteTTL bounds how long a record promoted from L2 stays in L1
// without being checked against L2 again.
const l2PromoteTTL = 60 * time.Second

// appendMaterial appends the variant material of a request: the policy's
// Key.Variant, \x01, then the values of the Vary fields named in names
// (comma-separated, lower case), each normalised (fields joined with ",",
// whitespace around commas removed) and terminated by \0 (RFC 9111,
// Section 4.1).
func appendMaterial(dst, variant, names []byte, h policy.Headers) []byte {
	dst = append(dst, variant...)
	dst = append(dst, 1)
	for len(names) > 0 {
		var n []byte
		if i := indexByte(names, ','); i >= 0 {
			n, names = names[:i], names[i+1:]
		} else {
			n, names = names, nil
		}
		first := true
		for i := range h {
			if !equalFoldBytes(h[i].Name, n) {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendNormalizedList(dst, h[i].Value)
		}
		dst = append(dst, 0)
	}
	return dst
}

func appendNormalizedList(dst, v []byte) []byte {
	for len(v) > 0 {
		var item []byte
		if i := indexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
			dst = append(dst, trimOWS(item)...)
			dst = append(dst, ',')
		} else {
			dst = append(dst, trimOWS(v)...)
			v = nil
		}
	}
	return dst
}

// containsToken reports whether the comma-separated list v holds tok
// (case-insensitive).
func containsToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var item []byte
		if i := indexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			item, v = v, nil
		}
		if equalFold(trimOWS(item), tok) {
			return true
		}
	}
	return false
}
