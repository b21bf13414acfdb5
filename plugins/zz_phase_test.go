package plugins

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
)

func TestZZPhases(t *testing.T) {
	wasm, err := os.ReadFile("/tmp/cold/pol-base/normalize.wasm")
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	ctx := context.Background()
	for round := range 3 {
		t0 := time.Now()
		info, err := scanModule(wasm)
		if err != nil {
			t.Fatal(err)
		}
		_ = info
		t1 := time.Now()
		iw, err := instrument(wasm)
		if err != nil {
			t.Fatal(err)
		}
		t2 := time.Now()
		cache, _ := wazero.NewCompilationCacheWithDir(dir)
		wr := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCompilationCache(cache))
		c, err := wr.CompileModule(ctx, iw)
		if err != nil {
			t.Fatal(err)
		}
		t3 := time.Now()
		_ = c
		wr.Close(ctx)
		cache.Close(ctx)
		rt, _ := NewRuntime(Options{CacheDir: dir})
		cfg := DefaultConfig()
		t4 := time.Now()
		m, err := rt.LoadBytes(ctx, "n", wasm, &cfg)
		if err != nil {
			t.Fatal(err)
		}
		t5 := time.Now()
		m.Close(ctx)
		rt.Close(ctx)
		t.Logf("round %d: scan %v instrument %v compile %v | LoadBytes %v", round, t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t5.Sub(t4))
	}
}
