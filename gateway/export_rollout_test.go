package gateway

import "time"

// SetPolicyGC shortens the collection of unused policy modules in Redis
// (policysync.go) for the tests of this package. It is not undone: every
// test runs against its own Redis, and a shorter collection is still
// correct.
func SetPolicyGC(interval, grace time.Duration) {
	policyGCInterval.Store(int64(interval))
	policyModuleGrace.Store(int64(grace))
}
