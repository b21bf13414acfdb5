//go:build unix

package policytest

import (
	"syscall"
	"testing"
)

// ReportCPU starts measuring process CPU time; the function it returns adds
// a "cpu-ns/op" metric to b. On a loaded machine wall time (ns/op) includes
// the time other processes ran; CPU time does not. Use it as
//
//	defer policytest.ReportCPU(b)()
//
// after any setup, around the b.Loop.
func ReportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
