//go:build wasip1

// Command keyerror is a policy whose Key and Decide fail with an error
// that names the request: the SDK hands the text to the host
// (flowcache_error, ABI.md section 11).
package main

import (
	"errors"

	"github.com/flowcache/flowcache/wasm/sdk"
)

func init() {
	sdk.Register(sdk.Policy{
		Key: func(r *sdk.Request, _ *sdk.KeyBuilder) error {
			return errors.New("no rule for host " + string(r.Host()))
		},
		Decide: func(r *sdk.Response, _ *sdk.Decision) error {
			return errors.New("status " + string(rune('0'+r.Status()/100)) + "xx has no rule")
		},
	})
}

func main() {}
