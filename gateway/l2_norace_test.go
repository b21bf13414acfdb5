//go:build !race

package gateway_test

// l2TimeScale stretches the propagation deadlines of the L2 tests (1
// without the race detector).
const l2TimeScale = 1
