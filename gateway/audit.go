package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/l2"
)

// AuditEvent is one change made to the gateway: a purge (any form), a
// policy upload, rollback or delete, a reload, or any other state-changing
// admin request. GET /audit lists them, newest first.
type AuditEvent struct {
	Time time.Time `json:"time"`
	// Node is the gateway that applied the change (its node id with
	// Redis, its host name without).
	Node string `json:"node"`
	// Peer is the client's address as trusted_proxies resolve it; empty
	// for a change from the process itself (SIGHUP).
	Peer string `json:"peer,omitempty"`
	// Auth is how the client was allowed: "token" (the bearer token),
	// "session" (a browser login), "loopback" (no token configured), or
	// "process" (SIGHUP, or the program embedding the gateway).
	Auth string `json:"auth"`
	// Action names the change: purge_url, purge_tags (PURGE, with _soft
	// for a soft purge), purge or purge_soft (POST /purge),
	// policy_upload, policy_rollback, policy_delete, reload, login,
	// logout, or "METHOD /path" for another admin request.
	Action string `json:"action"`
	// Target is what was changed: the URL, the tags, the POST /purge
	// body, the policy and version.
	Target string `json:"target,omitempty"`
	// Status is the HTTP status answered; Result "ok" or the error.
	Status int    `json:"status"`
	Result string `json:"result"`
	// Count is the number of entries purged, for a purge.
	Count int `json:"count"`
}

// Bounds of the audit log: the events each node keeps in memory, the
// approximate length of the Redis stream (XADD MAXLEN ~), the largest
// target kept, and the events waiting to be added to the stream.
const (
	auditRingSize  = 1000
	auditStreamLen = 10000
	auditTargetMax = 512
	auditQueue     = 256
	auditDomain    = "audit" // l2.Signer domain of stream entries
)

// auditLog keeps the audit events: a ring on this node and, with Redis, a
// capped stream every node adds to. Its methods are safe for concurrent
// use.
type auditLog struct {
	node string
	log  *slog.Logger

	mu   sync.Mutex
	ring [auditRingSize]AuditEvent
	n    int // events ever added; the newest is ring[(n-1)%auditRingSize]

	events, streamErrors, rejected *metrics.Counter

	// With Redis: the stream key, a client, the signer of entries and the
	// queue of the writer goroutine.
	client redis.UniversalClient
	key    string
	signer *l2.Signer
	queue  chan AuditEvent
	stop   chan struct{}
	done   chan struct{}
}

func newAuditLog(cfg *RedisConfig, node string, set *metrics.Set, log *slog.Logger) *auditLog {
	a := &auditLog{
		node:         node,
		log:          log,
		events:       set.NewCounter("flowcache_audit_events_total"),
		streamErrors: set.NewCounter("flowcache_audit_stream_errors_total"),
		rejected:     set.NewCounter("flowcache_audit_rejected_total"),
	}
	if len(cfg.Addrs) == 0 {
		return a
	}
	opts := l2ConfigOf(cfg).UniversalOptions("flowcache-audit")
	opts.PoolSize = 2
	opts.MaxRetries = 1
	a.client = redis.NewUniversalClient(opts)
	a.key = cfg.KeyPrefix + "audit"
	a.signer = l2.NewSigner(cfg.Secret)
	a.queue = make(chan AuditEvent, auditQueue)
	a.stop, a.done = make(chan struct{}), make(chan struct{})
	go a.run()
	return a
}

// record adds e to the ring, the log and (queued) the stream.
func (a *auditLog) record(e AuditEvent) {
	e.Node = a.node
	if len(e.Target) > auditTargetMax {
		e.Target = e.Target[:auditTargetMax] + "..."
	}
	a.mu.Lock()
	a.ring[a.n%auditRingSize] = e
	a.n++
	a.mu.Unlock()
	a.events.Inc()
	a.log.LogAttrs(context.Background(), slog.LevelInfo, "audit",
		slog.String("action", e.Action), slog.String("target", e.Target),
		slog.String("peer", e.Peer), slog.String("auth", e.Auth),
		slog.Int("status", e.Status), slog.String("result", e.Result), slog.Int("count", e.Count))
	if a.queue == nil {
		return
	}
	select {
	case a.queue <- e:
	default:
		a.streamErrors.Inc() // the stream writer is behind: the ring has it
	}
}

// local returns up to n events of this node, newest first.
func (a *auditLog) local(n int) []AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	n = min(n, a.n, auditRingSize)
	out := make([]AuditEvent, 0, n)
	for i := range n {
		out = append(out, a.ring[(a.n-1-i)%auditRingSize])
	}
	return out
}

// run adds queued events to the stream until close.
func (a *auditLog) run() {
	defer close(a.done)
	for {
		select {
		case e := <-a.queue:
			a.add(e)
		case <-a.stop:
			for {
				select {
				case e := <-a.queue:
					a.add(e)
				default:
					return
				}
			}
		}
	}
}

// auditTimeout bounds one Redis call of the audit log.
const auditTimeout = 2 * time.Second

func (a *auditLog) add(e AuditEvent) {
	b, err := json.Marshal(e)
	if err != nil {
		a.streamErrors.Inc()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), auditTimeout)
	defer cancel()
	err = a.client.XAdd(ctx, &redis.XAddArgs{
		Stream: a.key,
		MaxLen: auditStreamLen,
		Approx: true,
		Values: []string{"e", string(a.signer.Seal(nil, auditDomain, b))},
	}).Err()
	if err != nil {
		a.streamErrors.Inc()
		a.log.LogAttrs(ctx, slog.LevelWarn, "audit_stream_failed", errAttr(err))
	}
}

// fleet returns up to n events of every node from the stream, newest
// first. Entries that fail the [redis] secret's check are skipped and
// counted.
func (a *auditLog) fleet(ctx context.Context, n int) ([]AuditEvent, error) {
	ctx, cancel := context.WithTimeout(ctx, auditTimeout)
	defer cancel()
	msgs, err := a.client.XRevRangeN(ctx, a.key, "+", "-", int64(n)).Result()
	if err != nil {
		return nil, fmt.Errorf("audit: read the redis stream: %w", err)
	}
	out := make([]AuditEvent, 0, len(msgs))
	for _, m := range msgs {
		s, _ := m.Values["e"].(string)
		b, err := a.signer.Open(auditDomain, []byte(s))
		var e AuditEvent
		if err == nil {
			err = json.Unmarshal(b, &e)
		}
		if err != nil {
			a.rejected.Inc()
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// close stops the stream writer (writing what is queued) and closes its
// client.
func (a *auditLog) close() error {
	if a.client == nil {
		return nil
	}
	close(a.stop)
	<-a.done
	if err := a.client.Close(); err != nil {
		return fmt.Errorf("audit: close redis client: %w", err)
	}
	return nil
}

// auditActor fills the who of e from an admin or PURGE request that was
// allowed: the client's address and how it was allowed.
func (g *Gateway) auditActor(ctx *fasthttp.RequestCtx, e *AuditEvent) {
	ip, _ := g.client(ctx)
	e.Peer = ip.String()
	switch {
	case g.cfg.Admin.Token == "":
		e.Auth = "loopback"
	case g.tokenOK(ctx):
		e.Auth = "token"
	default:
		e.Auth = "session"
	}
}

// auditResult fills status, result and count from a JSON answer
// ({"error": ...}, {"purged": N}).
func auditResult(ctx *fasthttp.RequestCtx, e *AuditEvent) {
	e.Status = ctx.Response.StatusCode()
	var body struct {
		Error   string `json:"error"`
		Purged  int    `json:"purged"`
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	// An answer that is not JSON leaves the fields empty.
	_ = json.Unmarshal(ctx.Response.Body(), &body) //nolint:errcheck // see above
	e.Count = body.Purged
	switch {
	case body.Error != "":
		e.Result = body.Error
	case e.Status >= 400:
		e.Result = strings.TrimSpace(string(ctx.Response.Body()))
	default:
		e.Result = "ok"
	}
	if body.Version != "" && strings.HasPrefix(e.Action, "policy_") {
		e.Target += "@" + body.Version
	}
}

// auditAdmin records a state-changing admin request once it is answered.
// GET and HEAD change nothing and are not recorded.
func (g *Gateway) auditAdmin(ctx *fasthttp.RequestCtx, path string) {
	if ctx.IsGet() || ctx.IsHead() || ctx.IsOptions() {
		return
	}
	e := AuditEvent{Time: time.Now().UTC()}
	g.auditActor(ctx, &e)
	switch {
	case path == "/purge":
		e.Action, e.Target = "purge", string(ctx.PostBody())
		if string(ctx.QueryArgs().Peek("soft")) == "1" {
			e.Action = "purge_soft"
		}
	case path == "/reload":
		e.Action = "reload"
	case path == "/logout":
		e.Action = "logout"
	case strings.HasPrefix(path, "/policies/"):
		name, sub, _ := strings.Cut(strings.TrimPrefix(path, "/policies/"), "/")
		e.Target = name
		switch {
		case sub == "rollback":
			e.Action = "policy_rollback"
		case sub != "":
			e.Action = "policy_" + sub // shadow, canary, promote, discard
		case ctx.IsPut() && len(ctx.QueryArgs().Peek("mode")) > 0:
			e.Action = "policy_stage"
		case ctx.IsPut():
			e.Action = "policy_upload"
		case ctx.IsDelete():
			e.Action = "policy_delete"
		}
	}
	if e.Action == "" {
		e.Action = string(ctx.Method()) + " " + path
		e.Target = string(ctx.QueryArgs().QueryString())
	}
	auditResult(ctx, &e)
	g.audit.record(e)
}

// auditPurge records a data-plane PURGE once it is answered, when it was
// allowed (a refused one changed nothing).
func (g *Gateway) auditPurge(ctx *fasthttp.RequestCtx) {
	if ctx.Response.StatusCode() == fasthttp.StatusForbidden {
		return
	}
	e := AuditEvent{Time: time.Now().UTC(), Action: "purge_url"}
	g.auditActor(ctx, &e)
	h := &ctx.Request.Header
	if tags := peekRequest(h, "surrogate-key"); len(trimOWS(tags)) > 0 {
		e.Action, e.Target = "purge_tags", string(trimOWS(tags))
	} else {
		e.Target = string(h.Host()) + string(h.RequestURI())
	}
	_, softParam := cutSoftParam(ctx.Request.URI().QueryString())
	if softParam || string(trimOWS(peekRequest(h, "fastly-soft-purge"))) == "1" {
		e.Action += "_soft"
	}
	auditResult(ctx, &e)
	g.audit.record(e)
}

// handleAudit answers GET /audit[?n=100][&scope=node]: the newest n (1 to
// 1000) audit events, of every node from the Redis stream when Redis is
// configured ("source":"fleet"), else or with scope=node, or when Redis
// fails (with "error"), of this node ("source":"node").
func (g *Gateway) handleAudit(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() {
		adminMethodNotAllowed(ctx, "GET")
		return
	}
	n := 100
	if s := ctx.QueryArgs().Peek("n"); s != nil {
		v, err := strconv.Atoi(string(s))
		if err != nil || v < 1 || v > auditRingSize {
			adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("n: must be an integer from 1 to %d, got %q", auditRingSize, s))
			return
		}
		n = v
	}
	scope := string(ctx.QueryArgs().Peek("scope"))
	if scope != "" && scope != "node" && scope != "fleet" {
		adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("scope: must be node or fleet, got %q", scope))
		return
	}
	out := map[string]any{"node": g.audit.node}
	if g.audit.client != nil && scope != "node" {
		events, err := g.audit.fleet(ctx, n)
		if err == nil {
			out["source"], out["events"] = "fleet", events
			adminJSON(ctx, fasthttp.StatusOK, out)
			return
		}
		out["error"] = err.Error()
	} else if scope == "fleet" {
		out["error"] = errors.New("audit: no [redis]: this node's events only").Error()
	}
	out["source"], out["events"] = "node", g.audit.local(n)
	adminJSON(ctx, fasthttp.StatusOK, out)
}
