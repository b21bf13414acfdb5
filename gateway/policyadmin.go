package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/plugins"
)

// # Policy admin API
//
//	PUT    /policies/NAME           body: the .wasm bytes (config: ?config=JSON),
//	                                or {"module": base64, "config": {...}}
//	GET    /policies                every policy
//	GET    /policies/NAME           one policy
//	POST   /policies/NAME/rollback  body: empty (previous) or {"version": "..."}
//	POST   /policies/NAME/key       the key and decision of a version, see policykey.go
//	DELETE /policies/NAME           refused (409) while a route uses NAME;
//	                                with Redis, a tombstone reaches every node
//	POST   /reload                  see Gateway.Reload
//
// and the rollout endpoints of policyrollout.go (?mode=shadow|canary,
// /shadow, /canary, /promote, /discard).
//
// Answers are JSON; errors are {"error": "..."} with the status of
// policyStatus.

// handlePolicies serves /policies and /policies/NAME[/rollback]; path is
// the request path.
func (g *Gateway) handlePolicies(ctx *fasthttp.RequestCtx, path string) {
	if g.pstore == nil {
		adminError(ctx, fasthttp.StatusNotImplemented, errors.New("gateway: no policy store"))
		return
	}
	if path == "/policies" {
		if !ctx.IsGet() {
			adminMethodNotAllowed(ctx, "GET")
			return
		}
		infos := g.pstore.List()
		out := make([]policyView, 0, len(infos))
		for _, in := range infos {
			out = append(out, g.policyView(in))
		}
		adminJSON(ctx, fasthttp.StatusOK, map[string]any{"policies": out})
		return
	}
	rest := strings.TrimPrefix(path, "/policies/")
	name, sub, _ := strings.Cut(rest, "/")
	if !ValidPolicyName(name) {
		adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("invalid policy name %q (1 to 64 of a-z, 0-9, _; not \"default\")", name))
		return
	}
	switch {
	case sub == "rollback":
		if !ctx.IsPost() {
			adminMethodNotAllowed(ctx, "POST")
			return
		}
		g.policyRollback(ctx, name)
	case sub == "shadow" || sub == "canary" || sub == "promote" || sub == "discard":
		g.policyRollout(ctx, name, sub)
	case sub == "key":
		if !ctx.IsPost() {
			adminMethodNotAllowed(ctx, "POST")
			return
		}
		g.policyKey(ctx, name) // policykey.go
	case sub != "":
		adminError(ctx, fasthttp.StatusNotFound, errors.New("not found"))
	case ctx.IsGet():
		in, ok := g.pstore.Get(name)
		if !ok {
			adminError(ctx, fasthttp.StatusNotFound, fmt.Errorf("policy %q: %w", name, plugins.ErrNotFound))
			return
		}
		adminJSON(ctx, fasthttp.StatusOK, g.policyView(in))
	case ctx.IsPut():
		g.policyPut(ctx, name)
	case ctx.IsDelete():
		g.policyDelete(ctx, name)
	default:
		adminMethodNotAllowed(ctx, "GET, PUT, DELETE")
	}
}

// policyView is a policy as the admin API shows it: the store's view and
// the routes of the running configuration that use it.
type policyView struct {
	plugins.Info
	Routes []string `json:"routes"`
}

func (g *Gateway) policyView(in plugins.Info) policyView {
	return policyView{Info: in, Routes: g.routesUsing(in.Name)}
}

func (g *Gateway) routesUsing(name string) []string {
	out := []string{}
	for _, rc := range g.st.Load().cfg.Routes {
		if rc.Policy == name {
			out = append(out, rc.Name)
		}
	}
	return out
}

// uploadWrapper is the JSON form of an upload.
type uploadWrapper struct {
	Module []byte          `json:"module"` // base64 in JSON
	Config json.RawMessage `json:"config"`
	Mode   string          `json:"mode"`  // "shadow" or "canary": stage it (policyrollout.go)
	Share  string          `json:"share"` // "10%"
	// Vectors is the JSON array of golden vectors (plugins.ParseVectors).
	Vectors json.RawMessage `json:"vectors"`
}

func (g *Gateway) policyPut(ctx *fasthttp.RequestCtx, name string) {
	body := ctx.PostBody()
	var wasm []byte
	var rawConfig []byte
	var wrapper *uploadWrapper
	if len(body) > 0 && body[0] == '{' { // "\0asm" starts a module
		var w uploadWrapper
		if err := json.Unmarshal(body, &w); err != nil {
			adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("upload: JSON wrapper: %w (want {\"module\": base64, \"config\": {...}})", err))
			return
		}
		wasm, rawConfig, wrapper = w.Module, w.Config, &w
	} else {
		wasm = body
		if c := ctx.QueryArgs().Peek("config"); c != nil {
			rawConfig = c
		}
	}
	if len(wasm) == 0 {
		adminError(ctx, fasthttp.StatusBadRequest, errors.New("upload: empty module"))
		return
	}
	var config map[string]any
	if len(rawConfig) > 0 && string(rawConfig) != "null" {
		if err := json.Unmarshal(rawConfig, &config); err != nil || config == nil {
			adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("upload: config must be a JSON object: %s", jsonErr(err)))
			return
		}
	}
	if limit := int64(g.pstore.Limits(name).MaxModuleSize); int64(len(wasm)) > limit {
		adminError(ctx, fasthttp.StatusRequestEntityTooLarge,
			fmt.Errorf("plugins: policy %q: %w: %d bytes, max_module_size is %d", name, plugins.ErrTooLarge, len(wasm), limit))
		return
	}
	mode, share, staged, err := stageParams(ctx, wrapper)
	if err != nil {
		adminError(ctx, fasthttp.StatusBadRequest, err)
		return
	}
	up := plugins.Upload{Module: wasm, Config: config}
	if wrapper != nil && len(wrapper.Vectors) > 0 && string(wrapper.Vectors) != "null" {
		up.Vectors = wrapper.Vectors
	}
	if staged {
		up.Mode, up.Share = mode, share
	}
	if g.psync != nil {
		// The other nodes compile the module while this one does.
		g.psync.prefetch(context.Background(), name, wasm)
	}
	res, err := g.pstore.Upload(context.Background(), name, up)
	if err != nil {
		uploadError(ctx, err)
		return
	}
	if staged {
		g.PolicyChanged(plugins.Event{})
		adminJSON(ctx, fasthttp.StatusCreated, stagedResult{Result: res, Mode: mode, Share: share})
		return
	}
	status := fasthttp.StatusCreated
	if !res.Changed {
		status = fasthttp.StatusOK
	}
	adminJSON(ctx, status, res)
}

// vectorFailure is one failing golden vector in a refused upload's answer.
type vectorFailure struct {
	Case int    `json:"case"`
	Name string `json:"name"`
	// Diff lists each field whose expected and actual values differ.
	Diff string `json:"diff"`
}

// uploadError answers a refused upload: with failing vectors, a 422 that
// lists each failing case (expected vs got) beside the error.
func uploadError(ctx *fasthttp.RequestCtx, err error) {
	var vf *plugins.VectorsFailedError
	if !errors.As(err, &vf) {
		adminError(ctx, policyStatus(err), err)
		return
	}
	out := struct {
		Error  string          `json:"error"`
		Total  int             `json:"total"`
		Failed []vectorFailure `json:"failed"`
	}{Error: err.Error(), Total: vf.Total}
	for _, r := range vf.Failed {
		out.Failed = append(out.Failed, vectorFailure{Case: r.Index, Name: r.Name, Diff: r.Diff})
	}
	adminJSON(ctx, fasthttp.StatusUnprocessableEntity, out)
}

func jsonErr(err error) string {
	if err == nil {
		return "got null"
	}
	return err.Error()
}

func (g *Gateway) policyRollback(ctx *fasthttp.RequestCtx, name string) {
	var req struct {
		Version string `json:"version"`
	}
	if body := ctx.PostBody(); len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("rollback: body: %w (want {\"version\": \"...\"} or nothing)", err))
			return
		}
	}
	res, err := g.pstore.Rollback(context.Background(), name, req.Version)
	if err != nil {
		adminError(ctx, policyStatus(err), err)
		return
	}
	adminJSON(ctx, fasthttp.StatusOK, res)
}

func (g *Gateway) policyDelete(ctx *fasthttp.RequestCtx, name string) {
	// Holding reloadMu: a reload cannot add a route using name meanwhile.
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if routes := g.routesUsing(name); len(routes) > 0 {
		adminError(ctx, fasthttp.StatusConflict, fmt.Errorf("policy %q is used by routes %s", name, strings.Join(routes, ", ")))
		return
	}
	if err := g.pstore.Delete(context.Background(), name); err != nil {
		adminError(ctx, policyStatus(err), err)
		return
	}
	adminJSON(ctx, fasthttp.StatusOK, map[string]string{"deleted": name})
}

// policyStatus maps a store error to its status: the load error kinds as
// plugins documents them, 404 for an unknown policy or version, 409 for a
// rollback with no previous version or a concurrent change, 500 for the
// rest (storage).
func policyStatus(err error) int {
	switch {
	case errors.Is(err, plugins.ErrTooLarge):
		return fasthttp.StatusRequestEntityTooLarge
	case errors.Is(err, plugins.ErrMalformed), errors.Is(err, plugins.ErrConfig), errors.Is(err, plugins.ErrVectors):
		return fasthttp.StatusBadRequest
	case errors.Is(err, plugins.ErrImport), errors.Is(err, plugins.ErrExport), errors.Is(err, plugins.ErrABIVersion),
		errors.Is(err, plugins.ErrMemory), errors.Is(err, plugins.ErrInit), errors.Is(err, plugins.ErrDryRun),
		errors.Is(err, plugins.ErrVectorsFailed):
		return fasthttp.StatusUnprocessableEntity
	case errors.Is(err, plugins.ErrNotFound):
		return fasthttp.StatusNotFound
	case errors.Is(err, plugins.ErrNoPrevious), errors.Is(err, plugins.ErrConflict):
		return fasthttp.StatusConflict
	}
	return fasthttp.StatusInternalServerError
}

// adminJSON answers v as JSON with status.
func adminJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		adminError(ctx, fasthttp.StatusInternalServerError, err)
		return
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(append(b, '\n'))
}

// adminError answers {"error": err} with status.
func adminError(ctx *fasthttp.RequestCtx, status int, err error) {
	b, _ := json.Marshal(map[string]string{"error": err.Error()}) // a map of strings always marshals
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(append(b, '\n'))
}

func adminMethodNotAllowed(ctx *fasthttp.RequestCtx, allow string) {
	ctx.Response.Header.Set("Allow", allow)
	adminError(ctx, fasthttp.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed (allowed: %s)", ctx.Method(), allow))
}

// adminBodyLimit bounds admin request bodies: the largest module a policy
// may have, base64-encoded in a JSON wrapper, plus room for its config.
func adminBodyLimit(cfg *Config) int {
	limit := int64(plugins.DefaultMaxModuleSize)
	for _, pc := range cfg.Policies {
		limit = max(limit, int64(pc.MaxModuleSize))
	}
	return int(limit/3*4 + 1<<20)
}

// handleAdminParseError answers an admin request fasthttp could not read
// (a malformed head: 400) in the admin API's JSON. Bodies are read, and
// bounded, by readAdminBody.
func (g *Gateway) handleAdminParseError(ctx *fasthttp.RequestCtx, err error) {
	status := fasthttp.StatusBadRequest
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		status = fasthttp.StatusRequestEntityTooLarge
	}
	adminError(ctx, status, fmt.Errorf("admin: %w", err))
	ctx.SetConnectionClose()
}
