package meter

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// fuzzFeatures are all the features wazero v1.12 can decode.
const fuzzFeatures = api.CoreFeaturesV2 | experimental.CoreFeaturesThreads | experimental.CoreFeaturesTailCall |
	experimental.CoreFeaturesExtendedConst | experimental.CoreFeaturesExceptionHandling |
	experimental.CoreFeaturesTypedFunctionReferences

// FuzzInstrument checks that Instrument never panics, that it accepts what wazero accepts
// (unless the module already uses the fuel global's name), and that its output compiles whenever
// its input does.
func FuzzInstrument(f *testing.F) {
	names, err := fs.Glob(fixtures, "testdata/*.wasm")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range names {
		b, err := fixtures.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(oneFunc(0x03, 0x40, 0x0b, 0x0b))
	f.Add(exceptionModule())
	f.Add(oneFunc(0xfd, 0x0c, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x1a, 0x0b))

	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(fuzzFeatures))
	f.Cleanup(func() { _ = r.Close(ctx) }) // closing a runtime only releases memory
	compiles := func(wasm []byte) (err error) {
		defer func() {
			// wazero v1.12 panics on some invalid modules (ref.func of an undeclared function
			// with typed function references): count them as not compiling.
			if p := recover(); p != nil {
				err = fmt.Errorf("wazero panicked: %v", p)
			}
		}()
		c, err := r.CompileModule(ctx, wasm)
		if err == nil {
			_ = c.Close(ctx) // frees the compiled code; cannot fail
		}
		return err
	}

	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := Instrument(wasm, Options{})
		if err != nil {
			// wazero v1.12 allocates what a module declares before it validates: 6 GB for a
			// forged export count, a byte per declared local (4 GB for a 10-byte body).
			// Compile only what is sane apart from its instructions.
			if _, serr := instrument(wasm, Options{}, skipCode); serr != nil {
				return
			}
			if compiles(wasm) == nil && !errors.Is(err, ErrNameTaken) {
				t.Fatalf("wazero compiles the module, Instrument fails: %v", err)
			}
			return
		}
		valid := compiles(wasm) == nil
		if _, err := Instrument(out, Options{}); !errors.Is(err, ErrNameTaken) {
			t.Fatalf("instrumenting the output: err = %v, want ErrNameTaken", err)
		}
		if valid {
			if err := compiles(out); err != nil {
				t.Fatalf("the input compiles, the output does not: %v", err)
			}
			global, err := instrument(wasm, Options{}, globalOnly)
			if err != nil {
				t.Fatalf("Instrument succeeds, instrument with the fuel in the global fails: %v", err)
			}
			if err := compiles(global); err != nil {
				t.Fatalf("the input compiles, the output with the fuel in the global does not: %v", err)
			}
		}
	})
}
