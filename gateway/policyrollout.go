package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/l2"
	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// # Rollouts: shadow, canary, promote, discard
//
//	PUT  /policies/NAME?mode=shadow[&sample=10%]  stage the uploaded version
//	PUT  /policies/NAME?mode=canary[&share=5%]    (JSON wrapper: "mode", "share")
//	GET  /policies/NAME/shadow[?scope=cluster]    what the shadow run found (this node; with
//	                                              scope=cluster, also every node's counters)
//	POST /policies/NAME/shadow   {"sample": "10%"}  the shadow's sample
//	POST /policies/NAME/canary   {"share": "25%"}   the canary's share (a shadow becomes a canary)
//	POST /policies/NAME/promote                   the candidate becomes the active version
//	POST /policies/NAME/discard                   the candidate is dropped
//
// Every change is shared through Redis like an activation. See
// plugins.Store.Stage and the package doc of plugins ("Rollouts").

// RequestPolicySource is a PolicySource that may pick a version per
// request: a canary serves the requests whose host and path fall in its
// share ([plugins.Store] implements it). Both methods must not allocate.
type RequestPolicySource interface {
	PolicySource
	// PolicyFor is Policy for a request with host and path.
	PolicyFor(name string, host, path []byte) (policy.Policy, bool)
	// Canary returns the canary of name, if one runs.
	Canary(name string) (policy.Policy, bool)
}

// Interface guard.
var _ RequestPolicySource = (*plugins.Store)(nil)

// policyForRequest is policyFor for a request with host and path.
func (g *Gateway) policyForRequest(rt *route, host, path []byte) policy.Policy {
	if rt.cfg.Policy == "default" {
		return &rt.def
	}
	g.waitLoaded()
	if rs, ok := g.policies.(RequestPolicySource); ok {
		if p, ok := rs.PolicyFor(rt.cfg.Policy, host, path); ok && p != nil {
			return p
		}
		rt.m.policyFallbacks.Inc()
		return &rt.def
	}
	return g.policyFor(rt)
}

// canaryFor returns the canary of rt's policy, if one runs.
func (g *Gateway) canaryFor(rt *route) (policy.Policy, bool) {
	if rt.cfg.Policy == "default" {
		return nil, false
	}
	if rs, ok := g.policies.(RequestPolicySource); ok {
		return rs.Canary(rt.cfg.Policy)
	}
	return nil, false
}

// Default shares of a staged version when the upload names none.
const (
	defaultShadowSample = plugins.Share(1000) // 10%
	defaultCanaryShare  = plugins.Share(500)  // 5%
)

// stageParams reads the mode and share of an upload: the query's mode and
// share (or sample), else the JSON wrapper's. It reports false without a
// mode (a plain upload).
func stageParams(ctx *fasthttp.RequestCtx, w *uploadWrapper) (plugins.Mode, plugins.Share, bool, error) {
	mode, share := string(ctx.QueryArgs().Peek("mode")), string(ctx.QueryArgs().Peek("share"))
	if share == "" {
		share = string(ctx.QueryArgs().Peek("sample"))
	}
	if w != nil {
		if mode == "" {
			mode = w.Mode
		}
		if share == "" {
			share = w.Share
		}
	}
	if mode == "" {
		if share != "" {
			return "", 0, false, errors.New("upload: share or sample without mode (want mode=shadow or mode=canary)")
		}
		return "", 0, false, nil
	}
	m := plugins.Mode(mode)
	if m != plugins.ModeShadow && m != plugins.ModeCanary {
		return "", 0, false, fmt.Errorf("upload: mode %q (want shadow or canary)", mode)
	}
	if share == "" {
		if m == plugins.ModeShadow {
			return m, defaultShadowSample, true, nil
		}
		return m, defaultCanaryShare, true, nil
	}
	s, err := plugins.ParseShare(share)
	if err != nil {
		return "", 0, false, fmt.Errorf("upload: %w", err)
	}
	return m, s, true, nil
}

// stagedResult is the answer of a staged upload.
type stagedResult struct {
	plugins.Result
	Mode  plugins.Mode  `json:"mode"`
	Share plugins.Share `json:"share"`
}

// policyRollout serves /policies/NAME/{shadow,canary,promote,discard}.
func (g *Gateway) policyRollout(ctx *fasthttp.RequestCtx, name, sub string) {
	if sub == "shadow" && ctx.IsGet() {
		rep, err := g.pstore.Shadow(name)
		if err != nil {
			adminError(ctx, policyStatus(err), err)
			return
		}
		switch scope := string(ctx.QueryArgs().Peek("scope")); scope {
		case "", "node":
			adminJSON(ctx, fasthttp.StatusOK, rep)
		case "cluster":
			ps := g.policySyncer()
			if ps == nil {
				adminError(ctx, fasthttp.StatusBadRequest, errors.New("shadow: scope=cluster needs [redis]: this node reports its own traffic only"))
				return
			}
			cl, err := ps.readShadows(context.Background(), name, rep.Candidate)
			if err != nil {
				adminError(ctx, fasthttp.StatusServiceUnavailable, fmt.Errorf("shadow: %w", err))
				return
			}
			adminJSON(ctx, fasthttp.StatusOK, struct {
				plugins.ShadowReport
				Cluster shadowCluster `json:"cluster"`
			}{rep, cl})
		default:
			adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("shadow: scope %q (want node or cluster)", scope))
		}
		return
	}
	if !ctx.IsPost() {
		allow := "POST"
		if sub == "shadow" {
			allow = "GET, POST"
		}
		adminMethodNotAllowed(ctx, allow)
		return
	}
	var err error
	switch sub {
	case "shadow", "canary":
		var req struct {
			Share  string `json:"share"`
			Sample string `json:"sample"`
		}
		if err := decodeStrict(ctx.PostBody(), &req); err != nil {
			adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("%s: body: %w (want {\"share\": \"25%%\"})", sub, err))
			return
		}
		if req.Share == "" {
			req.Share = req.Sample
		}
		share, perr := plugins.ParseShare(req.Share)
		if perr != nil {
			adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("%s: %w", sub, perr))
			return
		}
		err = g.pstore.SetShare(name, plugins.Mode(sub), share)
	case "promote":
		_, err = g.pstore.Promote(name)
	case "discard":
		err = g.pstore.Discard(name)
	}
	if err != nil {
		adminError(ctx, policyStatus(err), err)
		return
	}
	g.PolicyChanged(plugins.Event{})
	in, ok := g.pstore.Get(name)
	if !ok {
		adminError(ctx, fasthttp.StatusNotFound, fmt.Errorf("policy %q: %w", name, plugins.ErrNotFound))
		return
	}
	adminJSON(ctx, fasthttp.StatusOK, g.policyView(in))
}

// decodeStrict decodes a JSON object with no unknown field; an empty body
// is an error.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty")
		}
		return err
	}
	return nil
}

// writeRolloutMetrics writes the rollout families of every policy, one
// family after the other (annotate adds their HELP and TYPE).
func writeRolloutMetrics(w io.Writer, infos []plugins.Info) {
	counters := [...]struct {
		name  string
		value func(*plugins.Info) uint64
	}{
		{"flowcache_policy_shadow_calls_total", func(in *plugins.Info) uint64 { return in.Rollout.ShadowCalls }},
		{"flowcache_policy_shadow_key_diffs_total", func(in *plugins.Info) uint64 { return in.Rollout.ShadowKeyDiffs }},
		{"flowcache_policy_shadow_decision_diffs_total", func(in *plugins.Info) uint64 { return in.Rollout.ShadowDecisionDiffs }},
		{"flowcache_policy_shadow_errors_total", func(in *plugins.Info) uint64 { return in.Rollout.ShadowErrors }},
		{"flowcache_policy_shadow_dropped_total", func(in *plugins.Info) uint64 { return in.Rollout.ShadowDropped }},
	}
	for _, c := range counters {
		for i := range infos {
			fmt.Fprintf(w, "%s{policy=%q} %d\n", c.name, infos[i].Name, c.value(&infos[i]))
		}
	}
	for i := range infos {
		share := 0.0
		if c := infos[i].Candidate; c != nil && c.Mode == plugins.ModeCanary {
			share = float64(c.Share) / float64(plugins.FullShare)
		}
		fmt.Fprintf(w, "flowcache_policy_canary_share_ratio{policy=%q} %g\n", infos[i].Name, share)
	}
	for i := range infos {
		for _, kind := range []string{"failure_rate", "fallback_rate"} {
			fmt.Fprintf(w, "flowcache_policy_rollbacks_total{policy=%q,reason=%q} %d\n", infos[i].Name, kind, infos[i].Rollout.Rollbacks[kind])
		}
	}
}

// # Shadow runs across nodes
//
// Each node reports its own traffic in GET /policies/NAME/shadow. With
// Redis, every shadowPublishTicks scans (about a second) a node also writes
// the counters of each shadow run it has into the hash
// <prefix>policy:shadow:<name>:<candidate id[:12]>, field <node id>, value
// a shadowSummary (sealed like the policy events), expiring an hour after
// the last write. ?scope=cluster adds the sum over the nodes that wrote in
// the last shadowSummaryMaxAge.

const (
	shadowPublishTicks   = 10 // of localScanInterval
	shadowSummaryTTL     = time.Hour
	shadowSummaryMaxAge  = 30 * time.Second
	maxShadowSummarySize = 4 << 10
)

// shadowSummary is one node's counters of a shadow run.
type shadowSummary struct {
	Node          string    `json:"node"`
	At            time.Time `json:"at"`
	Sampled       uint64    `json:"sampled"`
	Dropped       uint64    `json:"dropped"`
	Calls         uint64    `json:"calls"`
	KeyDiffs      uint64    `json:"key_diffs"`
	DecisionDiffs uint64    `json:"decision_diffs"`
	Errors        uint64    `json:"errors"`
	ActiveErrors  uint64    `json:"active_errors"`
	NsPerCall     float64   `json:"ns_per_call"`
	FuelPerCall   float64   `json:"fuel_per_call"`
}

// shadowCluster is the ?scope=cluster part of a shadow report.
type shadowCluster struct {
	// Nodes are the summaries of the nodes that wrote recently (this one
	// included), Total their sum (means weighted by calls).
	Nodes []shadowSummary `json:"nodes"`
	Total shadowSummary   `json:"total"`
}

// publishShadows writes this node's summary of every shadow run.
func (p *policySync) publishShadows(ctx context.Context) {
	for _, in := range p.store.List() {
		if in.Candidate == nil || in.Candidate.Mode != plugins.ModeShadow {
			continue
		}
		rep, err := p.store.Shadow(in.Name)
		if err != nil || len(rep.Candidate) < 12 {
			continue // ended meanwhile
		}
		sum := shadowSummary{
			Node: p.node, At: time.Now().UTC(), Sampled: rep.Sampled, Dropped: rep.Dropped, Calls: rep.Calls,
			KeyDiffs: rep.KeyDiffs, DecisionDiffs: rep.DecisionDiffs, Errors: rep.Errors, ActiveErrors: rep.ActiveErrors,
			NsPerCall: rep.NsPerCall, FuelPerCall: rep.FuelPerCall,
		}
		b, err := json.Marshal(sum)
		if err != nil {
			continue
		}
		key := p.kShadow + in.Name + ":" + rep.Candidate[:12]
		octx, cancel := context.WithTimeout(ctx, syncOpTimeout)
		_, err = p.client.TxPipelined(octx, func(pipe redis.Pipeliner) error {
			pipe.HSet(octx, key, p.node, p.signer.Seal(nil, l2.DomainPolicy, b))
			pipe.Expire(octx, key, shadowSummaryTTL)
			return nil
		})
		cancel()
		if err != nil {
			p.redisFailed(ctx, fmt.Errorf("redis HSET %s: %w", key, err))
			return
		}
	}
}

// readShadows returns the recent summaries of the shadow run of candidate
// (its id) of name, and their sum.
func (p *policySync) readShadows(ctx context.Context, name, candidate string) (shadowCluster, error) {
	out := shadowCluster{Nodes: []shadowSummary{}}
	if len(candidate) < 12 {
		return out, nil
	}
	octx, cancel := context.WithTimeout(ctx, syncOpTimeout)
	defer cancel()
	key := p.kShadow + name + ":" + candidate[:12]
	fields, err := p.client.HGetAll(octx, key).Result()
	if err != nil {
		return out, fmt.Errorf("redis HGETALL %s: %w", key, err)
	}
	var ns, fuel float64
	for _, node := range slices.Sorted(maps.Keys(fields)) {
		v := fields[node]
		if len(v) > maxShadowSummarySize {
			continue
		}
		msg, err := p.signer.Open(l2.DomainPolicy, []byte(v))
		if err != nil {
			continue // not sealed by a node: not shown
		}
		var s shadowSummary
		if json.Unmarshal(msg, &s) != nil || s.Node != node || time.Since(s.At) > shadowSummaryMaxAge {
			continue
		}
		out.Nodes = append(out.Nodes, s)
		t := &out.Total
		t.Sampled += s.Sampled
		t.Dropped += s.Dropped
		t.Calls += s.Calls
		t.KeyDiffs += s.KeyDiffs
		t.DecisionDiffs += s.DecisionDiffs
		t.Errors += s.Errors
		t.ActiveErrors += s.ActiveErrors
		ns += s.NsPerCall * float64(s.Calls)
		fuel += s.FuelPerCall * float64(s.Calls)
	}
	if out.Total.Calls > 0 {
		out.Total.NsPerCall = ns / float64(out.Total.Calls)
		out.Total.FuelPerCall = fuel / float64(out.Total.Calls)
	}
	return out, nil
}

// policySyncer returns the Redis policy sync, nil without one.
func (g *Gateway) policySyncer() *policySync { return g.psync }
