package meter

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// module builds a binary module from sections.
func module(sections ...[]byte) []byte {
	return append(append([]byte(nil), header...), join(sections...)...)
}

func join(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// sec builds a section with the given payload.
func sec(id byte, payload ...byte) []byte {
	return appendSection(nil, id, payload)
}

// oneFunc builds a module with one function of type [] -> [] whose code (locals declarations
// excluded, final end included) is code.
func oneFunc(code ...byte) []byte {
	body := append([]byte{0x00}, code...) // no locals
	return module(
		sec(secType, 0x01, 0x60, 0x00, 0x00),
		sec(secFunction, 0x01, 0x00),
		sec(secCode, join([]byte{0x01}, appendU32(nil, uint32(len(body))), body)...),
	)
}

func TestInstrument_Errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		wasm []byte
		opts Options
		want error
		msg  string // part of the message
	}{
		{"empty", nil, Options{}, ErrMalformed, "magic"},
		{"bad magic", []byte("\x00asx\x01\x00\x00\x00"), Options{}, ErrMalformed, "magic"},
		{"version 2", []byte("\x00asm\x02\x00\x00\x00"), Options{}, ErrUnsupported, "version"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), Options{}, ErrUnsupported, "version"},
		{"truncated section size", module([]byte{secType, 0x80}), Options{}, ErrMalformed, "section size"},
		{"section beyond end", module([]byte{secType, 0x05, 0x00}), Options{}, ErrMalformed, "beyond the end"},
		{"out of order", module(sec(secFunction, 0x00), sec(secType, 0x00)), Options{}, ErrMalformed, "type section: offset 0xb: section out of order"},
		{"repeated", module(sec(secType, 0x00), sec(secType, 0x00)), Options{}, ErrMalformed, "out of order or repeated"},
		{"data count after code", module(sec(secCode, 0x00), sec(secDataCount, 0x00)), Options{}, ErrMalformed, "out of order"},
		{"unknown section", module(sec(14, 0x00)), Options{}, ErrUnsupported, "unknown section id 14"},
		{"left-over bytes", module(sec(secType, 0x00, 0x00)), Options{}, ErrMalformed, "1 bytes left over"},
		{"forged count", module(sec(secType, 0xff, 0xff, 0xff, 0xff, 0x0f)), Options{}, ErrMalformed, "does not fit"},
		{"overlong u32", module(sec(secType, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00)), Options{}, ErrMalformed, "too long"},
		{"u32 over 32 bits", module(sec(secType, 0xff, 0xff, 0xff, 0xff, 0x1f)), Options{}, ErrMalformed, "out of range"},
		{"functions without code", module(sec(secType, 0x01, 0x60, 0x00, 0x00), sec(secFunction, 0x01, 0x00)), Options{}, ErrMalformed, "no code section"},
		{"body count mismatch", module(sec(secType, 0x01, 0x60, 0x00, 0x00), sec(secFunction, 0x01, 0x00), sec(secCode, 0x00)), Options{}, ErrMalformed, "0 function bodies for 1"},
		{"table too large", module(sec(secTable, 0x01, 0x70, 0x00, 0x81, 0xad, 0xe2, 0x04)), Options{}, ErrUnsupported, "table of 10000001 elements"},
		{"imported table too large", module(sec(secImport, 0x01, 0x01, 'm', 0x01, 't', 0x01, 0x70, 0x00, 0x81, 0xad, 0xe2, 0x04)), Options{}, ErrUnsupported, "table of 10000001 elements"},
		{"tables too large", module(sec(secTable, 0x02, 0x70, 0x00, 0x80, 0xad, 0xe2, 0x04, 0x70, 0x00, 0x01)), Options{}, ErrUnsupported, "tables of 10000001 elements in all"},
		{"memory64", module(sec(secMemory, 0x01, 0x04, 0x01)), Options{}, ErrUnsupported, "memory64"},
		{"bad value type", module(sec(secType, 0x01, 0x60, 0x01, 0x55, 0x00)), Options{}, ErrUnsupported, "unknown value type 0x55"},
		{"non-UTF-8 name", module(sec(secExport, 0x01, 0x01, 0xff, 0x00, 0x00)), Options{}, ErrMalformed, "not UTF-8"},
		{"name taken", fixture(t, "taken.wasm"), Options{}, ErrNameTaken, "export 0"},
		{"negative cost", fixture(t, "runaway.wasm"), Options{LoopCost: -1}, ErrOptions, "LoopCost -1"},
		{"negative fuel", fixture(t, "runaway.wasm"), Options{InitialFuel: -1}, ErrOptions, "InitialFuel -1"},
		{"unknown opcode", oneFunc(0xd7, 0x0b), Options{}, ErrUnsupported, "function body 0: offset 0x17: unknown opcode 0xd7"},
		{"unknown 0xfc", oneFunc(0xfc, 0x12, 0x0b), Options{}, ErrUnsupported, "unknown opcode 0xfc 18"},
		{"unknown simd", oneFunc(0xfd, 0x9a, 0x01, 0x0b), Options{}, ErrUnsupported, "unknown opcode 0xfd 154"},
		{"relaxed simd", oneFunc(0xfd, 0x80, 0x02, 0x0b), Options{}, ErrUnsupported, "unknown opcode 0xfd 256"},
		{"unknown atomic", oneFunc(0xfe, 0x4f, 0x0b), Options{}, ErrUnsupported, "unknown opcode 0xfe 79"},
		{"bad block type", oneFunc(0x02, 0x55, 0x0b, 0x0b), Options{}, ErrUnsupported, "unknown block type"},
		{"no final end", oneFunc(0x01), Options{}, ErrMalformed, "no final end"},
		{"unclosed block", oneFunc(0x02, 0x40, 0x0b), Options{}, ErrMalformed, "no final end"},
		{"bytes after end", oneFunc(0x0b, 0x01), Options{}, ErrMalformed, "1 bytes after the final end"},
		{"truncated immediate", oneFunc(0x44, 0x00, 0x00), Options{}, ErrMalformed, "f64.const"},
		{"bad s32", oneFunc(0x41, 0xff, 0xff, 0xff, 0xff, 0x4f, 0x1a, 0x0b), Options{}, ErrMalformed, "s32"},
		{"bad s64", oneFunc(0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x1a, 0x0b), Options{}, ErrMalformed, "s64"},
		{"bad catch kind", oneFunc(0x1f, 0x40, 0x01, 0x04, 0x00, 0x0b, 0x0b), Options{}, ErrMalformed, "catch kind"},
		{"delegate outside try", oneFunc(0x18, 0x00, 0x0b), Options{}, ErrMalformed, "delegate outside try"},
		{"too many locals", module(
			sec(secType, 0x01, 0x60, 0x00, 0x00), sec(secFunction, 0x01, 0x00),
			sec(secCode, 0x01, 0x0e, 0x02, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0x0b)),
			Options{}, ErrUnsupported, "8589934590 parameters and locals, more than 50000"},
		{"locals over the limit", module(
			sec(secType, 0x01, 0x60, 0x00, 0x00), sec(secFunction, 0x01, 0x00),
			sec(secCode, 0x01, 0x06, 0x01, 0xd1, 0x86, 0x03, 0x7f, 0x0b)), // 50001 i32
			Options{}, ErrUnsupported, "50001 parameters and locals"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := Instrument(tt.wasm, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Instrument() err = %v, want %v", err, tt.want)
			}
			if out != nil {
				t.Errorf("Instrument() returned %d bytes with an error", len(out))
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "meter: ") || !strings.Contains(msg, tt.msg) {
				t.Errorf("Instrument() err = %q, want the prefix %q and %q", msg, "meter: ", tt.msg)
			}
		})
	}
}

// TestInstrument_Valid instruments small hand-made modules that wazero accepts and checks that
// the output still compiles: the decoder must skip each immediate exactly.
func TestInstrument_Valid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		wasm []byte
	}{
		{"empty module", module()},
		{"padded LEB128", module(sec(secType, 0x81, 0x80, 0x80, 0x80, 0x00, 0x60, 0x00, 0x00), sec(secFunction, 0x01, 0x80, 0x00),
			sec(secCode, 0x01, 0x85, 0x80, 0x00, 0x00, 0x03, 0x40, 0x0b, 0x0b))},
		{"loop at end", oneFunc(0x03, 0x40, 0x0b, 0x0b)},
		{"br_table many", oneFunc(0x02, 0x40, 0x41, 0x00, 0x0e, 0x03, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x0b)},
		{"custom sections everywhere", module(
			sec(secCustom, 0x01, 'a', 0x01), sec(secType, 0x01, 0x60, 0x00, 0x00), sec(secCustom, 0x01, 'b'),
			sec(secFunction, 0x01, 0x00), sec(secCustom, 0x01, 'c'),
			sec(secCode, 0x01, 0x05, 0x00, 0x03, 0x40, 0x0b, 0x0b), sec(secCustom, 0x01, 'd', 0x02, 0x03))},
	}
	r := newRuntime(t, wazero.NewRuntimeConfigInterpreter())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := r.CompileModule(context.Background(), tt.wasm); err != nil {
				t.Fatalf("CompileModule(input) = %v", err)
			}
			out := mustInstrument(t, tt.wasm, Options{})
			if _, err := r.CompileModule(context.Background(), out); err != nil {
				t.Fatalf("CompileModule(instrumented) = %v", err)
			}
		})
	}
}
