package policytest

import (
	"errors"
	"testing"

	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// TestSDKGuestError: the error a Go policy's Key or Decide returns reaches
// the host's CallError (through the SDK's flowcache_error), not only
// "key returned -1"; the instance is kept.
func TestSDKGuestError(t *testing.T) {
	t.Parallel()
	m := Load(t, Build(t, "./testdata/keyerror"), nil)
	r := &policy.Request{Method: []byte("GET"), Scheme: []byte("https"), Host: []byte("example.com"), Path: []byte("/")}
	var k policy.Key
	err := m.Key(r, &k)
	if !errors.Is(err, plugins.ErrGuest) || err.Error() != `plugins: policy "TestSDKGuestError": key: guest error: Key: no rule for host example.com` {
		t.Errorf("Key = %v", err)
	}
	d := policy.Decision{Store: true}
	err = m.Decide(r, &policy.Response{Status: 404}, &d)
	if !errors.Is(err, plugins.ErrGuest) || err.Error() != `plugins: policy "TestSDKGuestError": decide: guest error: Decide: status 4xx has no rule` {
		t.Errorf("Decide = %v", err)
	}
	if s := m.Stats(); s.GuestErrors != 2 || s.InstancesDiscarded != 0 {
		t.Errorf("Stats = %+v, want 2 guest errors and no instance discarded", s)
	}
}
