package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/l2"
	"github.com/flowcache/flowcache/policy"
)

// purgeRequest is the body of POST /purge on the admin API. Exactly one of
// URLs, Tags, Prefix and All is given.
type purgeRequest struct {
	// URLs purges every variant of each URL (absolute: http://host/path?q),
	// as PURGE on the data plane does.
	URLs []string `json:"urls"`
	// Tags purges every response tagged (Surrogate-Key) with one of them.
	Tags []string `json:"tags"`
	// Prefix purges every URL of Host whose path (and query) starts with it.
	Prefix string `json:"prefix"`
	// Host is the host of Prefix; omitted, the exact hosts of the routes
	// (refused when a route serves any host).
	Host string `json:"host"`
	// All purges everything, by moving to a new generation.
	All bool `json:"all"`
	// Soft marks the entries stale instead of removing them; "?soft=1" on
	// the URL does the same.
	Soft bool `json:"soft"`
	// Refresh, with Soft, revalidates the purged entries this node's L1
	// holds in the background (refresh.go).
	Refresh bool `json:"refresh"`
}

// purgePlan is a parsed POST /purge: the invalidations or the URLs to
// purge, and whether to refresh them after.
type purgePlan struct {
	invs    []l2.Invalidation
	urls    []purgeURLTarget
	refresh bool
}

// errPurgeBody is the admin API's answer to a bad POST /purge body.
var errPurgeBody = errors.New("gateway: purge")

// handlePurgeAPI answers POST /purge (the caller has checked the admin
// token): {"urls": [...]}, {"tags": [...]}, {"prefix": "/p", "host": "h"}
// or {"all": true}, each optionally with "soft": true (and then "refresh":
// true). The purge is applied to this node's L1, to L2, and published to
// every node. The answer is 200 {"purged":N} (with "refresh" when asked),
// 400 for a bad body, 503 with "error" when L2 failed (L1 was purged).
func (g *Gateway) handlePurgeAPI(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		ctx.Error("method not allowed\n", fasthttp.StatusMethodNotAllowed)
		return
	}
	g.gm.purges.Inc()
	plan, err := g.parsePurgeRequest(ctx.PostBody(), string(ctx.QueryArgs().Peek("soft")) == "1")
	if err != nil {
		ctx.SetContentType("application/json")
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		b, _ := json.Marshal(map[string]string{"error": err.Error()}) // a map of strings always encodes
		ctx.SetBody(append(b, '\n'))
		return
	}
	n := 0
	var errs []error
	for _, inv := range plan.invs {
		m, err := g.purgeEverywhere(inv)
		n += m
		if err != nil {
			errs = append(errs, err)
		}
	}
	for i := range plan.urls {
		m, err := g.purgeTarget(&plan.urls[i])
		n += m
		if err != nil {
			errs = append(errs, err)
		}
	}
	g.gm.purged.Add(n)
	err = errors.Join(errs...)
	status := fasthttp.StatusOK
	if err != nil {
		status = fasthttp.StatusServiceUnavailable
		g.log.LogAttrs(ctx, warnLevel, "purge_l2_failed", errAttr(err))
	}
	body := appendPurgeResult(nil, n, err)
	if plan.refresh {
		body = g.refreshAfterPurge(ctx, &plan, body)
	}
	ctx.SetContentType("application/json")
	ctx.SetStatusCode(status)
	ctx.SetBody(body)
}

// parsePurgeRequest decodes a POST /purge body into the invalidations to
// apply (a prefix purge without host: one per route host), or the URLs.
func (g *Gateway) parsePurgeRequest(body []byte, soft bool) (purgePlan, error) {
	var req purgeRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return purgePlan{}, fmt.Errorf("%w: body: %w", errPurgeBody, err)
	}
	soft = soft || req.Soft
	if req.Refresh && !soft {
		return purgePlan{}, fmt.Errorf(`%w: "refresh" goes with "soft": a hard purge leaves nothing to revalidate`, errPurgeBody)
	}
	plan := purgePlan{refresh: req.Refresh}
	forms := 0
	if len(req.Tags) > 0 {
		forms++
	}
	if req.Prefix != "" {
		forms++
	}
	if req.All {
		forms++
	}
	if len(req.URLs) > 0 {
		forms++
	}
	if forms != 1 {
		return purgePlan{}, fmt.Errorf(`%w: give exactly one of "urls", "tags", "prefix" and "all"`, errPurgeBody)
	}
	switch {
	case len(req.URLs) > 0:
		var err error
		plan.urls, err = g.parsePurgeURLs(req.URLs, soft)
		return plan, err
	case req.All:
		plan.invs = []l2.Invalidation{{Kind: l2.KindAll, Soft: soft}}
		return plan, nil
	case len(req.Tags) > 0:
		for i, t := range req.Tags {
			if t == "" || strings.ContainsAny(t, " \t,") {
				return purgePlan{}, fmt.Errorf("%w: tags[%d]: %q is not one surrogate key", errPurgeBody, i, t)
			}
		}
		plan.invs = []l2.Invalidation{{Kind: l2.KindTag, Tags: req.Tags, Soft: soft}}
		return plan, nil
	}
	if !strings.HasPrefix(req.Prefix, "/") || strings.IndexByte(req.Prefix, 0) >= 0 {
		return purgePlan{}, fmt.Errorf(`%w: prefix: must start with "/"`, errPurgeBody)
	}
	var hosts []string
	if req.Host != "" {
		// The host as keys hold it (see canonicalRequest).
		h, err := normalHost(nil, []byte(req.Host))
		if err != nil {
			return purgePlan{}, fmt.Errorf("%w: host: %q is not a host name or IP literal", errPurgeBody, req.Host)
		}
		hosts = []string{string(h)}
	} else {
		for _, rt := range g.currentRoutes() {
			if rt.cfg.Host == "*" {
				return purgePlan{}, fmt.Errorf(`%w: host: required, route %q serves any host`, errPurgeBody, rt.cfg.Name)
			}
			h := normalRouteHost(rt.cfg.Host)
			if !contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	plan.invs = make([]l2.Invalidation, 0, len(hosts))
	for _, h := range hosts {
		plan.invs = append(plan.invs, l2.Invalidation{Kind: l2.KindPrefix, Host: h, Path: req.Prefix, Soft: soft})
	}
	return plan, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// purgeURLTarget is one URL of a POST /purge, parsed and routed.
type purgeURLTarget struct {
	rt                        *route
	scheme, host, path, query []byte
	soft                      bool
}

// maxPurgeURLs bounds the URLs of one POST /purge.
const maxPurgeURLs = 10000

// parsePurgeURLs parses and routes the "urls" of a POST /purge: each an
// absolute http or https URL whose host and path a route serves, taken in
// their normal form as a request's would be.
func (g *Gateway) parsePurgeURLs(raw []string, soft bool) ([]purgeURLTarget, error) {
	if len(raw) > maxPurgeURLs {
		return nil, fmt.Errorf("%w: urls: %d URLs, at most %d at once", errPurgeBody, len(raw), maxPurgeURLs)
	}
	routes := g.st.Load().router
	out := make([]purgeURLTarget, 0, len(raw))
	for i, u := range raw {
		t, err := parseAbsoluteURL(u)
		if err != nil {
			return nil, fmt.Errorf("%w: urls[%d]: %w", errPurgeBody, i, err)
		}
		if t.rt = routes.matchNormal(t.host, t.path); t.rt == nil {
			return nil, fmt.Errorf("%w: urls[%d]: no route serves %q", errPurgeBody, i, u)
		}
		t.soft = soft
		out = append(out, t)
	}
	return out, nil
}

// parseAbsoluteURL splits an absolute http or https URL into its scheme,
// normal host, normal path and query (the fragment dropped).
func parseAbsoluteURL(u string) (purgeURLTarget, error) {
	var t purgeURLTarget
	scheme, rest, ok := strings.Cut(u, "://")
	switch strings.ToLower(scheme) {
	case "http", "https":
	default:
		ok = false
	}
	if !ok {
		return t, fmt.Errorf("%q is not an absolute http or https URL", u)
	}
	t.scheme = []byte(strings.ToLower(scheme))
	rest, _, _ = strings.Cut(rest, "#")
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	host, err := normalHost(nil, []byte(rest[:end]))
	if err != nil {
		return t, fmt.Errorf("%q: host is not a host name or IP literal", u)
	}
	target := rest[end:]
	path, query, _ := strings.Cut(target, "?")
	if path == "" {
		path = "/"
	}
	np, err := normalPath(nil, []byte(path))
	if err != nil {
		return t, fmt.Errorf("%q: path: %w", u, err)
	}
	t.host, t.path, t.query = host, np, []byte(query)
	return t, nil
}

// purgeTarget purges one URL of a POST /purge (see purgeURL); the policy
// sees no request header.
func (g *Gateway) purgeTarget(t *purgeURLTarget) (int, error) {
	return g.purgeURL(&policy.Request{Scheme: t.scheme}, t.rt, t.host, t.path, t.query, t.soft)
}
