package policytest

import (
	"context"
	"testing"

	"github.com/flowcache/flowcache/plugins"
)

// Load loads wasm through the gateway's host, package plugins, with the
// default limits and config as the policy's configuration (nil means {}),
// and closes it when the test ends.
func Load(t testing.TB, wasm []byte, config map[string]any) *plugins.Module {
	t.Helper()
	cfg := plugins.DefaultConfig()
	cfg.Config = config
	return LoadConfig(t, wasm, &cfg)
}

// LoadConfig is Load with the whole [policies.NAME] configuration: limits,
// memoize_key and the policy's config.
func LoadConfig(t testing.TB, wasm []byte, cfg *plugins.Config) *plugins.Module {
	t.Helper()
	ctx := context.Background()
	rt, err := plugins.NewRuntime(plugins.Options{CacheDir: CacheDir(t)})
	if err != nil {
		t.Fatalf("NewRuntime: %v", err)
	}
	t.Cleanup(func() {
		if err := rt.Close(ctx); err != nil {
			t.Errorf("Runtime.Close: %v", err)
		}
	})
	m, err := rt.LoadBytes(ctx, t.Name(), wasm, cfg)
	if err != nil {
		t.Fatalf("LoadBytes: %v", err)
	}
	return m
}
