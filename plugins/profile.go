package plugins

import "sync/atomic"

// fuelProfile adds up the fuel of a Module's guest calls
// ([Options].Profile).
type fuelProfile struct {
	calls, fuel, max atomic.Uint64
}

// recordFuel records the fuel the call that just returned burned, out of
// budget.
func (inst *core) recordFuel(budget int64) {
	if inst.fuel == nil {
		return
	}
	left := int64(inst.fuel.Get()) //nolint:gosec // the fuel global is an i64
	used := uint64(max(budget-left, 0))
	p := &inst.m.prof
	p.calls.Add(1)
	p.fuel.Add(used)
	for {
		m := p.max.Load()
		if used <= m || p.max.CompareAndSwap(m, used) {
			return
		}
	}
}

// FuelProfile is the fuel burned by a Module's key and decide calls
// since it was loaded, recorded only with [Options].Profile on a metered
// runtime.
type FuelProfile struct {
	// Calls counts the guest calls measured (key and decide; not
	// flowcache_alloc), Fuel adds up their fuel, Max is the largest.
	Calls, Fuel, Max uint64
}

// FuelProfile returns the fuel recorded so far. A tool measures one kind
// of call by the difference of two readings.
func (m *Module) FuelProfile() FuelProfile {
	return FuelProfile{Calls: m.prof.calls.Load(), Fuel: m.prof.fuel.Load(), Max: m.prof.max.Load()}
}

// InstanceMemory returns the number of live instances of the module and
// the sum of their linear memories, in bytes: the guest memory the module
// holds now (those parked, in use or pooled).
func (m *Module) InstanceMemory() (instances int, bytes uint64) {
	m.liveMu.Lock()
	defer m.liveMu.Unlock()
	for c := range m.live {
		instances++
		bytes += uint64(c.mem.Size())
	}
	return instances, bytes
}
