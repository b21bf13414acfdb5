package plugins

import (
	"runtime"
	"time"
)

// runtimeGC runs a GC and gives cleanups (which run on their own goroutine)
// a moment to finish. Used only to observe pool drops, not as an assertion
// on time.
func runtimeGC() {
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
}
