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
		return nil, fmt.Errorf("%w: %w", ErrMalformed, meterDetail(err))
	case errors.Is(err, meter.ErrNameTaken):
		return nil, fmt.Errorf("%w: the module exports %q or %q itself (reserved for the fuel budget)", ErrExport, fuelGlobal, stopGlobal)
	default:
		return nil, fmt.Errorf("%w: cannot add the CPU budget: %w", ErrMalformed, meterDetail(err))
	}
}

// meterDetail returns err, an error of package meter, without the text of
// meter's sentinel ("meter: malformed module") that the ErrMalformed the
// caller wraps already says: what is wrong and where ("code section:
// function body 3: offset 0x2a: ..."), "unsupported: " first for a module
// meter does not know. It wraps err (errors.Is still finds meter's
// sentinels).
func meterDetail(err error) error {
	var me *meter.Error
	if !errors.As(err, &me) {
		return err
	}
	if errors.Is(me.Err, meter.ErrUnsupported) {
		return &detailError{msg: "unsupported: " + me.Detail, err: err}
	}
	return &detailError{msg: me.Detail, err: err}
}

// detailError is an error of meter printed as its detail alone.
type detailError struct {
	msg string
	err error
}

func (e *detailError) Error() string { return e.msg }
func (e *detailError) Unwrap() error { return e.err }
