package gateway

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/l2"
)

// kvService is the look-aside API ([kv] section): values that services
// GET, PUT and DELETE at /kv/NAMESPACE/KEY on the gateway's own tiers, with
// the gateway's invalidation: a write or delete on one node reaches every
// node's L1 through the L2 bus (the purge epoch covers lost messages), and
// a tag purge removes tagged values as it removes tagged responses.
//
// # Order of a write
//
// Under the key's record lock: read the invalidation log's sequence, write
// Redis (conditionally, in one script), store in L1 unless an invalidation
// of the key arrived meanwhile (another node's newer write), then publish.
// A node that misses L1 reads L2 the same way: it keeps what it read in L1
// only if no invalidation of the key arrived during the read.
type kvService struct {
	g      *Gateway
	ns     map[string]*kvNamespace
	server *fasthttp.Server
	redis  *redisL2 // nil without Redis
	leases kvLeases
	waits  kvWaits
}

// kvNamespace is one [kv.namespaces.NAME], ready to serve.
type kvNamespace struct {
	name     string
	host     string // "kv/" + name: the host of its index members and invalidations
	token    []byte
	ttl, max time.Duration
	leaseTTL time.Duration
	maxValue int
	l1, l2   bool
	m        *kvMetrics
}

// kvHostPrefix starts the Host of a value's invalidation and L1 index
// member: a "/" is never in a normal host, so no URL shares it.
const kvHostPrefix = "kv/"

// newKVService builds the look-aside API of g, or nil when [kv] listen is
// empty.
func newKVService(g *Gateway) *kvService {
	kc := &g.cfg.KV
	if kc.Listen == "" {
		return nil
	}
	s := &kvService{g: g, ns: make(map[string]*kvNamespace, len(kc.Namespaces))}
	s.redis, _ = g.l2.(*redisL2)
	maxBody := 4 << 20
	for name, c := range kc.Namespaces {
		c = c.withDefaults()
		ns := &kvNamespace{
			name: name, host: kvHostPrefix + name, token: []byte(c.Token),
			ttl: c.DefaultTTL.D(), max: c.MaxTTL.D(), leaseTTL: c.LeaseTTL.D(),
			maxValue: int(c.MaxValueSize),
			l1:       c.Tier != "l2",
			l2:       c.Tier != "l1" && s.redis != nil,
		}
		ns.m = newKVMetrics(g.set, name)
		s.ns[name] = ns
		maxBody = max(maxBody, 2*ns.maxValue+64<<10)
	}
	sc := &g.cfg.Server
	s.server = &fasthttp.Server{
		Handler:               s.handle,
		ErrorHandler:          s.handleParseError,
		Name:                  "flowcache-kv",
		ReadTimeout:           sc.ReadTimeout.D(),
		WriteTimeout:          sc.WriteTimeout.D(),
		IdleTimeout:           sc.IdleTimeout.D(),
		ReadBufferSize:        int(sc.MaxHeaderSize),
		MaxRequestBodySize:    maxBody,
		Concurrency:           sc.MaxConns,
		NoDefaultContentType:  true,
		CloseOnShutdown:       true,
		SecureErrorLogMessage: true,
		Logger:                slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
	return s
}

// errKVOff is ServeKV's error when [kv] listen is not set.
var errKVOff = errors.New("gateway: kv: the look-aside API is off ([kv] listen is empty)")

// ServeKV answers the look-aside API (/kv/...) on ln until Shutdown, with
// the same return rules as Serve. It fails at once when [kv] listen is
// not set.
func (g *Gateway) ServeKV(ln net.Listener) error {
	if g.kv == nil {
		_ = ln.Close() // nothing will serve it; the error below is what matters
		return errKVOff
	}
	if g.closing.Load() {
		_ = ln.Close() // Shutdown came first: nothing to serve
		return nil
	}
	err := g.kv.server.Serve(ln)
	if g.closing.Load() {
		return nil
	}
	return err
}

// shutdown stops the look-aside listener (Gateway.Shutdown).
func (s *kvService) shutdown(ctx context.Context) error {
	if s == nil {
		return nil
	}
	return s.server.ShutdownWithContext(ctx)
}

// kvCall is one request's scratch, pooled.
type kvCall struct {
	key  []byte // the key, percent-decoded
	ikey []byte // kvKey(namespace, key)
	buf  []byte // a record read
	rec  []byte // a record written
	hdr  []byte // a field value
	r    kvRecord

	// _mget's
	keys    [][]byte
	out     []byte
	spans   []kvSpan
	missing []int
}

var kvCallPool = sync.Pool{New: func() any { return new(kvCall) }}

func acquireKVCall() *kvCall { return kvCallPool.Get().(*kvCall) }

func releaseKVCall(c *kvCall) {
	if cap(c.buf) > 1<<20 {
		c.buf = nil
	}
	if cap(c.rec) > 1<<20 {
		c.rec = nil
	}
	if cap(c.out) > 1<<20 {
		c.out = nil
	}
	clear(c.keys) // they alias the request body
	c.keys = c.keys[:0]
	c.r = kvRecord{}
	kvCallPool.Put(c)
}

// handle routes /kv/NS/KEY, /kv/NS/_mget and /kv/NS/_mset.
func (s *kvService) handle(ctx *fasthttp.RequestCtx) {
	defer func() {
		if p := recover(); p != nil {
			s.g.gm.panics.Inc()
			s.g.log.LogAttrs(context.Background(), errorLevel, "kv_handler_panic", slog.String("panic", fmt.Sprint(p)))
			kvError(ctx, fasthttp.StatusInternalServerError, "internal error")
			ctx.SetConnectionClose()
		}
	}()
	path := ctx.URI().PathOriginal()
	if !bytes.HasPrefix(path, []byte("/kv/")) {
		kvError(ctx, fasthttp.StatusNotFound, "not found: the look-aside API is at /kv/NAMESPACE/KEY")
		return
	}
	rest := path[len("/kv/"):]
	i := indexByte(rest, '/')
	if i < 0 {
		kvError(ctx, fasthttp.StatusNotFound, "not found: the look-aside API is at /kv/NAMESPACE/KEY")
		return
	}
	ns := s.ns[string(rest[:i])]
	if ns == nil {
		kvError(ctx, fasthttp.StatusNotFound, "no such namespace")
		return
	}
	if !s.allowed(ctx, ns) {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="flowcache-kv"`)
		kvError(ctx, fasthttp.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	h := &ctx.Request.Header
	if _, err := adminCSRF(h, ""); err != nil {
		kvError(ctx, fasthttp.StatusForbidden, err.Error())
		return
	}
	c := acquireKVCall()
	defer releaseKVCall(c)
	raw := rest[i+1:]
	switch string(raw) {
	case "_mget", "_mset":
		if !h.IsPost() {
			ctx.Response.Header.Set("Allow", "POST")
			kvError(ctx, fasthttp.StatusMethodNotAllowed, "batches are POSTed")
			return
		}
		if mt, _, _ := strings.Cut(string(h.ContentType()), ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
			kvError(ctx, fasthttp.StatusUnsupportedMediaType, "Content-Type must be application/json")
			return
		}
		if raw[2] == 'g' {
			s.mget(ctx, ns, c)
		} else {
			s.mset(ctx, ns, c)
		}
		return
	}
	var ok bool
	c.key, ok = appendUnescape(c.key[:0], raw)
	switch {
	case !ok:
		kvError(ctx, fasthttp.StatusBadRequest, "malformed percent-escape in the key")
		return
	case len(c.key) == 0 || len(c.key) > kvMaxKey:
		kvError(ctx, fasthttp.StatusBadRequest, "a key is 1 to 1024 bytes")
		return
	}
	c.ikey = appendKVKey(c.ikey[:0], ns.name, c.key)
	switch {
	case h.IsGet() || h.IsHead():
		s.get(ctx, ns, c)
	case h.IsPut():
		s.put(ctx, ns, c)
	case h.IsDelete():
		s.del(ctx, ns, c)
	default:
		ctx.Response.Header.Set("Allow", "GET, HEAD, PUT, DELETE")
		kvError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
	}
}

// allowed applies the admin API's rule with the namespace's token: the
// token when one is set, from every client; otherwise a loopback client
// with a loopback Host (config validation allows no token only on a
// loopback listener).
func (s *kvService) allowed(ctx *fasthttp.RequestCtx, ns *kvNamespace) bool {
	if len(ns.token) > 0 {
		auth := ctx.Request.Header.Peek("Authorization")
		const prefix = "Bearer "
		if len(auth) <= len(prefix) || !equalFold(auth[:len(prefix)], prefix) {
			return false
		}
		return subtle.ConstantTimeCompare(auth[len(prefix):], ns.token) == 1
	}
	ip, _ := s.g.client(ctx)
	return ip.IsLoopback() && loopbackHost(ctx.Request.Header.Host())
}

// handleParseError answers a request fasthttp could not read.
func (s *kvService) handleParseError(ctx *fasthttp.RequestCtx, err error) {
	status := fasthttp.StatusBadRequest
	msg := "malformed request"
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &small):
		status, msg = fasthttp.StatusRequestHeaderFieldsTooLarge, "request head too large"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status, msg = fasthttp.StatusRequestEntityTooLarge, "request body too large"
	case isTimeout(err):
		status, msg = fasthttp.StatusRequestTimeout, "request read timed out"
	}
	kvError(ctx, status, msg)
	ctx.SetConnectionClose()
}

// kvError answers {"error": msg} with status.
func kvError(ctx *fasthttp.RequestCtx, status int, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b := make([]byte, 0, 32+len(msg))
	b = append(b, `{"error":`...)
	b = appendJSONString(b, []byte(msg))
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	ctx.SetBody(append(b, "}\n"...))
}

// read finds the value of c.ikey: L1, then L2 (kept in L1 when the tier
// allows). On success c.r holds it, aliasing c.buf.
func (s *kvService) read(ns *kvNamespace, c *kvCall, nowMs int64) bool {
	g := s.g
	if ns.l1 {
		v, ok := g.l1.get(c.ikey, c.buf)
		c.buf = v
		if ok && parseKVRecord(v, &c.r) == nil && s.live(&c.r, nowMs) {
			return true
		}
	}
	if !ns.l2 {
		return false
	}
	since := g.inv.log.current()
	ctx, cancel := context.WithTimeout(context.Background(), kvL2Timeout)
	v, found, err := g.l2.Get(ctx, c.ikey, c.buf)
	cancel()
	c.buf = v
	if !found || err != nil || len(v) == 0 || v[0] != kindKV {
		return false
	}
	if err := parseKVRecord(v, &c.r); err != nil {
		s.redis.rejectRecord(err)
		return false
	}
	if !s.live(&c.r, nowMs) {
		return false
	}
	if ns.l1 {
		s.storeL1(ns, c, true, since, nowMs)
		g.dropEvicted()
	}
	return true
}

// live reports whether the value r may be served at nowMs: not expired,
// and written after the last soft purge-all (a value cannot be
// revalidated, so a soft purge removes it; L2 reads it as invalidated).
func (s *kvService) live(r *kvRecord, nowMs int64) bool {
	return r.expires > nowMs && r.stored*int64(time.Millisecond) > s.g.inv.softAll.Load()
}

// kvL2Timeout bounds one Redis call of the look-aside API (the tier's own
// timeouts are shorter).
const kvL2Timeout = 5 * time.Second

// storeL1 stores the record in c.buf (c.r decoded) in L1, unless
// checkSince and an invalidation of the key was applied since the sequence
// since (another node's newer write), or it does not fit in one L1 entry;
// then it removes any older copy. The caller calls g.dropEvicted once it
// holds no record lock.
func (s *kvService) storeL1(ns *kvNamespace, c *kvCall, checkSince bool, since uint64, nowMs int64) {
	g := s.g
	host := []byte(ns.host)
	if checkSince && g.inv.log.overtaken(since, host, c.key) || !g.l1.fits(c.ikey, len(c.buf)) {
		s.dropL1(ns, c.ikey)
		return
	}
	if len(c.r.tags) > 0 {
		if !g.inv.ix.add(c.r.tags, host, c.key, c.ikey) {
			s.dropL1(ns, c.ikey)
			return
		}
	} else {
		g.inv.ix.drop(c.ikey)
	}
	old := s.l1Len(c.ikey)
	if g.l1.set(c.ikey, c.buf, time.Duration(c.r.expires-nowMs)*time.Millisecond) {
		ns.m.stored(old, len(c.r.value))
	}
}

// l1Len returns the value length of the record L1 holds under ikey, or -1.
func (s *kvService) l1Len(ikey []byte) int {
	n := -1
	_ = s.g.l1.c.PeekFn(ikey, func(v []byte) error { // a miss is the -1 above
		var r kvRecord
		if parseKVRecord(v, &r) == nil {
			n = len(r.value)
		}
		return nil
	})
	return n
}

// dropL1 removes ikey from L1 and from the L1 index.
func (s *kvService) dropL1(ns *kvNamespace, ikey []byte) {
	old := s.l1Len(ikey)
	if s.g.l1.del(ikey) {
		ns.m.removed(old)
	}
	s.g.inv.ix.drop(ikey)
}

// get answers GET and HEAD: 200 with the value, or 404 (with a lease when
// asked, see leaseMiss).
func (s *kvService) get(ctx *fasthttp.RequestCtx, ns *kvNamespace, c *kvCall) {
	now := s.g.now()
	nowMs := now.UnixMilli()
	if s.read(ns, c, nowMs) {
		ns.m.hits.Inc()
		writeKVValue(ctx, c, nowMs)
		return
	}
	ns.m.misses.Inc()
	args := ctx.QueryArgs()
	if lease := args.Peek("lease"); len(lease) > 0 {
		if string(lease) != "1" {
			kvError(ctx, fasthttp.StatusBadRequest, "lease must be 1")
			return
		}
		wait, err := kvWait(args.Peek("wait"))
		if err != nil {
			kvError(ctx, fasthttp.StatusBadRequest, err.Error())
			return
		}
		s.leaseMiss(ctx, ns, c, now, wait)
		return
	}
	kvError(ctx, fasthttp.StatusNotFound, "not found")
}

// writeKVValue answers 200 with the value in c.r: Content-Type, ETag, Age
// and the life left as Cache-Control max-age. It does not allocate.
func writeKVValue(ctx *fasthttp.RequestCtx, c *kvCall, nowMs int64) {
	h := &ctx.Response.Header
	if len(c.r.ct) > 0 {
		h.SetContentTypeBytes(c.r.ct)
	} else {
		h.SetContentType("application/octet-stream")
	}
	c.hdr = appendETag(c.hdr[:0], c.r.etag)
	h.SetBytesV("ETag", c.hdr)
	c.hdr = strconv.AppendInt(c.hdr[:0], max(0, (nowMs-c.r.stored)/1000), 10)
	h.SetBytesV("Age", c.hdr)
	c.hdr = append(c.hdr[:0], "max-age="...)
	c.hdr = strconv.AppendInt(c.hdr, max(0, (c.r.expires-nowMs)/1000), 10)
	h.SetBytesV("Cache-Control", c.hdr)
	ctx.SetBody(c.r.value)
}

// kvWrite is one value to write.
type kvWrite struct {
	value, ct, tags []byte
	ttl             time.Duration
	cond            l2.Cond
}

// Errors of a write, mapped to statuses by kvWriteStatus.
var (
	errKVPrecondition = errors.New("precondition failed: the stored value does not match If-Match / If-None-Match")
	errKVLease        = errors.New("lease not held: it expired, or the key was written or deleted since it was given")
	errKVUnavailable  = errors.New("redis unavailable: the value could not be written to L2")
	errKVTooLarge     = errors.New("value larger than the namespace's max_value_size")
	errKVTooLargeL1   = errors.New("value larger than one L1 entry can hold (tier = \"l1\")")
	errKVNotTold      = errors.New("written, but the other nodes could not be told (publish failed): retry")
)

// kvWriteStatus maps a write error to its status.
func kvWriteStatus(err error) int {
	switch {
	case errors.Is(err, errKVPrecondition):
		return fasthttp.StatusPreconditionFailed
	case errors.Is(err, errKVLease):
		return fasthttp.StatusConflict
	case errors.Is(err, errKVTooLarge), errors.Is(err, errKVTooLargeL1):
		return fasthttp.StatusRequestEntityTooLarge
	default:
		return fasthttp.StatusServiceUnavailable
	}
}

// put answers PUT: 204 with the new ETag, or an error (400, 409, 412, 413,
// 503).
func (s *kvService) put(ctx *fasthttp.RequestCtx, ns *kvNamespace, c *kvCall) {
	h := &ctx.Request.Header
	w := kvWrite{value: ctx.PostBody(), ct: h.ContentType(), tags: trimOWS(h.Peek("Surrogate-Key"))}
	var err error
	if w.ttl, err = ns.writeTTL(ctx.QueryArgs().Peek("ttl"), h.Peek("Cache-Control")); err != nil {
		kvError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if w.cond, err = kvCondition(h); err != nil {
		kvError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if err := kvCheckFields(w.ct, w.tags); err != nil {
		kvError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	etag, err := s.write(ns, c, &w)
	if err != nil {
		kvError(ctx, kvWriteStatus(err), err.Error())
		return
	}
	c.hdr = appendETag(c.hdr[:0], etag)
	ctx.Response.Header.SetBytesV("ETag", c.hdr)
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// kvCheckFields checks a written value's Content-Type and tags.
func kvCheckFields(ct, tags []byte) error {
	if len(ct) > kvMaxCTLen || !kvFieldOK(ct) {
		return errors.New("Content-Type: at most 255 visible ASCII characters")
	}
	if len(tags) > kvMaxTagsLen || !kvFieldOK(tags) {
		return errors.New("Surrogate-Key: at most 4096 visible ASCII characters")
	}
	return nil
}

// kvCondition reads If-None-Match: *, If-Match: "etag" and
// Flowcache-Lease: token; at most one may be given.
func kvCondition(h *fasthttp.RequestHeader) (l2.Cond, error) {
	c := l2.Cond{Kind: kindKV, Lease: kindLease, At: kvVersionAt}
	n := 0
	if v := h.Peek("If-None-Match"); len(v) > 0 {
		if string(trimOWS(v)) != "*" {
			return c, errors.New(`If-None-Match: only "*" (write only if absent) is supported`)
		}
		c.Op, n = l2.OpNoValue, n+1
	}
	if v := h.Peek("If-Match"); len(v) > 0 {
		etag, ok := parseETag(v)
		if !ok {
			return c, errors.New(`If-Match: one strong ETag as returned by GET or PUT ("16 hex digits")`)
		}
		c.Op, n = l2.OpVersion, n+1
		putVersion(&c, etag)
	}
	if v := h.Peek(kvTokenHeader); len(v) > 0 {
		tok, ok := parseHex64(trimOWS(v))
		if !ok {
			return c, errors.New(kvTokenHeader + ": the 16 hex digits a leased GET returned")
		}
		c.Op, n = l2.OpLease, n+1
		putVersion(&c, tok)
	}
	if n > 1 {
		return c, errors.New("at most one of If-None-Match, If-Match and " + kvTokenHeader)
	}
	return c, nil
}

func putVersion(c *l2.Cond, v uint64) { binary.BigEndian.PutUint64(c.Version[:], v) }

func condVersion(c *l2.Cond) uint64 { return binary.BigEndian.Uint64(c.Version[:]) }

// writeTTL is the life of a written value: ?ttl= (seconds, or a duration
// such as "90s"), else Cache-Control max-age, else default_ttl; at most
// max_ttl.
func (ns *kvNamespace) writeTTL(q, cc []byte) (time.Duration, error) {
	var ttl time.Duration
	switch {
	case len(q) > 0:
		d, err := parseKVDuration(string(q), time.Second, ns.max)
		if err != nil {
			return 0, fmt.Errorf("ttl: %w", err)
		}
		ttl = d
	case len(cc) > 0:
		v, ok := ccMaxAge(cc)
		if !ok {
			ttl = ns.ttl
			break
		}
		d, err := parseKVDuration(v, time.Second, ns.max)
		if err != nil {
			return 0, fmt.Errorf("Cache-Control max-age: %w", err)
		}
		ttl = d
	default:
		ttl = ns.ttl
	}
	if ttl > ns.max {
		return 0, fmt.Errorf("ttl %s is over the namespace's max_ttl (%s)", ttl, ns.max)
	}
	return ttl, nil
}

// parseKVDuration reads whole seconds ("60") or a Go duration ("1m30s")
// from lo to hi.
func parseKVDuration(s string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if n, nerr := strconv.ParseInt(s, 10, 64); nerr == nil {
		d, err = time.Duration(n)*time.Second, nil
		if n > int64(hi/time.Second) {
			d = hi + 1
		}
	}
	if err != nil || d < lo || d > hi {
		return 0, fmt.Errorf("%q: seconds or a duration from %s to %s", s, lo, hi)
	}
	return d, nil
}

// ccMaxAge returns the max-age argument of a Cache-Control value.
func ccMaxAge(cc []byte) (string, bool) {
	for _, part := range strings.Split(string(cc), ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(strings.TrimSpace(name), "max-age") {
			return strings.Trim(strings.TrimSpace(val), `"`), true
		}
	}
	return "", false
}

// write stores w under c.ikey: L2 first (conditionally) when the
// namespace uses it, then L1, then tells every node. It returns the new
// ETag.
func (s *kvService) write(ns *kvNamespace, c *kvCall, w *kvWrite) (uint64, error) {
	if len(w.value) > ns.maxValue {
		return 0, errKVTooLarge
	}
	g := s.g
	nowMs := g.now().UnixMilli()
	c.r = kvRecord{etag: newKVVersion(), stored: nowMs, expires: nowMs + w.ttl.Milliseconds(), ct: w.ct, tags: w.tags, value: w.value}
	c.rec = appendKVRecord(c.rec[:0], &c.r)
	if !ns.l2 && !g.l1.fits(c.ikey, len(c.rec)) {
		return 0, errKVTooLargeL1
	}
	mu := g.records.lock(c.ikey)
	mu.Lock()
	since := g.inv.log.current()
	if ns.l2 {
		ctx, cancel := context.WithTimeout(context.Background(), kvL2Timeout)
		_, err := s.redis.t.WriteNow(ctx, c.ikey, c.rec, w.ttl, w.tags, w.cond)
		cancel()
		if err != nil {
			mu.Unlock()
			if errors.Is(err, l2.ErrCondition) {
				if w.cond.Op == l2.OpLease {
					return 0, errKVLease
				}
				return 0, errKVPrecondition
			}
			return 0, fmt.Errorf("%w: %w", errKVUnavailable, err)
		}
	} else if err := s.localCondition(c, &w.cond, nowMs); err != nil {
		mu.Unlock()
		return 0, err
	}
	s.leases.drop(c.ikey)
	ns.m.writes.Inc()
	if ns.l1 {
		// c.buf is where storeL1 reads the record from.
		c.buf, c.rec = c.rec, c.buf
		s.storeL1(ns, c, ns.l2, since, nowMs)
	}
	mu.Unlock()
	g.dropEvicted()
	s.waits.signal(c.ikey)
	if err := s.publish(ns, c.key); err != nil {
		return c.r.etag, fmt.Errorf("%w: %w", errKVNotTold, err)
	}
	return c.r.etag, nil
}

// localCondition checks a write's condition against this node's L1 and
// leases (a namespace without L2). The caller holds the record lock.
func (s *kvService) localCondition(c *kvCall, cond *l2.Cond, nowMs int64) error {
	if cond.Op == l2.OpAlways {
		return nil
	}
	if cond.Op == l2.OpLease {
		if !s.leases.holds(c.ikey, condVersion(cond), nowMs) {
			return errKVLease
		}
		return nil
	}
	var r kvRecord
	exists := false
	if v, ok := s.g.l1.get(c.ikey, c.buf); ok {
		c.buf = v
		exists = parseKVRecord(v, &r) == nil && s.live(&r, nowMs)
	}
	switch {
	case cond.Op == l2.OpNoValue && exists,
		cond.Op == l2.OpVersion && (!exists || r.etag != condVersion(cond)):
		return errKVPrecondition
	}
	return nil
}

// del answers DELETE: 204 if a value (or a lease) was there, 404 if not.
// Outstanding leases on the key are void afterwards: their fills get 409.
func (s *kvService) del(ctx *fasthttp.RequestCtx, ns *kvNamespace, c *kvCall) {
	existed, err := s.remove(ns, c)
	if err != nil {
		kvError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
		return
	}
	if !existed {
		kvError(ctx, fasthttp.StatusNotFound, "not found")
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// remove deletes c.ikey from L2, L1 and the leases, and tells every node.
func (s *kvService) remove(ns *kvNamespace, c *kvCall) (bool, error) {
	g := s.g
	mu := g.records.lock(c.ikey)
	mu.Lock()
	existed := false
	if ns.l2 {
		ctx, cancel := context.WithTimeout(context.Background(), kvL2Timeout)
		n, err := g.l2.Delete(ctx, c.ikey)
		cancel()
		if err != nil {
			mu.Unlock()
			return false, fmt.Errorf("redis unavailable: nothing was deleted: %w", err)
		}
		existed = n > 0
	}
	g.inv.log.addURL([]byte(ns.host), c.key)
	if ns.l1 {
		old := s.l1Len(c.ikey)
		if g.l1.del(c.ikey) {
			existed = true
			ns.m.removed(old)
		}
		g.inv.ix.drop(c.ikey)
	}
	if s.leases.drop(c.ikey) {
		existed = true
	}
	mu.Unlock()
	ns.m.deletes.Inc()
	s.waits.signal(c.ikey)
	if err := s.publish(ns, c.key); err != nil {
		return existed, fmt.Errorf("deleted, but the other nodes could not be told (publish failed): retry: %w", err)
	}
	return existed, nil
}

// publish tells every node that key of ns changed, through the L2 bus
// (with the purge epoch, so that a node that misses the message resyncs).
// Without Redis there is no other node.
func (s *kvService) publish(ns *kvNamespace, key []byte) error {
	if s.redis == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), kvL2Timeout)
	defer cancel()
	inv := l2.Invalidation{Kind: l2.KindURL, Host: ns.host, Path: hex.EncodeToString(key)}
	return s.redis.t.Publish(ctx, &inv)
}

// isKVInvalidation reports whether inv is about a look-aside value.
func isKVInvalidation(inv *l2.Invalidation) bool {
	return inv.Kind == l2.KindURL && strings.HasPrefix(inv.Host, kvHostPrefix)
}

// applyKV drops from this node's L1 the value another node wrote or
// deleted, and wakes the callers waiting for it. It returns how many
// values it removed.
func (g *Gateway) applyKV(inv *l2.Invalidation) int {
	key, err := hex.DecodeString(inv.Path)
	if err != nil {
		return 0
	}
	name := inv.Host[len(kvHostPrefix):]
	g.inv.log.addURL([]byte(inv.Host), key)
	ikey := appendKVKey(nil, name, key)
	s := g.kv
	if s == nil {
		// No look-aside API here: values may only be in L1 if the
		// configuration had one, which a restart would have dropped.
		g.l1.del(ikey)
		return 0
	}
	n := 0
	if ns := s.ns[name]; ns != nil {
		old := s.l1Len(ikey)
		if g.l1.del(ikey) {
			ns.m.removed(old)
			n = 1
		}
	} else if g.l1.del(ikey) {
		n = 1
	}
	g.inv.ix.drop(ikey)
	s.waits.signal(ikey)
	return n
}

// drop removes the member of pkey, if any: a value written without tags
// must not be removed by a purge of the tags of an older one.
func (ix *l1Index) drop(pkey []byte) {
	ix.mu.Lock()
	if m := ix.members[string(pkey)]; m != nil {
		ix.remove(m)
	}
	ix.mu.Unlock()
}
