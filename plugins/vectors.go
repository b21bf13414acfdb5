package plugins

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/flowcache/flowcache/policy"
	"github.com/flowcache/flowcache/policy/httpdate"
)

// Vector limits: a vectors file is an author's test table, not a data set.
const (
	// MaxVectors is the largest number of cases in one vectors file.
	MaxVectors = 10000
	// MaxVectorsSize is the largest vectors file, in bytes.
	MaxVectorsSize = 8 << 20
)

// ErrVectors is wrapped by every error of [ParseVectors]: the vectors
// themselves are wrong, not the module [400].
var ErrVectors = errors.New("invalid vectors")

// VectorsError says which vector, and which of its fields, is wrong.
type VectorsError struct {
	// File names the vectors (a path, or "vectors" for an upload).
	File string
	// Case is the index of the vector in the array, from 0; -1 when the
	// error is about the whole file.
	Case int
	// Name is the vector's name, when it was read before the error.
	Name string
	// Field is the JSON path of the wrong field inside the vector, like
	// "request.headers" or "decision.ttl"; empty for the vector as a whole.
	Field string
	// Err says what is wrong.
	Err error
}

// Error implements error: "FILE: case 3 "name": field: what".
func (e *VectorsError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Case >= 0 {
		fmt.Fprintf(&b, ": case %d", e.Case)
		if e.Name != "" {
			fmt.Fprintf(&b, " %q", e.Name)
		}
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns ErrVectors and the cause.
func (e *VectorsError) Unwrap() []error { return []error{ErrVectors, e.Err} }

// Vector is one golden vector: a request and the key a policy must derive
// for it, and optionally a response and the decision the policy must take.
// See [ParseVectors] for its JSON form.
type Vector struct {
	// Name identifies the vector in reports; unique within a file.
	Name string
	// Request is the request given to Key (and to Decide).
	Request VectorRequest
	// Key is the expected key; nil when only the decision is checked.
	Key *VectorKey
	// Response is the response given to Decide; nil when Decision is.
	Response *VectorResponse
	// Decision holds the expected decision fields; nil when only the key
	// is checked.
	Decision *VectorDecision
}

// VectorRequest is the request of a [Vector], as the gateway hands it to
// a policy: a path starting with "/", the raw query without "?".
type VectorRequest struct {
	// Authority is the host as the vector gives it (the client's Host
	// field); Host is its normal form, which the policy sees: lower case,
	// without port and trailing dot.
	Authority, Host string
	// Method, Scheme, Path, Query and Route are as the policy sees them.
	Method, Scheme, Path, Query, Route string
	// Headers in the order written. The gateway's view holds the Host
	// field; it is added first when the vector has none.
	Headers []VectorHeader
}

// VectorHeader is one header field of a vector.
type VectorHeader struct{ Name, Value string }

// VectorKey is an expected key: bypass, or host, target and variant.
type VectorKey struct {
	Bypass                bool
	Host, Target, Variant string
}

// VectorResponse is the upstream response of a [Vector].
type VectorResponse struct {
	Status   int
	Headers  []VectorHeader
	BodySize int64
}

// VectorDecision holds the expected fields of a decision (ABI.md, section
// 5); a nil field is not compared.
type VectorDecision struct {
	Store, Admit, MustRevalidate, NoCache *bool
	Tier                                  *policy.Tier
	TTL, SWR, SIE                         *time.Duration
}

// vectorNow is the response time of a vector whose response has no valid
// Date field: a fixed instant, so that a vector gives the same result on
// every run.
var vectorNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ParseVectors decodes a vectors file, strictly: an unknown or duplicate
// field, a wrong type, a missing required field or a value the gateway
// would never give a policy is an error naming file, the case (index and
// name) and the field, that wraps [ErrVectors]. The file is a JSON array
// of objects:
//
//	[{"name": "utm parameters are dropped",
//	  "request": {"method": "GET", "host": "example.com", "path": "/a",
//	              "query": "utm_source=x&b=1", "headers": {"Accept": "*/*"}},
//	  "key": {"host": "example.com", "target": "/a?b=1", "variant": ""},
//	  "response": {"status": 200, "headers": {"Cache-Control": "max-age=60"}, "body_size": 512},
//	  "decision": {"store": true, "ttl": "1m", "tier": "both"}}]
//
// name and request are required, and at least one of key and decision.
// request: host and path are required; method defaults to GET, scheme to
// https, query and route to empty. The host is written as a client sends
// it (the Host field, which the policy sees as is) and normalised as the
// gateway does for the policy's host (lower case, no port, no trailing
// dot); the path is given as the gateway passes it (origin form,
// normalised). key is an object (variant optional) or
// the string "bypass". response (required with decision): status defaults
// to 200, body_size to 0 (-1: unknown, a streamed response). decision may
// hold any of store, admit, must_revalidate, no_cache (booleans), tier
// ("both", "l1", "l2"), ttl, swr, sie (a duration string like "90s", or a
// number of milliseconds as in the ABI); only the fields present are
// compared. Header objects keep their order; a name may appear once.
func ParseVectors(file string, data []byte) ([]Vector, error) {
	fileErr := func(err error) error { return &VectorsError{File: file, Case: -1, Err: err} }
	if len(data) > MaxVectorsSize {
		return nil, fileErr(fmt.Errorf("%d bytes, at most %d", len(data), MaxVectorsSize))
	}
	root, err := decodeJSON(data)
	if err != nil {
		return nil, fileErr(err)
	}
	if root.kind != jsonArray {
		return nil, fileErr(fmt.Errorf("want a JSON array of vectors, got %s", root.kind))
	}
	if len(root.arr) > MaxVectors {
		return nil, fileErr(fmt.Errorf("%d vectors, at most %d", len(root.arr), MaxVectors))
	}
	vs := make([]Vector, len(root.arr))
	seen := make(map[string]int, len(root.arr))
	for i := range root.arr {
		p := vectorParser{e: VectorsError{File: file, Case: i}}
		p.vector(&root.arr[i], &vs[i])
		if p.err != nil {
			return nil, p.err
		}
		if j, dup := seen[vs[i].Name]; dup {
			return nil, &VectorsError{File: file, Case: i, Name: vs[i].Name, Field: "name", Err: fmt.Errorf("duplicate of case %d", j)}
		}
		seen[vs[i].Name] = i
	}
	return vs, nil
}

// vectorParser reads one vector; the first error stops it.
type vectorParser struct {
	e   VectorsError
	err error
}

func (p *vectorParser) fail(field string, format string, args ...any) {
	if p.err != nil {
		return
	}
	e := p.e
	e.Field, e.Err = field, fmt.Errorf(format, args...)
	p.err = &e
}

// object calls fn for each member of n, an object, and fails on a name
// that fn does not know (fn returns false).
func (p *vectorParser) object(field string, n *jsonNode, fn func(name string, v *jsonNode) bool) {
	if n.kind != jsonObject {
		p.fail(field, "want an object, got %s", n.kind)
		return
	}
	for i := range n.obj {
		m := &n.obj[i]
		if !fn(m.name, &m.val) && p.err == nil {
			p.fail(join(field, m.name), "unknown field")
		}
		if p.err != nil {
			return
		}
	}
}

func join(field, name string) string {
	if field == "" {
		return name
	}
	return field + "." + name
}

func (p *vectorParser) str(field string, n *jsonNode) string {
	if n.kind != jsonString {
		p.fail(field, "want a string, got %s", n.kind)
	}
	return n.str
}

func (p *vectorParser) boolean(field string, n *jsonNode) *bool {
	if n.kind != jsonBool {
		p.fail(field, "want true or false, got %s", n.kind)
		return nil
	}
	b := n.b
	return &b
}

func (p *vectorParser) integer(field string, n *jsonNode, lo, hi int64) int64 {
	if n.kind != jsonNumber {
		p.fail(field, "want an integer, got %s", n.kind)
		return 0
	}
	v, err := strconv.ParseInt(n.str, 10, 64)
	if err != nil || v < lo || v > hi {
		p.fail(field, "want an integer from %d to %d, got %s", lo, hi, n.str)
	}
	return v
}

func (p *vectorParser) duration(field string, n *jsonNode) *time.Duration {
	var d time.Duration
	switch n.kind {
	case jsonNumber:
		ms := p.integer(field, n, 0, int64(time.Duration(1<<62)/time.Millisecond))
		d = time.Duration(ms) * time.Millisecond
	case jsonString:
		var err error
		if d, err = time.ParseDuration(n.str); err != nil || d < 0 {
			p.fail(field, "want a duration like \"90s\" or a number of milliseconds, got %q", n.str)
		} else if d%time.Millisecond != 0 {
			p.fail(field, "%q is not a whole number of milliseconds (the ABI's unit)", n.str)
		}
	default:
		p.fail(field, "want a duration like \"90s\" or a number of milliseconds, got %s", n.kind)
	}
	return &d
}

func (p *vectorParser) headers(field string, n *jsonNode) []VectorHeader {
	var hs []VectorHeader
	p.object(field, n, func(name string, v *jsonNode) bool {
		f := field + "[" + strconv.Quote(name) + "]"
		if !validFieldName(name) {
			p.fail(f, "not a valid header field name")
		}
		for _, h := range hs {
			if strings.EqualFold(h.Name, name) {
				p.fail(f, "repeats %q (write a list in one value)", h.Name)
			}
		}
		value := p.str(f, v)
		if strings.ContainsAny(value, "\r\n\x00") {
			p.fail(f, "value holds CR, LF or NUL")
		}
		hs = append(hs, VectorHeader{Name: name, Value: value})
		return true
	})
	return hs
}

// validFieldName reports whether s is an RFC 9110 token.
func validFieldName(s string) bool {
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

func (p *vectorParser) vector(n *jsonNode, v *Vector) {
	var req, key, resp, dec *jsonNode
	if n.kind == jsonObject {
		for i := range n.obj { // the name first, for the errors that follow
			if n.obj[i].name == "name" && n.obj[i].val.kind == jsonString {
				p.e.Name = n.obj[i].val.str
			}
		}
	}
	p.object("", n, func(name string, val *jsonNode) bool {
		switch name {
		case "name":
			v.Name = p.str("name", val)
			if p.err == nil && strings.TrimSpace(v.Name) == "" {
				p.fail("name", "empty")
			}
		case "request":
			req = val
		case "key":
			key = val
		case "response":
			resp = val
		case "decision":
			dec = val
		default:
			return false
		}
		return true
	})
	switch {
	case p.err != nil:
		return
	case v.Name == "":
		p.fail("name", "required")
	case req == nil:
		p.fail("request", "required")
	case key == nil && dec == nil:
		p.fail("", "want a key, a decision or both")
	case dec != nil && resp == nil:
		p.fail("response", "required with decision (decide needs a response)")
	case resp != nil && dec == nil:
		p.fail("decision", "required with response (what should the policy decide?)")
	}
	if p.err != nil {
		return
	}
	p.request(req, &v.Request)
	if key != nil {
		v.Key = p.key(key)
	}
	if resp != nil {
		v.Response = p.response(resp)
		v.Decision = p.decision(dec)
	}
}

func (p *vectorParser) request(n *jsonNode, r *VectorRequest) {
	r.Method, r.Scheme = "GET", "https"
	var hasHost, hasPath bool
	p.object("request", n, func(name string, v *jsonNode) bool {
		f := "request." + name
		switch name {
		case "method":
			r.Method = p.str(f, v)
			if p.err == nil && !validFieldName(r.Method) {
				p.fail(f, "%q is not a method token", r.Method)
			}
		case "scheme":
			r.Scheme = p.str(f, v)
			if p.err == nil && r.Scheme != "http" && r.Scheme != "https" {
				p.fail(f, "want \"http\" or \"https\", got %q", r.Scheme)
			}
		case "host":
			r.Authority, hasHost = p.str(f, v), true
			if p.err == nil {
				r.Host = p.normalHost(f, r.Authority)
			}
		case "path":
			r.Path, hasPath = p.str(f, v), true
			if p.err == nil && (!strings.HasPrefix(r.Path, "/") || strings.ContainsAny(r.Path, "?# \r\n\x00")) {
				p.fail(f, "%q: want an origin-form path: starting with \"/\", without query, fragment, space or control characters", r.Path)
			}
		case "query":
			r.Query = p.str(f, v)
			if p.err == nil && (strings.HasPrefix(r.Query, "?") || strings.ContainsAny(r.Query, "# \r\n\x00")) {
				p.fail(f, "%q: want the raw query without the leading \"?\", fragment, space or control characters", r.Query)
			}
		case "route":
			r.Route = p.str(f, v)
		case "headers":
			r.Headers = p.headers(f, v)
		default:
			return false
		}
		return true
	})
	if p.err != nil {
		return
	}
	switch {
	case !hasHost:
		p.fail("request.host", "required")
	case !hasPath:
		p.fail("request.path", "required")
	}
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, "host") && h.Value != r.Authority {
			p.fail("request.headers[\"Host\"]", "%q differs from request.host %q (the gateway keys the Host it forwards)", h.Value, r.Authority)
		}
	}
}

// normalHost returns the host a as the gateway gives it to a policy:
// lower-case, without port or trailing dot; it fails unless a is a
// reg-name or IP literal with an optional port.
func (p *vectorParser) normalHost(field, a string) string {
	h := strings.ToLower(a)
	port := ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			p.fail(field, "%q: no closing \"]\"", a)
			return ""
		}
		h, port = h[:end+1], h[end+1:]
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h, port = h[:i], h[i:]
	}
	if port != "" {
		digits := strings.TrimPrefix(port, ":")
		if digits == port || digits == "" || strings.Trim(digits, "0123456789") != "" || len(digits) > 5 {
			p.fail(field, "%q: bad port", a)
			return ""
		}
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		p.fail(field, "empty")
		return ""
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' ||
			(h[0] == '[' && (c == '[' || c == ']' || c == ':'))
		if !ok {
			p.fail(field, "%q is not a host name or IP literal with an optional port", a)
			return ""
		}
	}
	return h
}

func (p *vectorParser) key(n *jsonNode) *VectorKey {
	if n.kind == jsonString {
		if n.str != "bypass" {
			p.fail("key", "want an object or \"bypass\", got %q", n.str)
		}
		return &VectorKey{Bypass: true}
	}
	k := &VectorKey{}
	var hasHost, hasTarget bool
	p.object("key", n, func(name string, v *jsonNode) bool {
		f := "key." + name
		switch name {
		case "host":
			k.Host, hasHost = p.str(f, v), true
		case "target":
			k.Target, hasTarget = p.str(f, v), true
			if p.err == nil && !strings.HasPrefix(k.Target, "/") {
				p.fail(f, "%q: a key target starts with \"/\"", k.Target)
			}
		case "variant":
			k.Variant = p.str(f, v)
		default:
			return false
		}
		return true
	})
	switch {
	case p.err != nil:
	case !hasHost:
		p.fail("key.host", "required (or write \"key\": \"bypass\")")
	case !hasTarget:
		p.fail("key.target", "required")
	}
	return k
}

func (p *vectorParser) response(n *jsonNode) *VectorResponse {
	r := &VectorResponse{Status: 200}
	p.object("response", n, func(name string, v *jsonNode) bool {
		f := "response." + name
		switch name {
		case "status":
			r.Status = int(p.integer(f, v, 100, 999))
		case "headers":
			r.Headers = p.headers(f, v)
		case "body_size":
			r.BodySize = p.integer(f, v, -1, 1<<53)
		default:
			return false
		}
		return true
	})
	return r
}

func (p *vectorParser) decision(n *jsonNode) *VectorDecision {
	d := &VectorDecision{}
	p.object("decision", n, func(name string, v *jsonNode) bool {
		f := "decision." + name
		switch name {
		case "store":
			d.Store = p.boolean(f, v)
		case "admit":
			d.Admit = p.boolean(f, v)
		case "must_revalidate":
			d.MustRevalidate = p.boolean(f, v)
		case "no_cache":
			d.NoCache = p.boolean(f, v)
		case "tier":
			s := p.str(f, v)
			var t policy.Tier
			switch s {
			case "both":
				t = policy.TierBoth
			case "l1":
				t = policy.TierL1
			case "l2":
				t = policy.TierL2
			default:
				p.fail(f, "want \"both\", \"l1\" or \"l2\", got %q", s)
			}
			d.Tier = &t
		case "ttl":
			d.TTL = p.duration(f, v)
		case "swr":
			d.SWR = p.duration(f, v)
		case "sie":
			d.SIE = p.duration(f, v)
		default:
			return false
		}
		return true
	})
	if p.err == nil && *d == (VectorDecision{}) {
		p.fail("decision", "empty: name at least one field to compare")
	}
	return d
}

// PolicyRequest returns the request view a policy receives for the
// vector: the Host field first unless the vector has one.
func (r *VectorRequest) PolicyRequest() *policy.Request {
	req := &policy.Request{
		Method: []byte(r.Method), Scheme: []byte(r.Scheme), Host: []byte(r.Host),
		Path: []byte(r.Path), Query: []byte(r.Query), Route: []byte(r.Route),
	}
	hasHost := false
	for _, h := range r.Headers {
		hasHost = hasHost || strings.EqualFold(h.Name, "host")
	}
	if !hasHost {
		req.Headers = append(req.Headers, policy.Header{Name: []byte("Host"), Value: []byte(r.Authority)})
	}
	for _, h := range r.Headers {
		req.Headers = append(req.Headers, policy.Header{Name: []byte(h.Name), Value: []byte(h.Value)})
	}
	return req
}

// PolicyResponse returns the response view Decide receives for the
// vector. Its time is the Date field's when valid, else 2026-01-01 UTC.
func (r *VectorResponse) PolicyResponse() *policy.Response {
	resp := &policy.Response{Status: r.Status, BodySize: r.BodySize, Now: vectorNow}
	for _, h := range r.Headers {
		resp.Headers = append(resp.Headers, policy.Header{Name: []byte(h.Name), Value: []byte(h.Value)})
		if strings.EqualFold(h.Name, "date") {
			if t, ok := httpdate.Parse([]byte(h.Value)); ok {
				resp.Now = t
			}
		}
	}
	return resp
}

// VectorResult is the outcome of one vector.
type VectorResult struct {
	// Index is the vector's position in the file, from 0; Name its name.
	Index int
	Name  string
	// Key is the key the policy derived (when the vector has a key);
	// KeyErr the error of the Key call, if it failed.
	Key    policy.Key
	KeyErr error
	// Decision is the decision the policy took, starting from the default
	// policy's (when the vector has a decision); DecideErr the error of
	// the Decide call, if it failed.
	Decision  policy.Decision
	DecideErr error
	// Diff lists, one per line, each field whose expected and actual
	// values differ ("key.target: want "/a", got "/a?x=1""); empty when
	// the vector passed.
	Diff string
}

// Passed reports whether the policy gave what the vector expects.
func (r *VectorResult) Passed() bool { return r.Diff == "" }

// String returns "case N "name": ok", or the same followed by the diff,
// indented.
func (r *VectorResult) String() string {
	head := fmt.Sprintf("case %d %q", r.Index, r.Name)
	if r.Passed() {
		return head + ": ok"
	}
	return head + ":\n    " + strings.ReplaceAll(strings.TrimSuffix(r.Diff, "\n"), "\n", "\n    ")
}

// RunVectors runs each vector through p: Key on its request when it has a
// key, and when it has a decision, Decide on its request and response,
// starting from the decision of [policy.Default] (no default TTL), as the
// gateway does. For a *Module, the calls run with the module's own limits,
// fuel and instance pool, exactly as in the gateway; a failed call (a
// *CallError) fails the vector. RunVectors is safe to call concurrently
// with other calls on p.
func RunVectors(p policy.Policy, vs []Vector) []VectorResult {
	res := make([]VectorResult, len(vs))
	for i := range vs {
		res[i] = runVector(p, i, &vs[i])
	}
	return res
}

// VectorsFailed returns the number of results that did not pass.
func VectorsFailed(rs []VectorResult) int {
	n := 0
	for i := range rs {
		if !rs[i].Passed() {
			n++
		}
	}
	return n
}

func runVector(p policy.Policy, i int, v *Vector) VectorResult {
	r := VectorResult{Index: i, Name: v.Name}
	var diff strings.Builder
	req := v.Request.PolicyRequest()
	if v.Key != nil {
		r.KeyErr = p.Key(req, &r.Key)
		if r.KeyErr != nil {
			fmt.Fprintf(&diff, "key: want %s, got error: %v\n", formatVectorKey(v.Key), r.KeyErr)
		} else {
			diffKey(&diff, v.Key, &r.Key)
		}
	}
	if v.Decision != nil {
		resp := v.Response.PolicyResponse()
		r.Decision.Reset()
		if err := (policy.Default{}).Decide(req, resp, &r.Decision); err != nil {
			r.DecideErr = err
		} else {
			saved := r.Decision
			if r.DecideErr = p.Decide(req, resp, &r.Decision); r.DecideErr != nil {
				r.Decision = saved
			}
		}
		if r.DecideErr != nil {
			fmt.Fprintf(&diff, "decision: got error: %v\n", r.DecideErr)
		} else {
			diffDecision(&diff, v.Decision, &r.Decision)
		}
	}
	r.Diff = diff.String()
	return r
}

func formatVectorKey(k *VectorKey) string {
	if k.Bypass {
		return "bypass"
	}
	return fmt.Sprintf("{host %q, target %q, variant %q}", k.Host, k.Target, k.Variant)
}

func diffKey(w io.Writer, want *VectorKey, got *policy.Key) {
	switch {
	case want.Bypass && got.Bypass:
	case want.Bypass:
		fmt.Fprintf(w, "key: want bypass, got {host %q, target %q, variant %q}\n", got.Host, got.Target, got.Variant)
	case got.Bypass:
		fmt.Fprintf(w, "key: want %s, got bypass\n", formatVectorKey(want))
	default:
		field := func(name, want string, got []byte) {
			if want != string(got) {
				fmt.Fprintf(w, "key.%s: want %q, got %q\n", name, want, got)
			}
		}
		field("host", want.Host, got.Host)
		field("target", want.Target, got.Target)
		field("variant", want.Variant, got.Variant)
	}
}

func diffDecision(w io.Writer, want *VectorDecision, got *policy.Decision) {
	flag := func(name string, want *bool, got bool) {
		if want != nil && *want != got {
			fmt.Fprintf(w, "decision.%s: want %t, got %t\n", name, *want, got)
		}
	}
	dur := func(name string, want *time.Duration, got time.Duration) {
		if want != nil && *want != got {
			fmt.Fprintf(w, "decision.%s: want %v, got %v\n", name, *want, got)
		}
	}
	flag("store", want.Store, got.Store)
	flag("admit", want.Admit, got.Admit)
	flag("must_revalidate", want.MustRevalidate, got.MustRevalidate)
	flag("no_cache", want.NoCache, got.NoCache)
	if want.Tier != nil && *want.Tier != got.Tier {
		fmt.Fprintf(w, "decision.tier: want %q, got %q\n", want.Tier.String(), got.Tier.String())
	}
	dur("ttl", want.TTL, got.TTL)
	dur("swr", want.SWR, got.StaleWhileRevalidate)
	dur("sie", want.SIE, got.StaleIfError)
}

// A minimal ordered JSON tree: encoding/json's maps lose the order of
// header fields and hide duplicate names, both of which matter here.

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

func (k jsonKind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

type jsonNode struct {
	kind jsonKind
	b    bool
	str  string // a string, or a number's text
	arr  []jsonNode
	obj  []jsonMember
}

type jsonMember struct {
	name string
	val  jsonNode
}

// maxJSONDepth bounds the nesting of a vectors file (it needs 4).
const maxJSONDepth = 16

func decodeJSON(data []byte) (jsonNode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := decodeNode(dec, 0)
	if err != nil {
		return n, jsonError(dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return n, errors.New("JSON: data after the array")
	}
	return n, nil
}

func jsonError(dec *json.Decoder, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("JSON: unexpected end of input")
	}
	return fmt.Errorf("JSON at byte %d: %w", dec.InputOffset(), err)
}

func decodeNode(dec *json.Decoder, depth int) (jsonNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return jsonNode{}, err
	}
	return decodeFrom(dec, tok, depth)
}

func decodeFrom(dec *json.Decoder, tok json.Token, depth int) (jsonNode, error) {
	switch t := tok.(type) {
	case nil:
		return jsonNode{kind: jsonNull}, nil
	case bool:
		return jsonNode{kind: jsonBool, b: t}, nil
	case json.Number:
		return jsonNode{kind: jsonNumber, str: t.String()}, nil
	case string:
		return jsonNode{kind: jsonString, str: t}, nil
	case json.Delim:
		if depth >= maxJSONDepth {
			return jsonNode{}, fmt.Errorf("nested deeper than %d", maxJSONDepth)
		}
		if t == '[' {
			n := jsonNode{kind: jsonArray}
			for dec.More() {
				v, err := decodeNode(dec, depth+1)
				if err != nil {
					return n, err
				}
				n.arr = append(n.arr, v)
			}
			_, err := dec.Token() // ']'
			return n, err
		}
		n := jsonNode{kind: jsonObject}
		var names map[string]struct{} // past 8 members
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return n, err
			}
			name, _ := tok.(string) // the decoder only gives a string here
			if dupMember(&n, &names, name) {
				return n, fmt.Errorf("duplicate member %q", name)
			}
			v, err := decodeNode(dec, depth+1)
			if err != nil {
				return n, err
			}
			n.obj = append(n.obj, jsonMember{name: name, val: v})
		}
		_, err := dec.Token() // '}'
		return n, err
	}
	return jsonNode{}, fmt.Errorf("unexpected token %v", tok)
}

// dupMember reports whether n already has a member name, scanning the
// first members and indexing them in *names once there are many.
func dupMember(n *jsonNode, names *map[string]struct{}, name string) bool {
	if len(n.obj) < 8 {
		for _, m := range n.obj {
			if m.name == name {
				return true
			}
		}
		return false
	}
	if *names == nil {
		*names = make(map[string]struct{}, 16)
		for _, m := range n.obj {
			(*names)[m.name] = struct{}{}
		}
	}
	if _, ok := (*names)[name]; ok {
		return true
	}
	(*names)[name] = struct{}{}
	return false
}
