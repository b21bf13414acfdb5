package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// # Rollouts: shadow, canary, promote, discard
//
//	PUT  /policies/NAME?mode=shadow[&sample=10%]  stage the uploaded version
//	PUT  /policies/NAME?mode=canary[&share=5%]    (JSON wrapper: "mode", "share")
//	GET  /policies/NAME/shadow                    what the shadow run found (this node)
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
		adminJSON(ctx, fasthttp.StatusOK, rep)
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
