package meter

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// The fixtures are built from the .wat next to them; each .wat gives its build command.
//
//go:embed testdata/*.wasm
var fixtures embed.FS

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// features are the WebAssembly features the fixtures use: 2.0 plus threads and tail calls.
const features = api.CoreFeaturesV2 | experimental.CoreFeaturesThreads | experimental.CoreFeaturesTailCall

func newRuntime(t testing.TB, cfg wazero.RuntimeConfig) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, cfg.WithCoreFeatures(features))
	t.Cleanup(func() { _ = r.Close(ctx) }) // closing a runtime only releases memory
	return r
}

// instantiate compiles and instantiates wasm, after the env module basic.wasm imports from. A
// reactor (a module exporting _initialize) is initialized.
func instantiate(t testing.TB, r wazero.Runtime, wasm []byte, name string) api.Module {
	t.Helper()
	ctx := context.Background()
	if r.Module("env") == nil {
		if _, err := r.InstantiateWithConfig(ctx, fixture(t, "env.wasm"), wazero.NewModuleConfig().WithName("env")); err != nil {
			t.Fatal(err)
		}
	}
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(name).WithStartFunctions())
	if err != nil {
		t.Fatalf("instantiate %s: %v", name, err)
	}
	if init := mod.ExportedFunction("_initialize"); init != nil {
		if g, ok := mod.ExportedGlobal(GlobalName).(api.MutableGlobal); ok {
			g.Set(1 << 40)
		}
		if _, err := init.Call(ctx); err != nil {
			t.Fatalf("%s: _initialize: %v", name, err)
		}
	}
	return mod
}

func mustInstrument(t testing.TB, wasm []byte, opts Options) []byte {
	t.Helper()
	out, err := Instrument(wasm, opts)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	return out
}

func fuelGlobal(t testing.TB, mod api.Module) api.MutableGlobal {
	t.Helper()
	g, ok := mod.ExportedGlobal(GlobalName).(api.MutableGlobal)
	if !ok {
		t.Fatalf("%s is not an exported mutable global", GlobalName)
	}
	if g.Type() != api.ValueTypeI64 {
		t.Fatalf("%s has type %v, want i64", GlobalName, api.ValueTypeName(g.Type()))
	}
	return g
}

func TestInstrument_Semantics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fixture string
		fn      string
		args    []uint64
		want    []uint64
	}{
		{"factorial", "basic.wasm", "fact", []uint64{20}, []uint64{2432902008176640000}},
		{"loop sum and globals", "basic.wasm", "sum", []uint64{100}, []uint64{5050 + 7 + 100}},
		{"nested loops, loop with param", "basic.wasm", "nested", []uint64{7}, []uint64{49 + 10}},
		{"br_table 0", "basic.wasm", "switch", []uint64{0}, []uint64{10}},
		{"br_table 2", "basic.wasm", "switch", []uint64{2}, []uint64{30}},
		{"br_table default", "basic.wasm", "switch", []uint64{99}, []uint64{40}},
		{"multi-value block", "basic.wasm", "divmod", []uint64{47, 5}, []uint64{2*1000 + 9}},
		{"call_indirect", "basic.wasm", "apply", []uint64{2, 6, 7}, []uint64{42}},
		{"reference types", "basic.wasm", "refs", nil, []uint64{5 + 1 + 4 + 2}},
		{"bulk memory", "basic.wasm", "bulk", nil, []uint64{'w' + 33 + 0x04030201 + 3}},
		{"saturating and sign extension", "basic.wasm", "misc", []uint64{api.EncodeF64(1e300)}, []uint64{2147483647 - 1 + 6}},
		{"simd", "simd.wasm", "simd", nil, nil}, // compared with the plain module only
		{"tail calls", "features.wasm", "down", []uint64{100000, 0}, []uint64{100000}},
		{"atomics", "features.wasm", "atomics", nil, []uint64{12 + 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			r := newRuntime(t, wazero.NewRuntimeConfigCompiler())
			wasm := fixture(t, tt.fixture)
			plain := instantiate(t, r, wasm, "plain")
			metered := instantiate(t, r, mustInstrument(t, wasm, Options{}), "metered")
			fuelGlobal(t, metered).Set(1 << 40)

			want, err := plain.ExportedFunction(tt.fn).Call(ctx, tt.args...)
			if err != nil {
				t.Fatalf("plain %s: %v", tt.fn, err)
			}
			got, err := metered.ExportedFunction(tt.fn).Call(ctx, tt.args...)
			if err != nil {
				t.Fatalf("metered %s: %v", tt.fn, err)
			}
			if !equal(got, want) {
				t.Errorf("metered %s%v = %v, plain = %v", tt.fn, tt.args, got, want)
			}
			if tt.want != nil && !equal(got, tt.want) {
				t.Errorf("%s%v = %v, want %v", tt.fn, tt.args, got, tt.want)
			}
		})
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestInstrument_Runaway(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fixture   string
		fn        string
		args      []uint64
		stackOkay bool // the call stack limit may trap first
	}{
		{"infinite loop", "runaway.wasm", "spin", nil, false},
		{"exponential recursion", "runaway.wasm", "boom", []uint64{64}, false},
		{"infinite recursion", "runaway.wasm", "deep", []uint64{0}, true},
		{"infinite tail calls", "features.wasm", "forever", []uint64{0}, false},
		{"memory.fill loop", "runaway.wasm", "fillbomb", nil, false},
		{"failing memory.grow loop", "runaway.wasm", "growbomb", nil, false},
	}
	const budget = 1_000_000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			r := newRuntime(t, wazero.NewRuntimeConfigCompiler())
			mod := instantiate(t, r, mustInstrument(t, fixture(t, tt.fixture), Options{}), "metered")
			fuel := fuelGlobal(t, mod)
			fuel.Set(budget)
			_, err := mod.ExportedFunction(tt.fn).Call(ctx, tt.args...)
			if err == nil {
				t.Fatalf("%s%v returned, want a trap", tt.fn, tt.args)
			}
			left := int64(fuel.Get())
			switch {
			case left < 0 && strings.Contains(err.Error(), "unreachable"):
			case tt.stackOkay && strings.Contains(err.Error(), "stack overflow"):
			default:
				t.Fatalf("%s%v: err = %v with %d fuel left, want an out-of-fuel trap", tt.fn, tt.args, err, left)
			}
		})
	}
}

// TestInstrument_Fuel checks the exact charge of runaway.wat's count(n): one function entry,
// whose segment holds the final local.get (the code after a block a branch targets, merged into
// the entry's), and n+1 loop headers, each charging the 9 instructions of the loop body
// (local.get local.get i32.ge_s br_if local.get i32.const i32.add local.set br).
func TestInstrument_Fuel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		n    int64
	}{
		{"defaults", Options{}, 1000},
		{"costs", Options{EntryCost: 5, LoopCost: 3}, 1000},
		{"large cost", Options{EntryCost: 1 << 40, LoopCost: 1 << 33}, 10},
		{"no iteration", Options{EntryCost: 2, LoopCost: 200}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			r := newRuntime(t, wazero.NewRuntimeConfigCompiler())
			mod := instantiate(t, r, mustInstrument(t, fixture(t, "runaway.wasm"), tt.opts), "metered")
			opts, _ := tt.opts.withDefaults() // the options are valid
			need := opts.EntryCost + 1 + (tt.n+1)*(opts.LoopCost+9)
			fuel := fuelGlobal(t, mod)
			count := mod.ExportedFunction("count")

			fuel.Set(uint64(need))
			if _, err := count.Call(ctx, uint64(tt.n)); err != nil {
				t.Fatalf("count(%d) with %d fuel: %v", tt.n, need, err)
			}
			if left := int64(fuel.Get()); left != 0 {
				t.Errorf("count(%d) with %d fuel left %d, want 0", tt.n, need, left)
			}
			fuel.Set(uint64(need - 1))
			if _, err := count.Call(ctx, uint64(tt.n)); err == nil {
				t.Errorf("count(%d) with %d fuel succeeded, want a trap", tt.n, need-1)
			}
			if left := int64(fuel.Get()); left >= 0 {
				t.Errorf("after the trap, fuel = %d, want negative", left)
			}
		})
	}
}

// TestInstrument_Accounting checks that the fuel global is exact after a function that keeps its
// fuel in a local leaves by every way there is, that a host function can charge fuel, and the
// weights: each want is E (entry) + L (loop header) per iteration + the instructions' weights
// (1 each, 4 for a call, 0 for block, loop and end) + the grow and bulk charges (G + (pages
// before + pages asked)*P for memory.grow, G + elements for table.grow, bytes/4 for bulk memory,
// elements for bulk tables).
func TestInstrument_Accounting(t *testing.T) {
	t.Parallel()
	const n, e, l, g, p = 10, 7, 3, 50, 4
	tests := []struct {
		fn   string
		want int64
	}{
		{"grow", e + 3 + g + (1+n)*p},                    // from 1 page
		{"growloop", e + (n+1)*(l+12) + n*(g+(1+100)*p)}, // every grow fails
		{"tablegrow", e + 4 + g + n},
		{"bulkmem", e + 16 + 64*n/4 + 128*n/4 + 64/4},
		{"bulktable", e + 12 + l + n + 2 + 4},
		{"calls", e + (n+1)*(l+13) + n*e},
		{"host", e + (n+1)*(l+14) + 100*n},
		{"early", e + 1 + (n+1)*(l+11)},
		{"brout", e + 1 + (n+1)*(l+10)},
		{"tableout", e + (n+1)*(l+8)},
		{"tail", e + 5 + n*(l+8) + e + 1},
	}
	for _, v := range []variant{standard, globalOnly} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/variant=%d", tt.fn, v), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				r := newRuntime(t, wazero.NewRuntimeConfigCompiler())
				charge := func(_ context.Context, m api.Module, stack []uint64) {
					g := m.ExportedGlobal(GlobalName).(api.MutableGlobal)
					g.Set(uint64(int64(g.Get()) - int64(stack[0])))
				}
				if _, err := r.NewHostModuleBuilder("host").NewFunctionBuilder().
					WithGoModuleFunction(api.GoModuleFunc(charge), []api.ValueType{api.ValueTypeI64}, nil).
					Export("charge").Instantiate(ctx); err != nil {
					t.Fatal(err)
				}
				out, err := instrument(fixture(t, "accounting.wasm"), Options{EntryCost: e, LoopCost: l, GrowCost: g, PageCost: p}, v)
				if err != nil {
					t.Fatal(err)
				}
				mod := instantiate(t, r, out, "metered")
				fuel := fuelGlobal(t, mod)
				const budget = 1 << 20
				fuel.Set(budget)
				if _, err := mod.ExportedFunction(tt.fn).Call(ctx, n); err != nil {
					t.Fatalf("%s(%d): %v", tt.fn, n, err)
				}
				if used := budget - int64(fuel.Get()); used != tt.want {
					t.Errorf("%s(%d) used %d fuel, want %d", tt.fn, n, used, tt.want)
				}
			})
		}
	}
}

// TestInstrument_Tables checks that a table without a maximum gets one: its share of
// maxTableElements.
func TestInstrument_Tables(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fn    string
		delta uint64
		want  int32
	}{
		{"grow", 1000, 0},
		{"grow", maxTableElements/2 + 1, -1}, // two tables: half each
		{"grow", maxTableElements/2 - 1000, 1000},
		{"growu", 99, 1}, // its own maximum, 100, is lower than its share
		{"growu", 1, -1},
	}
	ctx := context.Background()
	r := newRuntime(t, wazero.NewRuntimeConfigCompiler())
	mod := instantiate(t, r, mustInstrument(t, fixture(t, "tables.wasm"), Options{}), "metered")
	fuelGlobal(t, mod).Set(1 << 40)
	for _, tt := range tests { // in order: each grows the table of the last
		got, err := mod.ExportedFunction(tt.fn).Call(ctx, tt.delta)
		if err != nil || int32(got[0]) != tt.want {
			t.Fatalf("%s(%d) = %v, %v; want %d", tt.fn, tt.delta, got, err, tt.want)
		}
	}
}

// TestInstrument_NewSections instruments a module with no global and no export section: both are
// created, in order, and the start function is metered by the initial fuel.
func TestInstrument_NewSections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRuntime(t, wazero.NewRuntimeConfigCompiler())
	out := mustInstrument(t, fixture(t, "bare.wasm"), Options{InitialFuel: 1000})
	compiled, err := r.CompileModule(ctx, out)
	if err != nil {
		t.Fatalf("CompileModule: %v", err)
	}
	if _, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig()); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("instantiate with a looping start function: err = %v, want an unreachable trap", err)
	}
}

// TestInstrument_Output checks the output layout: custom sections are kept byte for byte, the
// fuel global is exported, and instrumenting twice is refused.
func TestInstrument_Output(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"basic.wasm", "runaway.wasm", "simd.wasm", "features.wasm", "bare.wasm", "env.wasm", "accounting.wasm", "tables.wasm"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := fixture(t, name)
			out := mustInstrument(t, in, Options{})
			if !bytes.Equal(in, fixture(t, name)) {
				t.Fatal("Instrument modified its input")
			}
			inCustom, outCustom := customSections(t, in), customSections(t, out)
			if len(inCustom) != len(outCustom) {
				t.Fatalf("%d custom sections, want %d", len(outCustom), len(inCustom))
			}
			for i := range inCustom {
				if !bytes.Equal(inCustom[i], outCustom[i]) {
					t.Errorf("custom section %d changed", i)
				}
			}
			if _, err := Instrument(out, Options{}); !errors.Is(err, ErrNameTaken) {
				t.Errorf("Instrument(Instrument(%s)) err = %v, want ErrNameTaken", name, err)
			}
			r := newRuntime(t, wazero.NewRuntimeConfigCompiler())
			compiled, err := r.CompileModule(context.Background(), out)
			if err != nil {
				t.Fatalf("CompileModule: %v", err)
			}
			got, want := compiled.ExportedFunctions(), mustCompile(t, r, in).ExportedFunctions()
			if len(got) != len(want) {
				t.Errorf("%d exported functions, want %d", len(got), len(want))
			}
			for name, w := range want { // names come from the name section, by function index
				if g, ok := got[name]; !ok || g.DebugName() != w.DebugName() || g.Index() != w.Index() {
					t.Errorf("export %q: got %v, want %s (function %d)", name, g, w.DebugName(), w.Index())
				}
			}
		})
	}
}

func mustCompile(t testing.TB, r wazero.Runtime, wasm []byte) wazero.CompiledModule {
	t.Helper()
	c, err := r.CompileModule(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// customSections returns the payloads of the custom sections of a well-formed module.
func customSections(t testing.TB, wasm []byte) [][]byte {
	t.Helper()
	d := decoder{b: wasm, pos: 8, section: noSection, fn: -1}
	var out [][]byte
	for d.pos < len(d.b) && d.err == nil {
		id := d.b[d.pos]
		d.pos++
		size := int(d.u32(len(d.b), "size"))
		if id == secCustom {
			out = append(out, wasm[d.pos:d.pos+size])
		}
		d.pos += size
	}
	if d.err != nil {
		t.Fatal(d.err)
	}
	return out
}

// goModule builds a Go wasip1 reactor once for the tests and benchmarks that use it.
var goModule = sync.OnceValues(func() ([]byte, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "meter-go-guest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	const src = `package main

//go:wasmexport add
func add(a, b int32) int32 { return a + b }

var sink []byte

// work allocates, maps and sorts, so the Go runtime (allocator, GC, maps) runs.
//
//go:wasmexport work
func work(n int32) int32 {
	m := map[int32]string{}
	for i := int32(0); i < n; i++ {
		m[i] = string(rune('a' + i%26))
		sink = make([]byte, 1024)
	}
	s := int32(0)
	for k, v := range m {
		s += k + int32(len(v))
	}
	return s
}

var sieve [1 << 16]bool

//go:noinline
func mark(i int) { sieve[i] = true }

// crunch counts the primes below 65536 n times: loops and calls, no allocation.
//
//go:wasmexport crunch
func crunch(n int32) int32 {
	count := int32(0)
	for r := int32(0); r < n; r++ {
		count = 0
		clear(sieve[:])
		for i := 2; i < len(sieve); i++ {
			if !sieve[i] {
				count++
				for j := i * i; j < len(sieve); j += i {
					mark(j)
				}
			}
		}
	}
	return count
}

//go:wasmexport spin
func spin() {
	for {
	}
}

func main() {}
`
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module guest\n\ngo 1.24\n"), 0o600); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "guest.wasm")
	cmd := exec.Command(goTool, "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, errors.New(string(msg))
	}
	return os.ReadFile(out)
})

func goGuest(t testing.TB) []byte {
	t.Helper()
	wasm, err := goModule()
	if err != nil {
		t.Skipf("cannot build the Go wasip1 guest: %v", err)
	}
	return wasm
}

func TestInstrument_GoGuest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	wasm := goGuest(t)
	r := newRuntime(t, wazero.NewRuntimeConfigCompiler())
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	out := mustInstrument(t, wasm, Options{})
	compiled, err := r.CompileModule(ctx, out)
	if err != nil {
		t.Fatalf("CompileModule: %v", err)
	}
	mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	fuel := fuelGlobal(t, mod)
	fuel.Set(1 << 40)
	if _, err := mod.ExportedFunction("_initialize").Call(ctx); err != nil {
		t.Fatalf("_initialize: %v", err)
	}
	t.Logf("_initialize used %d fuel; module %d -> %d bytes", 1<<40-int64(fuel.Get()), len(wasm), len(out))
	if got, err := mod.ExportedFunction("add").Call(ctx, 40, 2); err != nil || got[0] != 42 {
		t.Fatalf("add(40, 2) = %v, %v; want 42", got, err)
	}
	const n = 2000
	if got, err := mod.ExportedFunction("work").Call(ctx, n); err != nil || int32(got[0]) != n*(n-1)/2+n {
		t.Fatalf("work(%d) = %v, %v; want %d", n, got, err, n*(n-1)/2+n)
	}
	if got, err := mod.ExportedFunction("crunch").Call(ctx, 2); err != nil || got[0] != 6542 {
		t.Fatalf("crunch(2) = %v, %v; want 6542", got, err)
	}
	fuel.Set(1_000_000)
	if _, err := mod.ExportedFunction("spin").Call(ctx); err == nil || int64(fuel.Get()) >= 0 {
		t.Fatalf("spin: err = %v, fuel = %d; want an out-of-fuel trap", err, int64(fuel.Get()))
	}
}

// exceptionModule is a module that throws in a loop and catches with try_table (which wat2wasm
// 1.0.32 cannot assemble):
//
//	(tag (param i32))
//	(func $thrower (param i32) (throw 0 (local.get 0)))
//	(func (export "eh") (param $n i32) (result i32) (local $i i32) (local $acc i32)
//	  (loop $l
//	    (block $h (result i32)
//	      (try_table (catch 0 $h) (call $thrower (local.get $i)))
//	      (i32.const 0))
//	    (local.set $acc (i32.add (local.get $acc)))
//	    (br_if $l (i32.lt_s (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
//	  (local.get $acc))
func exceptionModule() []byte {
	thrower := []byte{0x00, 0x20, 0x00, 0x08, 0x00, 0x0b}
	eh := []byte{
		0x01, 0x02, 0x7f, // two i32 locals
		0x03, 0x40, // loop
		0x02, 0x7f, // block (result i32)
		0x1f, 0x40, 0x01, 0x00, 0x00, 0x00, // try_table (catch 0 0)
		0x20, 0x01, 0x10, 0x00, // local.get 1, call 0
		0x0b, 0x41, 0x00, 0x0b, // end, i32.const 0, end
		0x20, 0x02, 0x6a, 0x21, 0x02, // acc += caught
		0x20, 0x01, 0x41, 0x01, 0x6a, 0x22, 0x01, 0x20, 0x00, 0x48, 0x0d, 0x00, // br_if
		0x0b, 0x20, 0x02, 0x0b,
	}
	code := []byte{0x02}
	code = append(appendU32(code, uint32(len(thrower))), thrower...)
	code = append(appendU32(code, uint32(len(eh))), eh...)
	return module(
		sec(secType, 0x02, 0x60, 0x01, 0x7f, 0x00, 0x60, 0x01, 0x7f, 0x01, 0x7f),
		sec(secFunction, 0x02, 0x00, 0x01),
		sec(secTag, 0x01, 0x00, 0x00),
		sec(secExport, 0x01, 0x02, 'e', 'h', 0x00, 0x01),
		sec(secCode, code...),
	)
}

// TestInstrument_Exceptions runs a function that catches exceptions in a loop: it keeps its fuel
// in the global, so the charges of the frames the exception left are not lost.
func TestInstrument_Exceptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().
		WithCoreFeatures(api.CoreFeaturesV2|experimental.CoreFeaturesExceptionHandling))
	t.Cleanup(func() { _ = r.Close(ctx) }) // closing a runtime only releases memory
	mod, err := r.Instantiate(ctx, mustInstrument(t, exceptionModule(), Options{}))
	if err != nil {
		t.Fatal(err)
	}
	fuel := fuelGlobal(t, mod)
	const budget, n = 1000, 10
	fuel.Set(budget)
	got, err := mod.ExportedFunction("eh").Call(ctx, n)
	if err != nil || got[0] != n*(n-1)/2 {
		t.Fatalf("eh(%d) = %v, %v; want %d", n, got, err, n*(n-1)/2)
	}
	// The entry and the final local.get, n loop iterations of 17 units (try_table, local.get, call,
	// i32.const, 3 to add, 7 to count and branch), n calls of the thrower (local.get, throw).
	if used, want := budget-int64(fuel.Get()), int64(DefaultEntryCost+1+n*(DefaultLoopCost+17)+n*(DefaultEntryCost+2)); used != want {
		t.Errorf("eh(%d) used %d fuel, want %d", n, used, want)
	}
	fuel.Set(DefaultEntryCost)
	if _, err := mod.ExportedFunction("eh").Call(ctx, n); err == nil || int64(fuel.Get()) >= 0 {
		t.Errorf("eh(%d) with %d fuel: err = %v, fuel = %d; want an out-of-fuel trap", n, DefaultEntryCost, err, int64(fuel.Get()))
	}
}
