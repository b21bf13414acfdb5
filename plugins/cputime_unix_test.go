//go:build unix

package plugins

import (
	"syscall"
	"testing"
	"time"
)

// processCPU returns the CPU time (user + system) used by this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a "cpu-ns/op" metric: process CPU time per operation. On a
// machine shared with other work, ns/op (wall time) grows with the load while
// cpu-ns/op does not; quote both.
func reportCPU(b *testing.B, start time.Duration) {
	if n := b.N; n > 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(n), "cpu-ns/op")
	}
}
