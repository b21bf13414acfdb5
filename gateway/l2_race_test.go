//go:build race

package gateway_test

// l2TimeScale stretches the propagation deadlines of the L2 tests under the
// race detector, which slows every goroutine down several times.
const l2TimeScale = 5
