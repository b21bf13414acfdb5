package plugins

// fuelGlobal is the exported mutable i64 global the meter adds.
const fuelGlobal = "flowcache_fuel"

// metering reports whether modules get a CPU budget. It is false until the
// instrumenter (plugins/internal/meter) lands: without it a looping guest
// cannot be stopped, so do not load untrusted modules yet.
const metering = false

// instrument adds fuel metering to wasm; a placeholder until
// plugins/internal/meter is committed.
func instrument(wasm []byte) ([]byte, error) { return wasm, nil }
