package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/l2"
)

// purgeRequest is the body of POST /purge on the admin API. Exactly one of
// Tags, Prefix and All is given.
type purgeRequest struct {
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
}

// errPurgeBody is the admin API's answer to a bad POST /purge body.
var errPurgeBody = errors.New("gateway: purge")

// handlePurgeAPI answers POST /purge (the caller has checked the admin
// token): {"tags": [...]}, {"prefix": "/p", "host": "h"} or {"all": true},
// each optionally with "soft": true. The purge is applied to this node's
// L1, to L2, and published to every node. The answer is 200 {"purged":N},
// 400 for a bad body, 503 with "error" when L2 failed (L1 was purged).
func (g *Gateway) handlePurgeAPI(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		ctx.Error("method not allowed\n", fasthttp.StatusMethodNotAllowed)
		return
	}
	g.gm.purges.Inc()
	invs, err := g.parsePurgeRequest(ctx.PostBody(), string(ctx.QueryArgs().Peek("soft")) == "1")
	if err != nil {
		ctx.SetContentType("application/json")
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		b, _ := json.Marshal(map[string]string{"error": err.Error()}) // a map of strings always encodes
		ctx.SetBody(append(b, '\n'))
		return
	}
	n := 0
	var errs []error
	for _, inv := range invs {
		m, err := g.purgeEverywhere(inv)
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
	ctx.SetContentType("application/json")
	ctx.SetStatusCode(status)
	ctx.SetBody(appendPurgeResult(nil, n, err))
}

// parsePurgeRequest decodes a POST /purge body into the invalidations to
// apply (a prefix purge without host: one per route host).
func (g *Gateway) parsePurgeRequest(body []byte, soft bool) ([]l2.Invalidation, error) {
	var req purgeRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("%w: body: %w", errPurgeBody, err)
	}
	soft = soft || req.Soft
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
	if forms != 1 {
		return nil, fmt.Errorf(`%w: give exactly one of "tags", "prefix" and "all"`, errPurgeBody)
	}
	switch {
	case req.All:
		return []l2.Invalidation{{Kind: l2.KindAll, Soft: soft}}, nil
	case len(req.Tags) > 0:
		for i, t := range req.Tags {
			if t == "" || strings.ContainsAny(t, " \t,") {
				return nil, fmt.Errorf("%w: tags[%d]: %q is not one surrogate key", errPurgeBody, i, t)
			}
		}
		return []l2.Invalidation{{Kind: l2.KindTag, Tags: req.Tags, Soft: soft}}, nil
	}
	if !strings.HasPrefix(req.Prefix, "/") || strings.IndexByte(req.Prefix, 0) >= 0 {
		return nil, fmt.Errorf(`%w: prefix: must start with "/"`, errPurgeBody)
	}
	var hosts []string
	if req.Host != "" {
		// The host as keys hold it (see canonicalRequest).
		h, err := normalHost(nil, []byte(req.Host))
		if err != nil {
			return nil, fmt.Errorf("%w: host: %q is not a host name or IP literal", errPurgeBody, req.Host)
		}
		hosts = []string{string(h)}
	} else {
		for _, rt := range g.currentRoutes() {
			if rt.cfg.Host == "*" {
				return nil, fmt.Errorf(`%w: host: required, route %q serves any host`, errPurgeBody, rt.cfg.Name)
			}
			h := normalRouteHost(rt.cfg.Host)
			if !contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	invs := make([]l2.Invalidation, 0, len(hosts))
	for _, h := range hosts {
		invs = append(invs, l2.Invalidation{Kind: l2.KindPrefix, Host: h, Path: req.Prefix, Soft: soft})
	}
	return invs, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
