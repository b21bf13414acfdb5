package plugins

import (
	"errors"
	"fmt"

	"github.com/flowcache/flowcache/plugins/internal/meter"
)

// fuelGlobal and stopGlobal are the exported mutable i64 globals the meter
// adds: the fuel left, and the level below which a charge traps (the
// watchdog raises it to stop a call).
const (
	fuelGlobal = meter.GlobalName
	stopGlobal = meter.StopName
)

// instrument adds fuel metering to wasm (see package meter).
func instrument(wasm []byte) ([]byte, error) {
	out, err := meter.Instrument(wasm, meter.Options{InitialFuel: initFuel})
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, meter.ErrMalformed):
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	case errors.Is(err, meter.ErrNameTaken):
		return nil, fmt.Errorf("%w: the module exports %q or %q itself (reserved for the fuel budget)", ErrExport, fuelGlobal, stopGlobal)
	default:
		return nil, fmt.Errorf("%w: cannot add the CPU budget: %w", ErrMalformed, err)
	}
}
