//go:build wasip1

// Command normalize is a Flow Cache policy module that normalises the cache
// key: the host is lower-cased, the tracking parameters utm_*, fbclid and
// gclid are dropped, and the remaining query parameters are sorted by name.
// "/p?utm_source=x&b=2&a=1" and "/p?a=1&b=2" name one cached object, and the
// upstream receives the normalised target, so nothing the key leaves out
// reaches it. Requests carrying Cookie or Authorization bypass the cache, as
// with the native default policy. Responses keep the default decision.
//
// The configuration may replace the list of parameters left out of the key:
//
//	[policies.normalize]
//	config = { drop = ["utm_*", "ref"] }
//
// A pattern ending in '*' matches every name starting with what precedes it;
// any other pattern matches that name exactly (as sent: case-sensitive, not
// percent-decoded). An empty list keeps every parameter. Without "drop" the
// list is utm_*, fbclid and gclid (sdk.TrackingParams).
//
// Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o normalize.wasm ./examples/normalize
package main

import (
	"errors"
	"strconv"

	"github.com/flowcache/flowcache/wasm/sdk"
)

func init() {
	sdk.Register(sdk.Policy{
		Init:    configure,
		Headers: []string{"cookie", "authorization"},
		Key:     key,
	})
}

// Limits of the "drop" list, shared by the C and AssemblyScript versions of
// this policy (examples/normalize-c, examples/normalize-as), which hold the
// patterns in fixed tables.
const (
	maxPatterns   = 32
	maxPatternLen = 64
)

// drop matches the query parameters left out of the key: sdk.TrackingParams
// unless the configuration gives a "drop" list. Set once per instance, by
// configure.
var drop = sdk.TrackingParams

// configure reads the configuration: an object with at most the member
// "drop", an array of 0 to 32 non-empty strings of at most 64 bytes.
func configure(b []byte) error {
	c, err := sdk.ParseJSON(b)
	if err != nil {
		return err
	}
	if c.Kind != sdk.JSONObject {
		return errors.New("config: want an object")
	}
	for i, k := range c.Keys {
		if k != "drop" {
			return errors.New(k + ": unknown key (want drop)")
		}
		list := &c.Values[i]
		if list.Kind != sdk.JSONArray {
			return errors.New("drop: want an array of parameter names, not " + list.Kind.String())
		}
		if len(list.Items) > maxPatterns {
			return errors.New("drop: at most " + strconv.Itoa(maxPatterns) + " patterns")
		}
		patterns := make([]string, 0, len(list.Items))
		for j := range list.Items {
			p := &list.Items[j]
			if p.Kind != sdk.JSONString || p.Str == "" || len(p.Str) > maxPatternLen {
				return errors.New("drop[" + strconv.Itoa(j) + "]: want a non-empty string of at most " + strconv.Itoa(maxPatternLen) + " bytes")
			}
			patterns = append(patterns, p.Str)
		}
		drop = sdk.NewParamFilter(patterns...)
	}
	return nil
}

func key(r *sdk.Request, k *sdk.KeyBuilder) error {
	if r.Header("cookie") != nil || r.Header("authorization") != nil {
		k.Bypass()
		return nil
	}
	k.Host(r.Host())
	k.Path(r.Path())
	k.Query(r.Query(), drop)
	k.SortParams()
	return nil
}

func main() {}
