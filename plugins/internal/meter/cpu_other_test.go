//go:build !linux

package meter

// threadCPU is not measured on this system.
func threadCPU() int64 { return 0 }
