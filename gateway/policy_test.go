package gateway

import "github.com/flowcache/flowcache/policy"

// panicSource returns a policy that panics, to test recovery.
type panicSource struct{}

func (panicSource) Policy(string) (policy.Policy, bool) { return panicPolicy{}, true }

type panicPolicy struct{}

func (panicPolicy) Key(*policy.Request, *policy.Key) error { panic("boom") }
func (panicPolicy) Decide(*policy.Request, *policy.Response, *policy.Decision) error {
	panic("boom")
}
