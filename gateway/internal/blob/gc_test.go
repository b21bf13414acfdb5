package blob

import (
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"testing"
	"time"
)

// TestStore_GCCost fills a store with FLOWCACHE_BLOB_GC_GIB GiB of 1 MiB
// values, then runs the same garbage-making work with the store full and
// with it empty, and reports the garbage collector's CPU per cycle and as
// a share of the process's: the values hold no pointers, so a cycle's
// cost does not grow with them. Off unless the variable is set (it needs
// that much memory):
//
//	FLOWCACHE_BLOB_GC_GIB=10 go test ./gateway/internal/blob -run GCCost -v
func TestStore_GCCost(t *testing.T) {
	gib, _ := strconv.ParseFloat(os.Getenv("FLOWCACHE_BLOB_GC_GIB"), 64)
	if gib <= 0 {
		t.Skip("set FLOWCACHE_BLOB_GC_GIB to the GiB of values to hold")
	}
	for _, size := range []float64{0, gib} {
		s := New(int64(size*(1<<30)) + 1<<30)
		for i := range int(size * 1024) {
			v := make([]byte, 1<<20)
			v[0] = byte(i)
			s.Set([]byte(strconv.Itoa(i)), v, 0, 1)
		}
		runtime.GC()
		cycles, gcCPU, allCPU, wall := gcWork()
		t.Logf("%5.1f GiB stored (%d values): %d GC cycles, %.0f µs GC CPU per cycle (assist, dedicated, pause), GC %.1f%% of CPU, work %v",
			size, s.Len(), cycles, 1e6*gcCPU/float64(max(cycles, 1)), 100*gcCPU/allCPU, wall.Round(time.Millisecond))
		runtime.KeepAlive(s)
	}
}

var sink []*[64]byte

// gcWork makes pointer-holding garbage and returns what the garbage
// collector spent meanwhile.
func gcWork() (cycles uint64, gcCPU, allCPU float64, wall time.Duration) {
	samples := []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		// GC work without the idle mark workers, which only use CPU no
		// goroutine wanted.
		{Name: "/cpu/classes/gc/mark/assist:cpu-seconds"},
		{Name: "/cpu/classes/gc/mark/dedicated:cpu-seconds"},
		{Name: "/cpu/classes/gc/pause:cpu-seconds"},
		{Name: "/cpu/classes/total:cpu-seconds"},
	}
	metrics.Read(samples)
	gc := func() float64 {
		return samples[1].Value.Float64() + samples[2].Value.Float64() + samples[3].Value.Float64()
	}
	c0, g0, a0 := samples[0].Value.Uint64(), gc(), samples[4].Value.Float64()
	start := time.Now()
	for range 200 {
		sink = make([]*[64]byte, 0, 4096)
		for range 4096 {
			sink = append(sink, new([64]byte))
		}
	}
	// Force a few cycles too, so that a store that makes the heap target
	// large (fewer cycles) is still measured per cycle.
	for range 5 {
		runtime.GC()
	}
	wall = time.Since(start)
	metrics.Read(samples)
	return samples[0].Value.Uint64() - c0, gc() - g0, samples[4].Value.Float64() - a0, wall
}
