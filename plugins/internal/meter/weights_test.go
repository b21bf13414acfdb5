package meter

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// instantiateWeights instantiates testdata/weights.wasm, metered with the default options, with a
// host module whose "started" function calls started.
func instantiateWeights(t *testing.T, started func()) (api.Module, api.MutableGlobal) {
	t.Helper()
	ctx := context.Background()
	r := newRuntime(t, wazero.NewRuntimeConfigCompiler())
	if _, err := r.NewHostModuleBuilder("host").NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(context.Context, api.Module, []uint64) { started() }), nil, nil).
		Export("started").Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	mod := instantiate(t, r, mustInstrument(t, fixture(t, "weights.wasm"), Options{}), "metered")
	return mod, fuelGlobal(t, mod)
}

// TestInstrument_Weights checks that a call is charged by the weights of the instructions it
// runs: a loop of divisions exhausts its budget after as many iterations as its weight allows (10
// per i64.div_u, where an i64.add weighs 1), and an arm of an if is charged only when it runs.
func TestInstrument_Weights(t *testing.T) {
	t.Parallel()
	const e, l = DefaultEntryCost, DefaultLoopCost
	tests := []struct {
		fn   string
		arg  uint64
		want int64
	}{
		// The loop body: 9 units to count and branch, and four x = x op 3 (local.get, i64.const,
		// the operation, local.set).
		{"divs", 100, e + 1 + 101*(l+9+4*(3+10))},
		{"divs", 0, e + 1 + (l + 9 + 4*(3+10))},
		{"adds", 100, e + 1 + 101*(l+9+4*(3+1))},
		{"arms", 0, e + 3},
		{"arms", 1, e + 3 + 5*4},
	}
	for _, tt := range tests {
		ctx := context.Background()
		mod, fuel := instantiateWeights(t, func() {})
		fn := mod.ExportedFunction(tt.fn)
		fuel.Set(uint64(tt.want))
		if _, err := fn.Call(ctx, tt.arg); err != nil {
			t.Fatalf("%s(%d) with %d fuel: %v", tt.fn, tt.arg, tt.want, err)
		}
		if left := int64(fuel.Get()); left != 0 {
			t.Errorf("%s(%d) used %d fuel, want %d", tt.fn, tt.arg, tt.want-left, tt.want)
		}
		fuel.Set(uint64(tt.want - 1))
		if _, err := fn.Call(ctx, tt.arg); err == nil || int64(fuel.Get()) >= 0 {
			t.Errorf("%s(%d) with %d fuel: err = %v, fuel = %d; want an out-of-fuel trap", tt.fn, tt.arg, tt.want-1, err, int64(fuel.Get()))
		}
	}
}

// TestInstrument_Stop checks the stop global: set while a call loops with fuel to spare, it
// stops the call at the loop's next charge, with the fuel left intact; set before a call, it
// stops it at its entry.
//
// It is not parallel, and turns the GC off: a stop-the-world would wait for the looping call,
// which waits for the stop that this goroutine, stopped by the world, cannot set. (With a finite
// budget, the world waits for the budget to run out.)
func TestInstrument_Stop(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.GC() // finishes a cycle in progress, which would stop the world at its end
	ctx := context.Background()
	started := make(chan struct{}, 1)
	mod, fuel := instantiateWeights(t, func() { started <- struct{}{} })
	stop, ok := mod.ExportedGlobal(StopName).(api.MutableGlobal)
	if !ok || stop.Get() != 0 {
		t.Fatalf("%s: %v, want an exported mutable global at 0", StopName, mod.ExportedGlobal(StopName))
	}
	fuel.Set(1 << 50)
	errc := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction("spin").Call(ctx)
		errc <- err
	}()
	<-started // spin called the host: it loops from now on
	stop.Set(math.MaxInt64)
	if err := <-errc; err == nil || int64(fuel.Get()) < 0 {
		t.Fatalf("spin after stop: err = %v, fuel %d; want a trap with fuel left", err, int64(fuel.Get()))
	}
	fuel.Set(1000)
	if _, err := mod.ExportedFunction("arms").Call(ctx, 0); err == nil || int64(fuel.Get()) != 1000-(DefaultEntryCost+3) {
		t.Fatalf("arms with stop set: err = %v, fuel %d; want a trap at the entry charge", err, int64(fuel.Get()))
	}
}
