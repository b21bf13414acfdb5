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

// policyKey runs the route's policy Key; an error selects the default
// policy for this request. It sets x.space, the key space of the policy
// that made the key.
func (x *exchange) policyKey() {
	x.setPolicy(x.g.policyForRequest(x.rt, x.req.Host, x.req.Path)) // a canary picks by host and path
	x.key.Reset()
	if err := x.pol.Key(&x.req, &x.key); err != nil {
		x.rt.m.policyFallbacks.Inc()
		x.setPolicy(&x.rt.def)
		x.key.Reset()
		// The default policy never fails; a failure would leave Bypass
		// set or the key empty, both handled as a bypass below.
		if err := x.pol.Key(&x.req, &x.key); err != nil {
			x.key.Bypass = true
		}
	}
	if !x.key.Bypass && len(x.key.Target) == 0 {
		x.key.Bypass = true
	}
}

// setPolicy makes p the exchange's policy, releasing the lease it held,
// and sets x.space: the route's name, followed by \x01 and the lease's
// namespace when p is a version of a policy (see PolicyLease). Entries of
// the native default policy (and of fallbacks to it) live in the route's
// own space.
func (x *exchange) setPolicy(p policy.Policy) {
	if l, ok := x.pol.(PolicyLease); ok {
		l.Release()
	}
	x.pol = p
	x.space = append(x.space[:0], x.rt.name...)
	if l, ok := p.(PolicyLease); ok {
		x.space = append(x.space, 1)
		x.space = append(x.space, l.Namespace()...)
	}
}

// releasePolicy drops the exchange's lease on its policy, if any.
func (x *exchange) releasePolicy() {
	if l, ok := x.pol.(PolicyLease); ok {
		l.Release()
	}
	x.pol = nil
}

// policyFor returns the route's policy, or its default policy.
func (g *Gateway) policyFor(rt *route) policy.Policy {
	if rt.cfg.Policy == "default" {
		return &rt.def
	}
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
// Vary values. On success x.found is set, x.ent decoded (aliasing x.buf) and
// x.ekey is the entry's key; otherwise x.fwd says why.
func (g *Gateway) lookup(x *exchange) {
	x.found, x.fromL2, x.promote = false, false, false
	x.fwd = fwdURIMiss
	var ok bool
	x.buf, ok, x.fromL2 = g.tierGetFrom(x.pkey, x.buf)
	if !ok {
		return
	}
	kind, _, id, payload, ok := parseRecordHead(x.buf)
	if !ok {
		return
	}
	x.ekey = append(x.ekey[:0], x.pkey...)
	if kind == kindEntry && len(x.key.Variant) > 0 {
		x.fwd = fwdVaryMiss // stored without variant, this request has one
		return
	}
	if kind == kindVariants {
		rec, ok := parseVariantRecord(payload)
		if !ok {
			return
		}
		x.gen = id
		x.names = append(x.names[:0], rec.names...)
		x.material = appendMaterial(x.material[:0], x.key.Variant, rec.names, x.req.Headers)
		x.fwd = fwdVaryMiss
		x.ekey = appendVariantKey(x.ekey[:0], x.pkey, id, x.material)
		var fromL2 bool
		x.buf, ok, fromL2 = g.tierGetFrom(x.ekey, x.buf)
		if !ok {
			return
		}
		x.fromL2 = x.fromL2 || fromL2
		kind, _, id, payload, ok = parseRecordHead(x.buf)
		if !ok || kind != kindEntry {
			return
		}
	}
	if kind != kindEntry || entry.Decode(payload, &x.ent) != nil || !storableStatus(x.ent.Status) {
		// A 206 or 304 record (written by an older version, or forged in
		// L2) is never served.
		x.fwd = fwdMiss
		return
	}
	x.gen = id // the entry's chunk id from here on
	x.found = true
	if x.fromL2 && x.buf[1]&recAdmitL1 != 0 {
		// Promoted: index it for tag and prefix purges of L1; a URL too
		// large to index leaves L1 again (dropEvicted), served from L2.
		x.promote = g.indexL1(x, x.ent.Tags)
		g.dropEvicted()
	}
}

// getChunk reads body chunk i of the entry found at x.ekey; one read from
// L2 goes to L1 when the entry was promoted (x.promote).
func (x *exchange) getChunk(i int) ([]byte, bool) {
	x.ckey = appendChunkKey(x.ckey[:0], x.ekey, x.gen, i)
	var ok, fromL2 bool
	x.chunk, ok, fromL2 = x.g.tierGetChunk(x.ckey, x.chunk)
	if ok && fromL2 {
		x.promoteChunk(x.ckey, x.chunk)
	}
	return x.chunk, ok
}

// promoteChunk copies a chunk read from L2 to L1 when its entry was
// promoted there, so that the next hit needs no round trip.
func (x *exchange) promoteChunk(key, v []byte) {
	if x.promote {
		x.g.l1.set(key, v, l2PromoteTTL)
	}
}

// appendChunks appends to the response body the chunks of the chunked
// entry e found at x.ekey. It reads them from L1 and, from the first one
// L1 lacks, all the rest from L2 in one round trip when the tier can. It
// reports false when a chunk is missing.
func (x *exchange) appendChunks(e *entry.Entry) bool {
	resp := &x.ctx.Response
	have := int64(len(e.Body))
	for i := 0; have < e.BodyLen; i++ {
		x.ckey = appendChunkKey(x.ckey[:0], x.ekey, x.gen, i)
		var ok bool
		x.chunk, ok = x.g.l1.get(x.ckey, x.chunk)
		if !ok {
			if !x.g.l2.Enabled() {
				return false
			}
			if m, multi := x.g.l2.(l2MultiGetter); multi {
				return x.appendChunksL2(m, i, have, e.BodyLen)
			}
			_, ok = x.getChunk(i)
		}
		if !ok || len(x.chunk) == 0 {
			return false
		}
		if have += int64(len(x.chunk)); have > e.BodyLen {
			return false
		}
		resp.AppendBody(x.chunk)
	}
	return true
}

// appendChunksL2 appends chunks from..: the body's bytes from have to
// bodyLen, read from L2 with one pipelined request for as many chunks as
// putEntry writes for them with this L1's chunk size. Chunks written with
// a smaller size (before a reload changed cache.l1_size) are then read
// one by one; with a larger size, the extra keys read are ignored.
func (x *exchange) appendChunksL2(m l2MultiGetter, from int, have, bodyLen int64) bool {
	klen := len(x.ckey) // every chunk key of an entry has the same length
	n := 1
	if size := int64(x.g.l1.maxKV - klen); size > 0 {
		n = int((bodyLen - have + size - 1) / size)
	}
	keys := make([][]byte, n)
	buf := make([]byte, 0, n*klen)
	for j := range keys {
		buf = appendChunkKey(buf, x.ekey, x.gen, from+j)
		keys[j] = buf[len(buf)-klen:]
	}
	resp := &x.ctx.Response
	ok := true
	x.chunk = m.GetEach(context.Background(), keys, x.chunk, func(j int, v []byte, err error) bool {
		if (err != nil && !errors.Is(err, errL2Invalidated)) || len(v) == 0 {
			ok = false
			return false
		}
		if have += int64(len(v)); have > bodyLen {
			ok = false // more bytes than the head says: not what was stored
			return false
		}
		x.promoteChunk(keys[j], v)
		resp.AppendBody(v)
		return have < bodyLen
	})
	if !ok {
		return false
	}
	// Chunks smaller than this L1's are read one by one; a body in more
	// than twice as many chunks as expected is not what was stored (L2 is
	// not trusted): a miss, not a round trip per byte.
	for i := from + n; have < bodyLen; i++ {
		if i > from+2*n {
			return false
		}
		c, ok := x.getChunk(i)
		if !ok || len(c) == 0 {
			return false
		}
		if have += int64(len(c)); have > bodyLen {
			return false
		}
		resp.AppendBody(c)
	}
	return true
}

// tierGet reads key from L1, then from L2 (promoting an admitted record to
// L1). dst is reused as the read buffer; the returned slice replaces it.
func (g *Gateway) tierGet(key, dst []byte) ([]byte, bool) {
	v, ok, _ := g.tierGetFrom(key, dst)
	return v, ok
}

// tierGetFrom is tierGet, also reporting whether the record came from L2.
// An entry L2 holds soft-purged is returned (and promoted) with
// entry.FlagInvalidated set: servable stale, never fresh. A record from
// an untrusted L2 that the gateway could not have written (checkL2Record)
// is a miss.
func (g *Gateway) tierGetFrom(key, dst []byte) (v []byte, ok, fromL2 bool) {
	v, ok = g.l1.get(key, dst)
	if ok || !g.l2.Enabled() {
		return v, ok, false
	}
	v, ok, err := g.l2.Get(context.Background(), key, dst)
	if !ok {
		return v, false, false
	}
	if err != nil && !errors.Is(err, errL2Invalidated) {
		return v, false, false
	}
	if u, untrusted := g.l2.(l2Untrusted); untrusted {
		if cerr := checkL2Record(v, int64(g.cfg.Cache.MaxObjectSize)); cerr != nil {
			u.rejectRecord(cerr)
			return v, false, false
		}
	}
	if err != nil {
		if m, marked := appendInvalidated(nil, v); marked {
			v = append(v[:0], m...)
		}
	}
	if _, flags, _, _, ok := parseRecordHead(v); ok && flags&recAdmitL1 != 0 {
		g.l1.set(key, v, l2PromoteTTL)
	}
	return v, true, true
}

// tierGetChunk reads the body chunk at key from L1, then from L2; the
// caller promotes one read from L2 with its head (exchange.promote), and
// checks its length against the head's.
func (g *Gateway) tierGetChunk(key, dst []byte) (v []byte, ok, fromL2 bool) {
	v, ok = g.l1.get(key, dst)
	if ok || !g.l2.Enabled() {
		return v, ok, false
	}
	v, ok, err := g.l2.Get(context.Background(), key, dst)
	if !ok || err != nil && !errors.Is(err, errL2Invalidated) {
		return v, false, false
	}
	return v, true, true
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
