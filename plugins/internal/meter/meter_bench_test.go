package meter

import (
	"context"
	"runtime"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// BenchmarkInstrument_GoGuest instruments a Go wasip1 reactor (about 1.9 MB).
func BenchmarkInstrument_GoGuest(b *testing.B) {
	wasm := goGuest(b)
	b.SetBytes(int64(len(wasm)))
	b.ReportAllocs()
	runtime.LockOSThread() // so that the thread's CPU time is this goroutine's
	defer runtime.UnlockOSThread()
	cpu := threadCPU()
	for b.Loop() {
		if _, err := Instrument(wasm, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	if cpu = threadCPU() - cpu; cpu > 0 {
		b.ReportMetric(float64(len(wasm))*float64(b.N)/float64(cpu)*1e3, "cpu-MB/s")
	}
}

// variants are the modules the runtime benchmarks compare: plain, metered (fuel in a local in
// functions with loops), and metered with the fuel always in the global.
func variants(b *testing.B, wasm []byte) []struct {
	name string
	wasm []byte
} {
	global, err := instrument(wasm, Options{}, globalOnly)
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name string
		wasm []byte
	}{
		{"plain", wasm},
		{"metered", mustInstrument(b, wasm, Options{})},
		{"metered-global", global},
	}
}

// BenchmarkInstrument_Loop measures the cost of a loop charge: loops of 1e6 iterations under
// wazero's optimizing compiler (testdata/bench.wat). ns/iter is the wall time per iteration,
// cpu-ns/iter the calling thread's CPU time per iteration.
func BenchmarkInstrument_Loop(b *testing.B) {
	const n = 1_000_000
	for _, fn := range []string{"count", "sum", "nested"} {
		b.Run(fn, func(b *testing.B) {
			benchmarkCall(b, fixture(b, "bench.wasm"), fn, n, n)
		})
	}
}

// BenchmarkInstrument_Call measures the cost of an entry charge: fact(20), 20 calls of a
// loop-free function, per call of wazero's API.
func BenchmarkInstrument_Call(b *testing.B) {
	benchmarkCall(b, fixture(b, "basic.wasm"), "fact", 20, 1)
}

// BenchmarkInstrument_GoCrunch measures Go guest code: crunch(1) runs a sieve over 65536 entries,
// with about 160000 calls of a function that is not inlined, through the Go runtime's code.
func BenchmarkInstrument_GoCrunch(b *testing.B) {
	benchmarkCall(b, goGuest(b), "crunch", 1, 1)
}

func benchmarkCall(b *testing.B, wasm []byte, fn string, arg uint64, iters float64) {
	ctx := context.Background()
	for _, v := range variants(b, wasm) {
		b.Run(v.name, func(b *testing.B) {
			r := newRuntime(b, wazero.NewRuntimeConfigCompiler())
			wasi_snapshot_preview1.MustInstantiate(ctx, r)
			mod := instantiate(b, r, v.wasm, v.name)
			if g, ok := mod.ExportedGlobal(GlobalName).(interface{ Set(uint64) }); ok {
				g.Set(1 << 62)
			}
			f := mod.ExportedFunction(fn)
			stack := make([]uint64, 1)
			runtime.LockOSThread() // so that the thread's CPU time is this goroutine's
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			cpu := threadCPU()
			for b.Loop() {
				stack[0] = arg
				if err := f.CallWithStack(ctx, stack); err != nil {
					b.Fatal(err)
				}
			}
			cpu = threadCPU() - cpu
			unit := "op"
			if iters > 1 {
				unit = "iter"
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/iters, "ns/iter")
			}
			if cpu > 0 {
				b.ReportMetric(float64(cpu)/float64(b.N)/iters, "cpu-ns/"+unit)
			}
		})
	}
}

// BenchmarkInstrument_Runaway measures how long a runaway guest runs before a budget of 2e6 fuel
// (the plugins default) stops it: a loop, exponential recursion, a loop of 1 MiB memory.fill, a
// loop of failing memory.grow.
func BenchmarkInstrument_Runaway(b *testing.B) {
	ctx := context.Background()
	wasm := mustInstrument(b, fixture(b, "runaway.wasm"), Options{})
	for _, tt := range []struct {
		fn   string
		args []uint64
	}{
		{"spin", nil},
		{"boom", []uint64{64}},
		{"fillbomb", nil},
		{"growbomb", nil},
	} {
		b.Run(tt.fn, func(b *testing.B) {
			r := newRuntime(b, wazero.NewRuntimeConfigCompiler())
			mod := instantiate(b, r, wasm, "metered")
			fuel := fuelGlobal(b, mod)
			f := mod.ExportedFunction(tt.fn)
			runtime.LockOSThread() // so that the thread's CPU time is this goroutine's
			defer runtime.UnlockOSThread()
			cpu := threadCPU()
			for b.Loop() {
				fuel.Set(2_000_000)
				if _, err := f.Call(ctx, tt.args...); err == nil || int64(fuel.Get()) >= 0 {
					b.Fatalf("%s: err = %v, fuel = %d; want an out-of-fuel trap", tt.fn, err, int64(fuel.Get()))
				}
			}
			if cpu = threadCPU() - cpu; cpu > 0 {
				b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
