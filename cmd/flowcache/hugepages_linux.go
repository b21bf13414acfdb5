package main

import (
	"bytes"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// # Huge pages for the start's loads
//
// Loading a policy allocates tens of megabytes that are touched once
// (wazero's decoded module; on the interpreter, about 70 MB of translated
// code per 2.3 MB Go module). Each 4 KiB page costs a page fault, and on
// a virtual machine a fault costs microseconds (the host faults too): on
// the 2-core development VM, faults were a third of the CPU of a start
// with the five examples, and the start took 0.5 s instead of 1.5 s from
// nothing, 0.3 s instead of 0.55 s from the compilation cache, with the
// kernel's transparent huge pages set to "always".
//
// Go does not ask for huge pages for its heap (it stopped in Go 1.21.1),
// and many kernels (Ubuntu's, the development VM's) give them only to memory that asks
// (transparent_hugepage/enabled: "madvise"). So, before the start's loads,
// startHugePages grows the heap by 512 MiB with one allocation, which
// fresh memory from the OS lets Go make without touching it, asks for
// huge pages on that range (madvise MADV_HUGEPAGE), and frees it (one
// GC): the loads then allocate in it. When they end, the range is set
// back to no huge pages (MADV_NOHUGEPAGE, which is what "madvise" gives
// memory that did not ask), so that the kernel does not collapse pages
// there later, which the Go runtime's scavenger does not expect. Memory
// the process touches is what it would have touched with small pages,
// rounded to 2 MiB.

// hugeGrow is the address space startHugePages sets aside: the five
// examples from nothing peak at about 470 MB.
const hugeGrow = 512 << 20

const (
	madvHugePage   = 14 // MADV_HUGEPAGE
	madvNoHugePage = 15 // MADV_NOHUGEPAGE
	hugePageSize   = 2 << 20
)

// thpMode is the kernel's transparent huge page setting.
const thpMode = "/sys/kernel/mm/transparent_hugepage/enabled"

// startHugePages prepares huge pages for the loads that follow (see
// above) and returns the function that ends it. It does nothing (and
// returns a function that does nothing) unless the kernel's setting is
// "madvise".
func startHugePages() (end func()) {
	start, n, ok := setAsideHugePages()
	if !ok {
		return func() {}
	}
	return func() { _ = madvise(start, n, madvNoHugePage) } // best effort: nothing else to do
}

// setAsideHugePages sets hugeGrow bytes of heap aside for huge pages and
// returns the range marked, if the kernel's setting is "madvise".
func setAsideHugePages() (start, n uintptr, ok bool) {
	mode, err := os.ReadFile(thpMode)
	if err != nil || !bytes.Contains(mode, []byte("[madvise]")) {
		return 0, 0, false
	}
	b := make([]byte, hugeGrow)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start = (p + hugePageSize - 1) &^ (hugePageSize - 1)
	n = (p+hugeGrow)&^(hugePageSize-1) - start
	if madvise(start, n, madvHugePage) != nil {
		return 0, 0, false
	}
	runtime.KeepAlive(b) // and no further: the GC frees it
	runtime.GC()
	return start, n, true
}

func madvise(addr, n uintptr, advice int) error {
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, addr, n, uintptr(advice)); e != 0 {
		return e
	}
	return nil
}
