package policytest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/plugins"
)

// TestNoRegister checks that a Go policy that never calls sdk.Register is
// refused at load with the SDK's init code, not loaded to fail every call.
func TestNoRegister(t *testing.T) {
	t.Parallel()
	wasm := Build(t, "./testdata/noregister")
	rt, err := plugins.NewRuntime(plugins.Options{CacheDir: CacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) }) // nothing loaded is left open
	cfg := plugins.DefaultConfig()
	m, err := rt.LoadBytes(context.Background(), "noregister", wasm, &cfg)
	if err == nil {
		_ = m.Close(context.Background()) // the test already failed
		t.Fatal("a module without a registered policy loaded")
	}
	if !errors.Is(err, plugins.ErrInit) || !strings.Contains(err.Error(), "3") {
		t.Errorf("LoadBytes error = %v, want ErrInit with code 3", err)
	}
}
