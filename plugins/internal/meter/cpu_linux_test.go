package meter

import (
	"syscall"
	"unsafe"
)

// threadCPU returns the CPU time of the calling thread, in nanoseconds. Benchmarks lock their
// goroutine to its thread and report it beside the wall time, which on a shared machine counts
// the time other processes hold the CPU.
func threadCPU() int64 {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return ts.Nano()
}
