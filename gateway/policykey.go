package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/policy"
	"github.com/flowcache/flowcache/policy/httpdate"
)

// # POST /policies/NAME/key[?version=ID]
//
// Computes the key, and the decision for a response, that a version of a
// policy (the active one, or ?version=, a full id or a unique prefix of 6
// characters or more) derives for a request, for debugging in production.
// Nothing is fetched or stored. The body:
//
//	{"url": "https://Example.com/a?utm_source=x&b=1",   required, absolute
//	 "method": "GET",                                     default GET
//	 "headers": {"User-Agent": "..."},                    request fields
//	 "response": {"status": 200, "headers": {...}, "body_size": 0}}
//
// The host and path are normalised as the gateway does before a policy
// sees them, and the route is matched. The answer gives the version, the
// route, the normalised request, the key (or bypass), the decision
// (starting from the native default policy's, as the gateway does; for a
// 200 without header fields when the body has no response), and for a
// failed call its error and the fallback the gateway would use.

// policyKeyRequest is the body of POST /policies/NAME/key.
type policyKeyRequest struct {
	URL      string            `json:"url"`
	Method   string            `json:"method"`
	Headers  map[string]string `json:"headers"`
	Response *struct {
		Status   int               `json:"status"`
		Headers  map[string]string `json:"headers"`
		BodySize int64             `json:"body_size"`
	} `json:"response"`
}

// policyKeyAnswer is the answer of POST /policies/NAME/key.
type policyKeyAnswer struct {
	Policy        string             `json:"policy"`
	Version       string             `json:"version"`
	Route         string             `json:"route"`
	Request       policyKeyReqView   `json:"request"`
	Key           policyKeyView      `json:"key"`
	KeyError      string             `json:"key_error,omitempty"`
	Response      policyKeyRespView  `json:"response"`
	Decision      policyDecisionView `json:"decision"`
	DecisionError string             `json:"decision_error,omitempty"`
}

type policyKeyReqView struct {
	Method  string      `json:"method"`
	Scheme  string      `json:"scheme"`
	Host    string      `json:"host"`
	Path    string      `json:"path"`
	Query   string      `json:"query"`
	Headers [][2]string `json:"headers"`
}

type policyKeyRespView struct {
	Status   int         `json:"status"`
	Headers  [][2]string `json:"headers"`
	BodySize int64       `json:"body_size"`
}

// policyKeyView is a key; Fallback says the policy failed and the key is
// the native default policy's, as the gateway would use.
type policyKeyView struct {
	Bypass   bool   `json:"bypass"`
	Host     string `json:"host,omitempty"`
	Target   string `json:"target,omitempty"`
	Variant  string `json:"variant,omitempty"`
	Fallback bool   `json:"fallback,omitempty"`
}

// policyDecisionView is a decision in the vocabulary of ABI.md, section 5,
// and of VECTORS.json.
type policyDecisionView struct {
	Store          bool   `json:"store"`
	Admit          bool   `json:"admit"`
	MustRevalidate bool   `json:"must_revalidate"`
	NoCache        bool   `json:"no_cache"`
	Tier           string `json:"tier"`
	TTL            string `json:"ttl"`
	SWR            string `json:"swr"`
	SIE            string `json:"sie"`
	Fallback       bool   `json:"fallback,omitempty"`
}

// maxPolicyKeyBody bounds the body of POST /policies/NAME/key.
const maxPolicyKeyBody = 64 << 10

func (g *Gateway) policyKey(ctx *fasthttp.RequestCtx, name string) {
	body := ctx.PostBody()
	if len(body) > maxPolicyKeyBody {
		adminError(ctx, fasthttp.StatusRequestEntityTooLarge, fmt.Errorf("key: body over %d bytes", maxPolicyKeyBody))
		return
	}
	var in policyKeyRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("key: body: %w (want {\"url\": \"https://host/path?query\", \"method\", \"headers\", \"response\"})", err))
		return
	}
	req, ans, err := g.policyKeyInput(&in)
	if err != nil {
		adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("key: %w", err))
		return
	}
	resp := &policy.Response{Status: 200, Now: time.Now()}
	if r := in.Response; r != nil {
		if r.Status < 100 || r.Status > 999 {
			adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("key: response.status: want 100 to 999, got %d", r.Status))
			return
		}
		if r.BodySize < -1 {
			adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("key: response.body_size: want -1 (unknown) or more, got %d", r.BodySize))
			return
		}
		resp.Status, resp.BodySize = r.Status, r.BodySize
		hs, err := headerList("response.headers", r.Headers)
		if err != nil {
			adminError(ctx, fasthttp.StatusBadRequest, fmt.Errorf("key: %w", err))
			return
		}
		for _, h := range hs {
			resp.Headers = append(resp.Headers, policy.Header{Name: []byte(h[0]), Value: []byte(h[1])})
			if strings.EqualFold(h[0], "date") {
				if t, ok := httpdate.Parse([]byte(h[1])); ok {
					resp.Now = t
				}
			}
		}
		ans.Response.Headers = hs
	}
	ans.Response.Status, ans.Response.BodySize = resp.Status, resp.BodySize
	if ans.Response.Headers == nil {
		ans.Response.Headers = [][2]string{}
	}
	ans.Policy = name
	version := string(ctx.QueryArgs().Peek("version"))
	err = g.pstore.Evaluate(context.Background(), name, version, func(p policy.Policy, id string) error {
		ans.Version = id
		evaluatePolicy(p, req, resp, ans)
		return nil
	})
	if err != nil {
		adminError(ctx, policyStatus(err), err)
		return
	}
	adminJSON(ctx, fasthttp.StatusOK, ans)
}

// policyKeyInput validates the request of a key body and builds the view
// a policy receives: host and path in the gateway's normal form, the Host
// field first, the route matched.
func (g *Gateway) policyKeyInput(in *policyKeyRequest) (*policy.Request, *policyKeyAnswer, error) {
	u, err := url.Parse(in.URL)
	switch {
	case in.URL == "":
		return nil, nil, errors.New("url: required (an absolute URL, like https://example.com/a?b=1)")
	case err != nil:
		return nil, nil, fmt.Errorf("url: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, nil, fmt.Errorf("url %q: want an absolute http or https URL", in.URL)
	case u.Host == "":
		return nil, nil, fmt.Errorf("url %q: no host", in.URL)
	case u.User != nil || u.Fragment != "":
		return nil, nil, fmt.Errorf("url %q: no user info or fragment in a request target", in.URL)
	}
	method := in.Method
	if method == "" {
		method = fasthttp.MethodGet
	}
	if !validToken(method) {
		return nil, nil, fmt.Errorf("method %q: not a token", method)
	}
	host, err := normalHost(nil, []byte(u.Host))
	if err != nil {
		return nil, nil, fmt.Errorf("url %q: host: %w", in.URL, err)
	}
	rawPath := u.EscapedPath()
	if rawPath == "" {
		rawPath = "/"
	}
	path, err := normalPath(nil, []byte(rawPath))
	if err != nil {
		return nil, nil, fmt.Errorf("url %q: path: %w", in.URL, err)
	}
	hs, err := headerList("headers", in.Headers)
	if err != nil {
		return nil, nil, err
	}
	r := &policy.Request{
		Method: []byte(method), Scheme: []byte(u.Scheme), Host: host, Path: path, Query: []byte(u.RawQuery),
		Headers: policy.Headers{{Name: []byte("Host"), Value: []byte(u.Host)}},
	}
	ans := &policyKeyAnswer{Request: policyKeyReqView{
		Method: method, Scheme: u.Scheme, Host: string(host), Path: string(path), Query: u.RawQuery,
		Headers: [][2]string{{"Host", u.Host}},
	}}
	for _, h := range hs {
		if strings.EqualFold(h[0], "host") {
			return nil, nil, errors.New(`headers["Host"]: the host is the url's`)
		}
		r.Headers = append(r.Headers, policy.Header{Name: []byte(h[0]), Value: []byte(h[1])})
		ans.Request.Headers = append(ans.Request.Headers, h)
	}
	if rt := g.st.Load().router.matchNormal(host, path); rt != nil {
		r.Route = rt.name
		ans.Route = string(rt.name)
	}
	return r, ans, nil
}

// headerList checks a header object and returns it sorted by name (JSON
// objects have no order).
func headerList(field string, m map[string]string) ([][2]string, error) {
	out := make([][2]string, 0, len(m))
	for name, value := range m {
		if !validToken(name) {
			return nil, fmt.Errorf("%s[%q]: not a valid field name", field, name)
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return nil, fmt.Errorf("%s[%q]: value holds CR, LF or NUL", field, name)
		}
		out = append(out, [2]string{name, value})
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out, nil
}

// validToken reports whether s is an RFC 9110 token (a method or a field
// name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// evaluatePolicy runs p's Key and Decide as the gateway does (Decide
// starts from the native default decision; a failed call leaves the
// default's answer) and fills ans.
func evaluatePolicy(p policy.Policy, r *policy.Request, resp *policy.Response, ans *policyKeyAnswer) {
	var def policy.Default
	var k policy.Key
	if err := p.Key(r, &k); err != nil {
		ans.KeyError = err.Error()
		k.Reset()
		_ = def.Key(r, &k) // the native default never fails
		ans.Key.Fallback = true
	}
	ans.Key.Bypass, ans.Key.Host, ans.Key.Target, ans.Key.Variant = k.Bypass, string(k.Host), string(k.Target), string(k.Variant)
	var d policy.Decision
	d.Reset()
	_ = def.Decide(r, resp, &d) // the native default never fails
	saved := d
	if err := p.Decide(r, resp, &d); err != nil {
		ans.DecisionError = err.Error()
		d = saved
		ans.Decision.Fallback = true
	}
	ans.Decision.Store, ans.Decision.Admit, ans.Decision.MustRevalidate, ans.Decision.NoCache = d.Store, d.Admit, d.MustRevalidate, d.NoCache
	ans.Decision.Tier = d.Tier.String()
	ans.Decision.TTL, ans.Decision.SWR, ans.Decision.SIE = d.TTL.String(), d.StaleWhileRevalidate.String(), d.StaleIfError.String()
}
