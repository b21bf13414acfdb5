//go:build wasip1

// Command ttlrules is a Flow Cache policy module that sets how long
// responses are kept from rules in its configuration, overriding the
// origin's Cache-Control, Expires and Surrogate-Control: the first rule whose
// path pattern and status list match a response decides its TTL and stale
// windows, or that it is not stored. Responses no rule matches keep the
// default RFC 9111 decision.
//
// The origin's word still wins where sharing would be unsafe: a response
// marked private or no-store, one that sets a cookie, and the answer to a
// request with Authorization keep the default decision (which does not store
// them), whatever the rules say.
//
// Configuration (config.toml):
//
//	[policies.ttl]
//	module = "ttlrules.wasm"
//	config = { rules = [
//	  { path = "/static/*", ttl = "24h", stale_while_revalidate = "1h", stale_if_error = "24h" },
//	  { path = "/api/*", status = [404, 410], ttl = "30s" },
//	  { path = "/api/*", ttl = "1m", stale_while_revalidate = "30s", stale_if_error = "10m" },
//	  { path = "/account/*", store = false },
//	] }
//
// path is a pattern over the request path: '*' matches any run of bytes
// ('/' included), '?' one byte; "*" alone (the default) matches every path.
// status lists the status codes the rule applies to; omitted, it applies to
// the codes cacheable by default (RFC 9110, Section 15.1: 200, 203, 204,
// 300, 301, 308, 404, 405, 410, 414, 501). Durations are Go durations
// ("90s", "1h30m"). Unknown keys are errors.
//
// Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o ttlrules.wasm ./examples/ttlrules
package main

import (
	"errors"
	"strconv"
	"time"

	"github.com/flowcache/flowcache/wasm/sdk"
)

func init() {
	sdk.Register(sdk.Policy{
		Init:    configure,
		Headers: []string{"authorization"},
		Decide:  decide,
	})
}

// rule is one compiled rule.
type rule struct {
	path     []byte
	statuses []int
	store    bool
	ttl      time.Duration
	swr      time.Duration
	sie      time.Duration
}

// rules is set once per instance, by configure.
var rules []rule

// defaultStatuses are the status codes heuristically cacheable by default
// (RFC 9110, Section 15.1).
var defaultStatuses = []int{200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}

// configure compiles the rules of the configuration JSON. It uses
// sdk.ParseJSON: encoding/json links file reads a policy may not import.
func configure(b []byte) error {
	c, err := sdk.ParseJSON(b)
	if err != nil {
		return err
	}
	if c.Kind != sdk.JSONObject {
		return errors.New("config: want an object")
	}
	var errs []error
	for i, k := range c.Keys {
		if k != "rules" {
			errs = append(errs, errors.New(k+": unknown key"))
			continue
		}
		list := &c.Values[i]
		if list.Kind != sdk.JSONArray {
			errs = append(errs, errors.New("rules: want an array"))
			continue
		}
		for j := range list.Items {
			r, err := compile(j, &list.Items[j])
			errs = append(errs, err)
			rules = append(rules, r)
		}
	}
	return errors.Join(errs...)
}

// compile checks rule number i and returns it compiled.
func compile(i int, v *sdk.JSON) (rule, error) {
	r := rule{path: []byte("*"), statuses: defaultStatuses, store: true}
	if v.Kind != sdk.JSONObject {
		return r, errors.New(at(i, "") + "want an object")
	}
	var errs []error
	hasTTL := false
	for j, k := range v.Keys {
		f := &v.Values[j]
		bad := func(want string) { errs = append(errs, errors.New(at(i, "."+k)+"want "+want+", not "+f.Kind.String())) }
		switch k {
		case "path":
			if f.Kind != sdk.JSONString {
				bad("a string")
				continue
			}
			r.path = []byte(f.Str)
		case "status":
			if f.Kind != sdk.JSONArray {
				bad("an array of status codes")
				continue
			}
			r.statuses = nil
			for _, s := range f.Items {
				if s.Kind != sdk.JSONNumber || s.Num != float64(int(s.Num)) || s.Num < 100 || s.Num > 999 {
					errs = append(errs, errors.New(at(i, ".status")+"want status codes (100-999)"))
					break
				}
				r.statuses = append(r.statuses, int(s.Num))
			}
		case "store":
			if f.Kind != sdk.JSONBool {
				bad("a boolean")
				continue
			}
			r.store = f.Bool
		case "ttl", "stale_while_revalidate", "stale_if_error":
			hasTTL = hasTTL || k == "ttl" // a bad ttl is reported here, not again as missing
			d, err := time.ParseDuration(f.Str)
			if f.Kind != sdk.JSONString || err != nil || d < 0 {
				errs = append(errs, errors.New(at(i, "."+k)+"want a duration >= 0 such as \"90s\", not "+shown(f)))
				continue
			}
			switch k {
			case "ttl":
				r.ttl, hasTTL = d, true
			case "stale_while_revalidate":
				r.swr = d
			default:
				r.sie = d
			}
		default:
			errs = append(errs, errors.New(at(i, "."+k)+"unknown key"))
		}
	}
	if r.store && !hasTTL {
		errs = append(errs, errors.New(at(i, ".ttl")+"required unless store = false"))
	}
	return r, errors.Join(errs...)
}

// at returns the key path of a rule's field, for error messages.
// shown is v as an error message shows it: a string quoted, else its kind.
func shown(v *sdk.JSON) string {
	if v.Kind == sdk.JSONString {
		return strconv.Quote(v.Str)
	}
	return v.Kind.String()
}

func at(i int, key string) string { return "rules[" + strconv.Itoa(i) + "]" + key + ": " }

func decide(r *sdk.Response, d *sdk.Decision) error {
	path, status := r.Request().Path(), r.Status()
	for i := range rules {
		ru := &rules[i]
		if !hasStatus(ru.statuses, status) || !match(ru.path, path) {
			continue
		}
		if !ru.store {
			d.DontStore()
			return nil
		}
		if unsafeToShare(r) {
			return nil // keep the default, which does not store it
		}
		d.Cache(ru.ttl)
		d.Stale(ru.swr, ru.sie)
		d.MustRevalidate = false
		return nil
	}
	return nil
}

// unsafeToShare reports whether the response must not be served to other
// clients whatever the rules say.
func unsafeToShare(r *sdk.Response) bool {
	hs := r.Headers()
	for name, value, ok := hs.Next(); ok; name, value, ok = hs.Next() {
		switch {
		case sdk.EqualFold(name, "set-cookie"):
			return true
		case sdk.EqualFold(name, "cache-control"):
			if sdk.HasToken(value, "private") || sdk.HasToken(value, "no-store") {
				return true
			}
		}
	}
	return r.Request().Header("authorization") != nil
}

func hasStatus(list []int, s int) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// match reports whether name matches pattern ('*' any run, '?' one byte),
// without allocating: the classic iterative matcher that backtracks to the
// last '*' only.
func match(pattern, name []byte) bool {
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == name[n]):
			p++
			n++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func main() {}
