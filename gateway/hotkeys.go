package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Hot keys: the URLs asked most, by requests, by bytes served and by
// misses, per route and overall, for GET /cache/hot and `flowcache top`.
//
// # How
//
// Each route keeps a space-saving summary (Metwally, Agrawal, El Abbadi,
// "Efficient Computation of Frequent and Top-k Elements in Data Streams",
// 2005) of hotCapacity URLs per dimension: a URL seen is counted in its
// slot, or takes the slot of the least counted URL, inheriting its count
// as its error bound. Any URL whose true count exceeds total/hotCapacity
// is in the summary. Counts decay exponentially (half-life hotHalfLife),
// so the summary shows what is hot now. The overall top is the routes'
// tops merged: a URL belongs to one route.
//
// # Cost on the hit path
//
// One request in hotSample is counted, with its count scaled by
// hotSample; the others pay one random draw. A counted request takes the
// route's lock only if it is free (TryLock; a busy lock skips the sample),
// hashes the URL and updates three heaps of hotCapacity entries. Slots
// keep their key buffers, so nothing is allocated once the summary is
// warm (a URL longer than any before grows one buffer, up to hotKeyMax).
const (
	hotCapacity = 128
	hotSample   = 8
	hotHalfLife = time.Minute
	hotKeyMax   = 512 // longer URLs are cut
)

// Hot-key dimensions: what a request adds to.
const (
	hotRequests = iota
	hotBytes
	hotMisses
	numHotDims
)

var hotDimNames = [numHotDims]string{"requests", "bytes", "misses"}

// hotEntry is one slot of a space-saving summary.
type hotEntry struct {
	hash  uint64
	key   []byte
	count float64 // estimated (decayed, scaled) count, error included
	err   float64 // over-estimation bound: the count inherited from the slot
	idx   int     // position in the heap
}

// spaceSaving is a space-saving summary of at most hotCapacity keys: a
// min-heap on count and an index by key hash. Not safe for concurrent use.
type spaceSaving struct {
	byHash map[uint64]*hotEntry
	heap   []*hotEntry
}

func (s *spaceSaving) add(hash uint64, host, uri []byte, w float64) {
	if e, ok := s.byHash[hash]; ok {
		e.count += w
		s.down(e.idx)
		return
	}
	var e *hotEntry
	if len(s.heap) < hotCapacity {
		if s.byHash == nil {
			s.byHash = make(map[uint64]*hotEntry, hotCapacity)
		}
		e = &hotEntry{idx: len(s.heap), hash: hash, key: appendHotKey(nil, host, uri), count: w}
		s.heap = append(s.heap, e)
		s.byHash[hash] = e
		s.up(e.idx)
		return
	} else {
		e = s.heap[0]
		delete(s.byHash, e.hash)
		e.err = e.count
	}
	e.hash = hash
	e.key = appendHotKey(e.key[:0], host, uri)
	e.count += w
	s.byHash[hash] = e
	s.down(e.idx)
}

// appendHotKey appends host and uri, cut at hotKeyMax bytes.
func appendHotKey(dst, host, uri []byte) []byte {
	dst = append(dst, host...)
	dst = append(dst, uri[:min(len(uri), max(0, hotKeyMax-len(host)))]...)
	return dst[:min(len(dst), hotKeyMax)]
}

// up restores the heap order above i (a new entry).
func (s *spaceSaving) up(i int) {
	h := s.heap
	for i > 0 {
		p := (i - 1) / 2
		if h[p].count <= h[i].count {
			return
		}
		h[i], h[p] = h[p], h[i]
		h[i].idx, h[p].idx = i, p
		i = p
	}
}

// down restores the heap order below i after its count grew.
func (s *spaceSaving) down(i int) {
	h := s.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].count < h[l].count {
			m = r
		}
		if h[i].count <= h[m].count {
			return
		}
		h[i], h[m] = h[m], h[i]
		h[i].idx, h[m].idx = i, m
		i = m
	}
}

// scale multiplies every count by f (decay); the heap order holds.
func (s *spaceSaving) scale(f float64) {
	for _, e := range s.heap {
		e.count *= f
		e.err *= f
	}
}

// hotRoute is the summaries of one route.
type hotRoute struct {
	mu    sync.Mutex
	dims  [numHotDims]spaceSaving
	decay time.Time // when counts were last decayed
}

// hotKeys holds the summaries of every route.
type hotKeys struct {
	seed maphash.Seed
	now  func() time.Time

	mu     sync.RWMutex
	routes map[string]*hotRoute
}

func newHotKeys(now func() time.Time) *hotKeys {
	return &hotKeys{seed: maphash.MakeSeed(), now: now, routes: map[string]*hotRoute{}}
}

// observe counts a request answered with outcome o on rt (nil: no route,
// not counted), one in hotSample.
func (h *hotKeys) observe(ctx *fasthttp.RequestCtx, rt *route, o outcome) {
	if rt == nil || rand.Uint32()%hotSample != 0 { //nolint:gosec // sampling, not security
		return
	}
	h.mu.RLock()
	hr := h.routes[string(rt.name)]
	h.mu.RUnlock()
	if hr == nil {
		hr = h.route(rt.cfg.Name)
	}
	if !hr.mu.TryLock() {
		return // another request is counting: skip this sample
	}
	defer hr.mu.Unlock()
	hr.decayTo(h.now())
	host, uri := ctx.Request.Header.Host(), ctx.Request.Header.RequestURI()
	var mh maphash.Hash
	mh.SetSeed(h.seed)
	_, _ = mh.Write(host) // maphash.Hash.Write never fails
	_ = mh.WriteByte(0)   // as above
	_, _ = mh.Write(uri)  // as above
	sum := mh.Sum64()
	hr.dims[hotRequests].add(sum, host, uri, hotSample)
	if n := responseBytes(ctx); n > 0 {
		hr.dims[hotBytes].add(sum, host, uri, float64(n)*hotSample)
	}
	if o == outcomeMiss {
		hr.dims[hotMisses].add(sum, host, uri, hotSample)
	}
}

// route returns the summaries of the route named name, made on first use.
func (h *hotKeys) route(name string) *hotRoute {
	h.mu.Lock()
	defer h.mu.Unlock()
	hr := h.routes[name]
	if hr == nil {
		hr = &hotRoute{decay: h.now()}
		h.routes[name] = hr
	}
	return hr
}

// decayTo decays the counts to now: halved every hotHalfLife, applied
// once a second at most. The caller holds hr.mu.
func (hr *hotRoute) decayTo(now time.Time) {
	dt := now.Sub(hr.decay)
	if dt < time.Second {
		return
	}
	f := math.Exp2(-dt.Seconds() / hotHalfLife.Seconds())
	for i := range hr.dims {
		hr.dims[i].scale(f)
	}
	hr.decay = now
}

// HotKey is one URL of GET /cache/hot.
type HotKey struct {
	Route string `json:"route"`
	// Key is the request's host and target as received (cut at 512 bytes).
	Key string `json:"key"`
	// Count is the estimate, decayed: requests, bytes or misses. The true
	// count is between Count-Error and Count, give or take the sampling.
	Count int64 `json:"count"`
	Error int64 `json:"error"`
}

// top returns the n hottest keys by dimension dim, of the routes in live
// (all of them when route is "", else that one). Summaries of routes no
// longer in live are dropped.
func (h *hotKeys) top(dim, n int, route string, live map[string]bool) []HotKey {
	h.mu.Lock()
	for name := range h.routes {
		if !live[name] {
			delete(h.routes, name)
		}
	}
	names := make([]string, 0, len(h.routes))
	hrs := make([]*hotRoute, 0, len(h.routes))
	for name, hr := range h.routes {
		if route == "" || name == route {
			names, hrs = append(names, name), append(hrs, hr)
		}
	}
	h.mu.Unlock()
	var out []HotKey
	now := h.now()
	for i, hr := range hrs {
		hr.mu.Lock()
		hr.decayTo(now)
		for _, e := range hr.dims[dim].heap {
			out = append(out, HotKey{Route: names[i], Key: string(e.key), Count: int64(math.Round(e.count)), Error: int64(math.Round(e.err))})
		}
		hr.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b HotKey) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out[:min(n, len(out))]
}

// responseBytes is the body length of the answer in ctx: 0 for HEAD, -1
// for a streamed body of unknown length.
func responseBytes(ctx *fasthttp.RequestCtx) int64 {
	resp := &ctx.Response
	switch {
	case ctx.IsHead():
		return 0
	case resp.IsBodyStream():
		return max(int64(resp.Header.ContentLength()), -1)
	}
	return int64(len(resp.Body()))
}

// handleHot answers GET /cache/hot?n=20&by=requests|bytes|misses&route=NAME.
func (g *Gateway) handleHot(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() {
		adminMethodNotAllowed(ctx, "GET")
		return
	}
	args := ctx.QueryArgs()
	n := 20
	if s := args.Peek("n"); s != nil {
		v, err := strconv.Atoi(string(s))
		if err != nil || v < 1 || v > hotCapacity {
			adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("n: must be an integer from 1 to %d, got %q", hotCapacity, s))
			return
		}
		n = v
	}
	dim := hotRequests
	if s := args.Peek("by"); s != nil {
		dim = slices.Index(hotDimNames[:], string(s))
		if dim < 0 {
			adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("by: must be requests, bytes or misses, got %q", s))
			return
		}
	}
	live := map[string]bool{}
	for _, rt := range g.currentRoutes() {
		live[rt.cfg.Name] = true
	}
	route := string(args.Peek("route"))
	if route != "" && !live[route] {
		adminError(ctx, fasthttp.StatusNotFound, errors.New("route: no route named "+strconv.Quote(route)))
		return
	}
	adminJSON(ctx, fasthttp.StatusOK, map[string]any{
		"by":                hotDimNames[dim],
		"route":             route,
		"half_life_seconds": hotHalfLife.Seconds(),
		"sample":            hotSample,
		"keys":              g.hot.top(dim, n, route, live),
	})
}
