//go:build wasip1

// Command noregister is a broken policy: it registers from main, which a
// -buildmode=c-shared module never runs.
package main

import "github.com/flowcache/flowcache/wasm/sdk"

func main() {
	sdk.Register(sdk.Policy{})
}
