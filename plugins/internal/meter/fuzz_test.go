package meter

import (
	"context"
	"errors"
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
	f.Add(oneFunc(0xfd, 0x0c, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x1a, 0x0b))

	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(fuzzFeatures))
	f.Cleanup(func() { _ = r.Close(ctx) }) // closing a runtime only releases memory
	compiles := func(wasm []byte) error {
		c, err := r.CompileModule(ctx, wasm)
		if err == nil {
			_ = c.Close(ctx) // frees the compiled code; cannot fail
		}
		return err
	}

	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := Instrument(wasm, Options{})
		valid := compiles(wasm) == nil
		if err != nil {
			if valid && !errors.Is(err, ErrNameTaken) {
				t.Fatalf("wazero compiles the module, Instrument fails: %v", err)
			}
			return
		}
		if _, err := Instrument(out, Options{}); !errors.Is(err, ErrNameTaken) {
			t.Fatalf("instrumenting the output: err = %v, want ErrNameTaken", err)
		}
		if valid {
			if err := compiles(out); err != nil {
				t.Fatalf("the input compiles, the output does not: %v", err)
			}
		}
	})
}
