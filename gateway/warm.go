package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/l2"
	"github.com/flowcache/flowcache/internal/httplex"
)

// Cache warming: POST /warm starts a job that requests a list of URLs
// through this gateway's own data plane, as a client would, so that each
// goes through routing, the policy's key, the lookup, coalescing and the
// miss path, and is stored by the same rules as any response. The requests
// reach the data-plane server over in-memory connections (no socket), one
// per request. GET /warm lists the jobs, GET /warm/ID shows one, DELETE
// /warm/ID cancels it. GET /warm/hot lists the URLs this node's L1 holds,
// the most recently stored first: what a new node warms from.

// Bounds of warming.
const (
	maxWarmURLs        = 100000 // URLs in one job
	maxWarmJobs        = 4      // jobs running at once
	keptWarmJobs       = 16     // finished jobs still listed
	maxWarmConcurrency = 64
	defaultWarmConc    = 4
	warmTimeout        = time.Minute // one request, head and body
)

// warmRequest is the body of POST /warm.
type warmRequest struct {
	// URLs are absolute http:// or https:// URLs a route serves.
	URLs []string `json:"urls"`
	// Headers are added to every request (e.g. Accept-Language for one
	// Vary variant).
	Headers map[string]string `json:"headers"`
	// Concurrency is the number of requests in flight (default 4, at most
	// 64).
	Concurrency int `json:"concurrency"`
	// Rate caps the requests per second (0: no cap).
	Rate float64 `json:"rate"`
}

// WarmStatus is the state of one warming job, as GET /warm answers it.
type WarmStatus struct {
	ID     string `json:"id"`
	State  string `json:"state"`  // running, done, cancelled
	Reason string `json:"reason"` // warm, or refresh (after a soft purge)
	// Total URLs; Done of them requested: Stored (fetched and stored),
	// Cached (already in the cache), NotCacheable (fetched, not stored)
	// and Errors (no answer, or a 5xx).
	Total        int64     `json:"total"`
	Done         int64     `json:"done"`
	Stored       int64     `json:"stored"`
	Cached       int64     `json:"cached"`
	NotCacheable int64     `json:"not_cacheable"`
	Errors       int64     `json:"errors"`
	Concurrency  int       `json:"concurrency"`
	Rate         float64   `json:"rate,omitempty"`
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished,omitzero"`
	// LastError is the last failure, for the operator.
	LastError string `json:"last_error,omitempty"`
}

// warmJob is a running or finished job.
type warmJob struct {
	id          string
	reason      string // "warm", or "refresh" after a soft purge
	urls        []purgeURLTarget
	headers     [][2]string
	concurrency int
	rate        float64
	started     time.Time
	cancel      context.CancelFunc

	done, stored, cached, notCacheable, errs atomic.Int64

	mu        sync.Mutex
	state     string
	finished  time.Time
	lastError string
}

func (j *warmJob) status() WarmStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	return WarmStatus{
		ID: j.id, State: j.state, Reason: j.reason, Total: int64(len(j.urls)), Done: j.done.Load(),
		Stored: j.stored.Load(), Cached: j.cached.Load(), NotCacheable: j.notCacheable.Load(), Errors: j.errs.Load(),
		Concurrency: j.concurrency, Rate: j.rate, Started: j.started, Finished: j.finished, LastError: j.lastError,
	}
}

// warmJobs is the gateway's list of jobs. The zero value is ready.
type warmJobs struct {
	mu   sync.Mutex
	jobs []*warmJob // oldest first
}

// handleWarm answers /warm and /warm/ID (the caller has checked the admin
// token and the cross-site rule).
func (g *Gateway) handleWarm(ctx *fasthttp.RequestCtx, path string) {
	id, sub := strings.CutPrefix(path, "/warm/")
	switch {
	case !sub && ctx.IsPost():
		g.startWarm(ctx)
	case !sub && ctx.IsGet():
		adminJSON(ctx, fasthttp.StatusOK, map[string]any{"jobs": g.warm.list()})
	case !sub:
		adminMethodNotAllowed(ctx, "GET, POST")
	case id == "hot" && ctx.IsGet():
		g.hotURLs(ctx)
	case ctx.IsGet() || ctx.IsDelete():
		j := g.warm.find(id)
		if j == nil {
			adminError(ctx, fasthttp.StatusNotFound, fmt.Errorf("warm: no job %q", id))
			return
		}
		if ctx.IsDelete() {
			j.cancel()
			j.finish("cancelled", "")
		}
		adminJSON(ctx, fasthttp.StatusOK, j.status())
	default:
		adminMethodNotAllowed(ctx, "GET, DELETE")
	}
}

var errWarmBody = errors.New("gateway: warm")

// parseWarmRequest decodes and checks a POST /warm body.
func (g *Gateway) parseWarmRequest(body []byte) (*warmJob, error) {
	var req warmRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("%w: body: %w", errWarmBody, err)
	}
	switch {
	case len(req.URLs) == 0:
		return nil, fmt.Errorf("%w: urls: at least one URL is required", errWarmBody)
	case len(req.URLs) > maxWarmURLs:
		return nil, fmt.Errorf("%w: urls: %d URLs, at most %d in one job", errWarmBody, len(req.URLs), maxWarmURLs)
	case req.Concurrency < 0 || req.Concurrency > maxWarmConcurrency:
		return nil, fmt.Errorf("%w: concurrency: must be 0 (default %d) to %d, got %d", errWarmBody, defaultWarmConc, maxWarmConcurrency, req.Concurrency)
	case req.Rate < 0 || req.Rate != req.Rate: // NaN
		return nil, fmt.Errorf("%w: rate: must be 0 (no cap) or positive", errWarmBody)
	}
	j := &warmJob{reason: "warm", concurrency: req.Concurrency, rate: req.Rate}
	if j.concurrency == 0 {
		j.concurrency = defaultWarmConc
	}
	routes := g.st.Load().router
	j.urls = make([]purgeURLTarget, 0, len(req.URLs))
	for i, u := range req.URLs {
		t, err := parseAbsoluteURL(u)
		if err != nil {
			return nil, fmt.Errorf("%w: urls[%d]: %w", errWarmBody, i, err)
		}
		if t.rt = routes.matchNormal(t.host, t.path); t.rt == nil {
			return nil, fmt.Errorf("%w: urls[%d]: no route serves %q", errWarmBody, i, u)
		}
		j.urls = append(j.urls, t)
	}
	for _, name := range slices.Sorted(maps.Keys(req.Headers)) {
		v := req.Headers[name]
		if !validFieldName(name) || strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("%w: headers: %q: not a valid header field", errWarmBody, name)
		}
		if equalFold([]byte(name), "host") || equalFold([]byte(name), "content-length") || equalFold([]byte(name), "transfer-encoding") {
			return nil, fmt.Errorf("%w: headers: %q is set by the gateway", errWarmBody, name)
		}
		j.headers = append(j.headers, [2]string{name, v})
	}
	return j, nil
}

// validFieldName reports whether s is an HTTP field name (RFC 9110 token).
func validFieldName(s string) bool { return httplex.IsToken([]byte(s)) }

// startWarm answers POST /warm: 202 with the new job's status.
func (g *Gateway) startWarm(ctx *fasthttp.RequestCtx) {
	j, err := g.parseWarmRequest(ctx.PostBody())
	if err != nil {
		adminError(ctx, fasthttp.StatusBadRequest, err)
		return
	}
	if err := g.launchWarm(j); err != nil {
		status := fasthttp.StatusTooManyRequests
		if errors.Is(err, errWarmClosing) {
			status = fasthttp.StatusServiceUnavailable
		}
		adminError(ctx, status, err)
		return
	}
	adminJSON(ctx, fasthttp.StatusAccepted, j.status())
}

var errWarmClosing = errors.New("warm: shutting down")

// launchWarm registers j and runs it in the background.
func (g *Gateway) launchWarm(j *warmJob) error {
	if g.closing.Load() {
		return errWarmClosing
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	j.id = hex.EncodeToString(b[:])
	j.started = g.now()
	j.state = "running"
	jctx, cancel := context.WithCancel(g.bgCtx)
	j.cancel = cancel
	if err := g.warm.add(j); err != nil {
		cancel()
		return err
	}
	g.log.LogAttrs(jctx, slog.LevelInfo, "warm_started", slog.String("warm_job", j.id), slog.String("reason", j.reason),
		slog.Int("urls", len(j.urls)), slog.Int("concurrency", j.concurrency), slog.Float64("rate", j.rate))
	go g.runWarm(jctx, j)
	return nil
}

func (w *warmJobs) add(j *warmJob) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	running := 0
	for _, o := range w.jobs {
		if o.status().State == "running" {
			running++
		}
	}
	if running >= maxWarmJobs {
		return fmt.Errorf("warm: %d jobs running already, at most %d", running, maxWarmJobs)
	}
	w.jobs = append(w.jobs, j)
	// Forget the oldest finished jobs beyond keptWarmJobs.
	for len(w.jobs) > keptWarmJobs+maxWarmJobs {
		i := slices.IndexFunc(w.jobs, func(o *warmJob) bool { return o.status().State != "running" })
		if i < 0 {
			break
		}
		w.jobs = slices.Delete(w.jobs, i, i+1)
	}
	return nil
}

func (w *warmJobs) list() []WarmStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]WarmStatus, 0, len(w.jobs))
	for _, j := range w.jobs {
		out = append(out, j.status())
	}
	return out
}

func (w *warmJobs) find(id string) *warmJob {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, j := range w.jobs {
		if j.id == id {
			return j
		}
	}
	return nil
}

// finish sets the final state of the job, once.
func (j *warmJob) finish(state, lastError string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.state != "running" {
		return
	}
	j.state, j.finished = state, time.Now()
	if lastError != "" {
		j.lastError = lastError
	}
}

// runWarm requests every URL of j with j.concurrency workers, at most
// j.rate a second, until done, cancelled, or the gateway shuts down.
func (g *Gateway) runWarm(ctx context.Context, j *warmJob) {
	defer j.cancel()
	var next atomic.Int64
	pace := newPacer(j.rate)
	var wg sync.WaitGroup
	for range min(j.concurrency, len(j.urls)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := g.warmClient()
			defer c.CloseIdleConnections()
			for ctx.Err() == nil && !g.closing.Load() {
				i := int(next.Add(1)) - 1
				if i >= len(j.urls) || !pace.wait(ctx) {
					return
				}
				g.warmOne(ctx, c, j, &j.urls[i])
			}
		}()
	}
	wg.Wait()
	state := "done"
	if ctx.Err() != nil || g.closing.Load() {
		state = "cancelled"
	}
	j.finish(state, "")
	st := j.status()
	g.log.LogAttrs(context.Background(), slog.LevelInfo, "warm_finished", slog.String("warm_job", j.id),
		slog.String("state", st.State), slog.Int64("done", st.Done), slog.Int64("stored", st.Stored),
		slog.Int64("cached", st.Cached), slog.Int64("not_cacheable", st.NotCacheable), slog.Int64("errors", st.Errors),
		slog.Duration("elapsed", st.Finished.Sub(st.Started)))
}

// warmClient returns a client whose connections are in-memory pipes to
// this gateway's data-plane server: a warm request is served exactly as a
// client's, without a socket.
func (g *Gateway) warmClient() *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr: "warm",
		Dial: func(string) (net.Conn, error) {
			client, server := net.Pipe()
			go func() {
				_ = g.server.ServeConn(server) // ends when the client side closes; errors are the client's to see
			}()
			return client, nil
		},
		MaxConns:            1,
		ReadTimeout:         warmTimeout,
		WriteTimeout:        warmTimeout,
		MaxResponseBodySize: int(g.cfg.Cache.MaxObjectSize) + 1<<20,
		StreamResponseBody:  true,
	}
}

// warmOne requests one URL of j and counts the outcome: Cache-Status
// "stored" is stored, X-Cache HIT or HIT-L2 already cached, a 5xx or no
// answer an error, anything else not cacheable.
func (g *Gateway) warmOne(ctx context.Context, c *fasthttp.HostClient, j *warmJob, t *purgeURLTarget) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	uri := req.URI()
	uri.SetSchemeBytes(t.scheme)
	uri.SetHostBytes(t.host)
	uri.SetPathBytes(t.path)
	uri.SetQueryStringBytes(t.query)
	for _, h := range j.headers {
		req.Header.Set(h[0], h[1])
	}
	g.set.GetOrCreateCounter("flowcache_warm_requests_total").Inc()
	err := c.DoTimeout(req, resp, warmTimeout)
	if err == nil {
		// Read the whole body: a streamed miss is stored as it is read.
		if s := resp.BodyStream(); s != nil {
			_, err = io.Copy(io.Discard, s)
		}
		if cerr := resp.CloseBodyStream(); err == nil {
			err = cerr
		}
	}
	j.done.Add(1)
	switch {
	case err != nil || resp.StatusCode() >= 500:
		msg := fmt.Sprintf("%s%s: ", t.host, t.path)
		if err != nil {
			msg += err.Error()
		} else {
			msg += fmt.Sprintf("status %d", resp.StatusCode())
		}
		j.errs.Add(1)
		j.mu.Lock()
		j.lastError = msg
		j.mu.Unlock()
		g.set.GetOrCreateCounter("flowcache_warm_errors_total").Inc()
		if g.log.Enabled(ctx, slog.LevelDebug) {
			g.log.LogAttrs(ctx, slog.LevelDebug, "warm_error", slog.String("warm_job", j.id), slog.String("error", msg))
		}
	case bytes.Contains(peekResponse(&resp.Header, "cache-status"), []byte("; stored")):
		j.stored.Add(1)
		g.set.GetOrCreateCounter("flowcache_warm_stored_total").Inc()
	case bytes.HasPrefix(peekResponse(&resp.Header, "x-cache"), []byte("HIT")):
		j.cached.Add(1)
		g.set.GetOrCreateCounter("flowcache_warm_cached_total").Inc()
	default:
		j.notCacheable.Add(1)
		g.set.GetOrCreateCounter("flowcache_warm_not_cacheable_total").Inc()
	}
}

// pacer spaces requests at most rate a second (0: no cap). It is safe for
// concurrent use.
type pacer struct {
	interval time.Duration
	mu       sync.Mutex
	next     time.Time
}

func newPacer(rate float64) *pacer {
	p := &pacer{}
	if rate > 0 {
		p.interval = time.Duration(float64(time.Second) / rate)
	}
	return p
}

// wait blocks until the next request may start; false if ctx ended first.
func (p *pacer) wait(ctx context.Context) bool {
	if p.interval <= 0 {
		return true
	}
	p.mu.Lock()
	now := time.Now()
	slot := p.next
	if slot.Before(now) {
		slot = now
	}
	p.next = slot.Add(p.interval)
	p.mu.Unlock()
	d := time.Until(slot)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Bounds of GET /warm/hot?limit=N.
const (
	defaultHotURLs = 1000
	maxHotURLs     = maxWarmURLs
)

// hotURLs answers GET /warm/hot?limit=N: {"urls": [...]}, the URLs of the
// responses this node's L1 holds (as keys hold them: the normal host and
// the policy's target), newest first, at most N (default 1000).
func (g *Gateway) hotURLs(ctx *fasthttp.RequestCtx) {
	limit := defaultHotURLs
	if v := ctx.QueryArgs().Peek("limit"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 || n > maxHotURLs {
			adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("warm: limit: want 1 to %d, got %q", maxHotURLs, v))
			return
		}
		limit = n
	}
	hot := g.inv.ix.hotURLs(&l2.Invalidation{Kind: l2.KindAll}, limit)
	urls := make([]string, 0, len(hot))
	for _, u := range hot {
		urls = append(urls, "http://"+u[0]+u[1])
	}
	adminJSON(ctx, fasthttp.StatusOK, map[string]any{"urls": urls})
}
