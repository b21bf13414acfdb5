package plugins_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// A policy module is loaded once and then used like any policy.Policy; an
// error from Key or Decide means "answer with the fallback policy".
func ExampleRuntime_LoadBytes() {
	ctx := context.Background()
	rt, err := plugins.NewRuntime(plugins.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Close(ctx)

	wasm, err := os.ReadFile("testdata/minimal.wasm")
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := plugins.DefaultConfig()
	m, err := rt.LoadBytes(ctx, "minimal", wasm, &cfg)
	if err != nil {
		fmt.Println(err)
		return
	}

	req := &policy.Request{Method: []byte("GET"), Host: []byte("Example.COM"), Path: []byte("/a"), Query: []byte("b=1")}
	var k policy.Key
	if err := m.Key(req, &k); err != nil {
		k.Reset()
		_ = (policy.Default{}).Key(req, &k) // the fallback; its own error would bypass the cache
	}
	fmt.Printf("%s %s\n", k.Host, k.Target)
	// Output: example.com /a?b=1
}

// Load errors name the policy and the reason, and wrap a kind the admin API
// can map to an HTTP status.
func ExampleLoadError() {
	ctx := context.Background()
	rt, err := plugins.NewRuntime(plugins.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Close(ctx)

	cfg := plugins.DefaultConfig()
	_, err = rt.LoadBytes(ctx, "upload", []byte("not wasm"), &cfg)
	fmt.Println(err)
	fmt.Println(errors.Is(err, plugins.ErrMalformed))
	// Output:
	// plugins: policy "upload": malformed module: not a WebAssembly binary (no \0asm magic)
	// true
}
