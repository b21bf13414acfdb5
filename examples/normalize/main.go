//go:build wasip1

// Command normalize is a Flow Cache policy module that normalises the cache
// key: the host is lower-cased, the tracking parameters utm_*, fbclid and
// gclid are dropped, and the remaining query parameters are sorted by name.
// "/p?utm_source=x&b=2&a=1" and "/p?a=1&b=2" name one cached object, and the
// upstream receives the normalised target, so nothing the key leaves out
// reaches it. Requests carrying Cookie or Authorization bypass the cache, as
// with the native default policy. Responses keep the default decision.
//
// Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o normalize.wasm ./examples/normalize
package main

import "github.com/flowcache/flowcache/wasm/sdk"

func init() {
	sdk.Register(sdk.Policy{
		Headers: []string{"cookie", "authorization"},
		Key:     key,
	})
}

func key(r *sdk.Request, k *sdk.KeyBuilder) error {
	if r.Header("cookie") != nil || r.Header("authorization") != nil {
		k.Bypass()
		return nil
	}
	k.Host(r.Host())
	k.Path(r.Path())
	k.Query(r.Query(), sdk.TrackingParams)
	k.SortParams()
	return nil
}

func main() {}
