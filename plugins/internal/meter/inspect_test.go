package meter

import (
	"errors"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestInspect(t *testing.T) {
	t.Parallel()
	mod, err := Inspect(fixture(t, "inspect.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Module{
		Imports: []Import{
			{Module: "wasi_snapshot_preview1", Name: "fd_write", Kind: KindFunction},
			{Module: "env", Name: "t", Kind: KindTable, Limits: Limits{Min: 1, Max: 8, HasMax: true}},
			{Module: "env", Name: "g", Kind: KindGlobal},
		},
		Memories: []Limits{{Min: 2, Max: 10, HasMax: true}},
		Exports: []Export{
			{Name: "memory", Kind: KindMemory, Index: 0},
			{Name: "f", Kind: KindFunction, Index: 1},
			{Name: "h", Kind: KindGlobal, Index: 1},
		},
	}
	if !reflect.DeepEqual(mod, want) {
		t.Errorf("Inspect(inspect.wasm) =\n%+v\nwant\n%+v", mod, want)
	}
}

// TestInspect_NameTaken: a module that already exports the fuel global's name cannot be
// instrumented, but it can be inspected.
func TestInspect_NameTaken(t *testing.T) {
	t.Parallel()
	wasm := fixture(t, "taken.wasm")
	if _, err := Instrument(wasm, Options{}); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("Instrument(taken.wasm) = %v, want ErrNameTaken", err)
	}
	mod, err := Inspect(wasm)
	if err != nil || len(mod.Exports) != 1 || mod.Exports[0].Name != GlobalName {
		t.Errorf("Inspect(taken.wasm) = %+v, %v, want its one export %s", mod, err, GlobalName)
	}
}

func TestInspect_Errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		b        []byte
		sentinel error
		want     string
	}{
		{"empty", nil, ErrMalformed, `not a WebAssembly binary (no \0asm magic)`},
		{"version", []byte("\x00asm\x02\x00\x00\x00"), ErrUnsupported, "binary version 02 00 00 00, want 01 00 00 00"},
		{"section overrun", []byte("\x00asm\x01\x00\x00\x00\x05\x10\x01"), ErrMalformed, "memory section: offset 0x8: section size 16 beyond the end of the module"},
		{"bad leb", []byte("\x00asm\x01\x00\x00\x00\x05\xff\xff\xff\xff\xff\x01"), ErrMalformed, "memory section: offset 0x9"},
		{"memory64", []byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x04\x01"), ErrUnsupported, "memory section: offset 0xb: 64-bit limits (memory64) not supported"},
		{"limits flags", []byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x08\x01"), ErrMalformed, "memory section: offset 0xb: invalid limits flags 0x8"},
		{"import kind", []byte("\x00asm\x01\x00\x00\x00\x02\x05\x01\x00\x00\x07\x00"), ErrMalformed, "import section: offset 0xd: import 0: invalid kind 0x7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Inspect(tt.b)
			if !errors.Is(err, tt.sentinel) || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Inspect(%q) = %v, want %v containing %q", tt.b, err, tt.sentinel, tt.want)
			}
		})
	}
}

// FuzzInspect checks that Inspect never panics, that it accepts every module Instrument accepts,
// and that it reports the exports of such a module, which the instrumented module exports too
// (with the two fuel globals after them).
func FuzzInspect(f *testing.F) {
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
	f.Fuzz(func(t *testing.T, wasm []byte) {
		mod, ierr := Inspect(wasm)
		out, err := Instrument(wasm, Options{})
		if err != nil {
			return
		}
		if ierr != nil {
			t.Fatalf("Instrument accepts the module, Inspect fails: %v", ierr)
		}
		got, err := Inspect(out)
		if err != nil {
			t.Fatalf("Inspect(Instrument(m)): %v", err)
		}
		n := len(mod.Exports)
		if len(got.Exports) != n+2 || !slices.Equal(got.Exports[:n], mod.Exports) ||
			got.Exports[n].Name != GlobalName || got.Exports[n+1].Name != StopName {
			t.Fatalf("exports of the instrumented module = %+v, want %+v and the fuel globals", got.Exports, mod.Exports)
		}
		if !slices.Equal(got.Imports, mod.Imports) {
			t.Fatalf("imports of the instrumented module = %+v, want %+v", got.Imports, mod.Imports)
		}
	})
}
