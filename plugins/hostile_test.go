package plugins

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/flowcache/flowcache/policy"
	"github.com/flowcache/flowcache/wasm/abi"
)

// hostileShapes are the shapes of testdata/hostile.wat, selected by the
// digit of its config ({"s":N}); its key call runs the shape when the path
// starts with "/spin".
var hostileShapes = []struct {
	name  string
	shape int
}{
	{"spin", 0}, {"mul", 1}, {"div", 2}, {"fdiv", 3}, {"copy", 4},
	{"recurse", 5}, {"indirect", 6}, {"growfill", 7}, {"deep", 8}, {"chase", 9},
}

// loadHostile loads testdata/hostile.wasm with shape and cfg (the defaults
// if nil).
func loadHostile(t testing.TB, rt *Runtime, shape int, cfg *Config) *Module {
	t.Helper()
	c := DefaultConfig()
	if cfg != nil {
		c = *cfg
	}
	c.Config = map[string]any{"s": shape}
	return mustLoad(t, rt, "hostile", hostileWasm, &c)
}

// hostileRequest is the realistic request, on a path that triggers the
// hostile shape.
func hostileRequest() *policy.Request {
	r := benchRequest()
	r.Path = []byte("/spin/forever")
	return r
}

// BenchmarkModule_Hostile measures the worst case of a key call under the
// default budget: the CPU time of the calling thread per call of each
// hostile shape, until its budget (or the call stack limit) stops it. The
// replacement of the discarded instance is made before each call, outside
// the measure. It is the longest a Go stop-the-world waits for a call.
//
//	go test ./plugins -run '^$' -bench 'Module_Hostile' -benchtime 20x
func BenchmarkModule_Hostile(b *testing.B) {
	rt := newTestRuntime(b, Options{})
	shapes := append(hostileShapes[:len(hostileShapes):len(hostileShapes)], struct {
		name  string
		shape int
	}{"growfill-small", -1})
	for _, tt := range shapes {
		b.Run(tt.name, func(b *testing.B) {
			var m *Module
			if tt.shape < 0 { // testdata/growfill.wasm: growfill from 2 pages
				m = mustLoad(b, rt, "growfill", growfillWasm, nil)
			} else {
				m = loadHostile(b, rt, tt.shape, nil)
			}
			req := hostileRequest()
			var k policy.Key
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var err error
			var cpu time.Duration
			for b.Loop() {
				inst, ierr := m.get() // the replacement instance, made outside the measure
				if ierr != nil {
					b.Fatal(ierr)
				}
				m.put(inst)
				start := threadCPU()
				err = m.Key(req, &k)
				cpu += threadCPU() - start
				if err == nil {
					b.Fatal("hostile call succeeded")
				}
			}
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			b.Logf("%s: %v (fuel: %v)", tt.name, err, errors.Is(err, ErrFuel))
		})
	}
}

// TestModule_FuelUse logs the fuel a realistic key call uses, for a WAT
// and a Go guest, and checks that it is a small part of the default
// budget: the weights bound hostile code without starving normal code.
func TestModule_FuelUse(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Options{})
	for _, tt := range parallelGuests {
		m := mustLoad(t, rt, tt.name, tt.wasm(t), nil)
		inst, err := m.get()
		if err != nil {
			t.Fatal(err)
		}
		req := benchRequest()
		r := requestFields(req)
		blob := abi.AppendRequest(inst.input(), &r)
		blob = m.appendRequestHeaders(blob, 0, req)
		if _, err := inst.call(m.ctx, inst.key, DefaultFuel, uint32(len(blob))); err != nil { //nolint:gosec // a small blob
			t.Fatalf("%s: key: %v", tt.name, err)
		}
		used := DefaultFuel - int64(inst.fuel.Get()) //nolint:gosec // the fuel global is an i64
		t.Logf("%s guest: a key call uses %d fuel (%.2f%% of the default budget)", tt.name, used, 100*float64(used)/DefaultFuel)
		if used <= 0 || used > DefaultFuel/100 {
			t.Errorf("%s guest: a key call uses %d fuel, want (0, %d]", tt.name, used, DefaultFuel/100)
		}
		m.put(inst)
	}
}
