package plugins

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/flowcache/flowcache/policy"
	"github.com/flowcache/flowcache/wasm/abi"
)

func benchKey(b *testing.B, p policy.Policy) {
	req := benchRequest()
	k := &policy.Key{Host: make([]byte, 0, 64), Target: make([]byte, 0, 256), Variant: make([]byte, 0, 64)}
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		k.Reset()
		if err := p.Key(req, k); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// BenchmarkModule_Key is the key call of a non-Go (WAT) guest, metered, on
// the realistic request; BenchmarkDefault_Key is the native baseline.
func BenchmarkModule_Key(b *testing.B) {
	m := mustLoad(b, newTestRuntime(b, Options{}), "minimal", minimalWasm, nil)
	benchKey(b, m)
}

// BenchmarkModule_KeyUnmetered is BenchmarkModule_Key without the fuel
// budget: the difference is the CPU budget's overhead per call.
func BenchmarkModule_KeyUnmetered(b *testing.B) {
	m := mustLoad(b, newTestRuntime(b, Options{noMeter: true}), "minimal", minimalWasm, nil)
	benchKey(b, m)
}

func BenchmarkDefault_Key(b *testing.B) {
	benchKey(b, policy.Default{})
}

// BenchmarkModule_KeyParallel runs the key call on every P through the
// pool, for the WAT test policy and a Go guest.
func BenchmarkModule_KeyParallel(b *testing.B) {
	for _, tt := range parallelGuests {
		b.Run(tt.name, func(b *testing.B) {
			benchKeyParallel(b, mustLoad(b, newTestRuntime(b, Options{}), tt.name, tt.wasm(b), nil), 0)
		})
	}
}

// BenchmarkModule_KeyParallelGC is BenchmarkModule_KeyParallel with a GC
// forced every millisecond, as a gateway's own garbage does: instances
// must survive the GCs that empty the sync.Pool. "instances" is the number
// created during the run (beyond one per slot, made before it).
func BenchmarkModule_KeyParallelGC(b *testing.B) {
	for _, tt := range parallelGuests {
		b.Run(tt.name, func(b *testing.B) {
			benchKeyParallel(b, mustLoad(b, newTestRuntime(b, Options{}), tt.name, tt.wasm(b), nil), time.Millisecond)
		})
	}
}

var parallelGuests = []struct {
	name string
	wasm func(testing.TB) []byte
}{
	{"wat", func(testing.TB) []byte { return minimalWasm }},
	{"go", goGuestWasm},
}

// benchKeyParallel measures m.Key from every P, with a runtime.GC every
// gcEvery (0: none).
func benchKeyParallel(b *testing.B, m *Module, gcEvery time.Duration) {
	fillSlots(b, m)
	created := m.Stats().InstancesCreated
	done := make(chan struct{})
	var wg sync.WaitGroup
	if gcEvery > 0 {
		wg.Go(func() {
			t := time.NewTicker(gcEvery)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					runtime.GC()
				}
			}
		})
	}
	b.ReportAllocs()
	b.ResetTimer() // RunParallel, unlike b.Loop, does not leave out the setup
	start := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		req := benchRequest()
		k := &policy.Key{}
		for pb.Next() {
			k.Reset()
			if err := m.Key(req, k); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	reportCPU(b, start)
	close(done)
	wg.Wait()
	b.ReportMetric(float64(m.Stats().InstancesCreated-created), "instances")
}

func BenchmarkDefault_KeyParallel(b *testing.B) {
	b.ReportAllocs()
	start := processCPU()
	defer reportCPU(b, start)
	b.RunParallel(func(pb *testing.PB) {
		req := benchRequest()
		k := &policy.Key{}
		for pb.Next() {
			k.Reset()
			if err := (policy.Default{}).Key(req, k); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchDecide(b *testing.B, p policy.Policy) {
	req := benchRequest()
	resp := &policy.Response{
		Status: 200, BodySize: 1234, Now: time.Unix(1700000000, 0),
		Headers: hdrs("Cache-Control", "max-age=60", "Content-Type", "application/json", "ETag", `"abc"`,
			"Date", "Tue, 14 Nov 2023 22:13:20 GMT"),
	}
	var d policy.Decision
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		d.Reset()
		if err := p.Decide(req, resp, &d); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

func BenchmarkModule_Decide(b *testing.B) {
	m := mustLoad(b, newTestRuntime(b, Options{}), "minimal", minimalWasm, nil)
	benchDecide(b, m)
}

func BenchmarkDefault_Decide(b *testing.B) {
	benchDecide(b, policy.Default{})
}

// BenchmarkModule_KeyParts splits a key call into its parts: an empty guest
// call, the pool round trip, encoding, the guest's key function, decoding.
func BenchmarkModule_KeyParts(b *testing.B) {
	m := mustLoad(b, newTestRuntime(b, Options{}), "minimal", minimalWasm, nil)
	inst, _ := m.get()
	req := benchRequest()
	ver := inst.mod.ExportedFunction(abi.ExportABIVersion)
	b.Run("emptycall", func(b *testing.B) {
		for b.Loop() {
			inst.setFuel(1000)
			if err := ver.CallWithStack(m.ctx, inst.stack[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pool", func(b *testing.B) {
		for b.Loop() {
			i, _ := m.get()
			m.put(i)
		}
	})
	var blob []byte
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			r := requestFields(req)
			blob = abi.AppendRequest(inst.input(), &r)
			blob = m.appendRequestHeaders(blob, 0, req)
		}
	})
	var res uint64
	b.Run("guestkey", func(b *testing.B) {
		for b.Loop() {
			res, _ = inst.call(m.ctx, inst.key, m.fuel, uint32(len(blob)))
		}
	})
	b.Run("decode", func(b *testing.B) {
		k := &policy.Key{}
		for b.Loop() {
			ptr, n := abi.Unpack(res)
			out, _ := inst.mem.Read(ptr, n)
			var ak abi.Key
			if err := abi.DecodeKey(out, &ak); err != nil {
				b.Fatal(err)
			}
			k.Reset()
			k.Host = append(k.Host, ak.Host...)
			k.Target = append(k.Target, ak.Target...)
			k.Variant = append(k.Variant, ak.Variant...)
		}
	})
}

// BenchmarkModule_KeyRunaway measures how long a runaway call takes to be
// stopped with the default budget (plus creating the replacement instance):
// the worst latency a hostile module adds to a request, and the longest a
// Go stop-the-world waits for a call.
func BenchmarkModule_KeyRunaway(b *testing.B) {
	for _, tt := range []struct {
		name string
		wasm []byte
	}{{"loop", loopWasm}, {"recursion", recursionWasm}, {"trap", trapWasm}} {
		b.Run(tt.name, func(b *testing.B) {
			m := mustLoad(b, newTestRuntime(b, Options{}), tt.name, tt.wasm, nil)
			req := benchRequest()
			var k policy.Key
			start := processCPU()
			for b.Loop() {
				if err := m.Key(req, &k); err == nil {
					b.Fatal("runaway call succeeded")
				}
			}
			reportCPU(b, start)
		})
	}
}
