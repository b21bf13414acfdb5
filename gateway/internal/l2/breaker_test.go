package l2

import "testing"

func TestBreaker(t *testing.T) {
	t.Parallel()
	// Each step: an operation, then the state expected after it.
	type step struct {
		op   string // "ok", "fail", "probe", "allow", "deny", "release"
		want State
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"opens_after_threshold", []step{
			{"fail", StateClosed}, {"fail", StateClosed}, {"fail", StateOpen}, {"deny", StateOpen},
		}},
		{"success_resets_count", []step{
			{"fail", StateClosed}, {"fail", StateClosed}, {"ok", StateClosed},
			{"fail", StateClosed}, {"fail", StateClosed}, {"fail", StateOpen},
		}},
		{"half_open_one_trial_closes", []step{
			{"fail", StateClosed}, {"fail", StateClosed}, {"fail", StateOpen},
			{"probe", StateHalfOpen}, {"allow", StateHalfOpen}, {"deny", StateHalfOpen},
			{"ok", StateClosed}, {"allow", StateClosed}, {"allow", StateClosed},
		}},
		{"half_open_failure_reopens", []step{
			{"fail", StateClosed}, {"fail", StateClosed}, {"fail", StateOpen},
			{"probe", StateHalfOpen}, {"allow", StateHalfOpen}, {"fail", StateOpen}, {"deny", StateOpen},
		}},
		{"half_open_release_frees_trial", []step{
			{"fail", StateClosed}, {"fail", StateClosed}, {"fail", StateOpen},
			{"probe", StateHalfOpen}, {"allow", StateHalfOpen}, {"release", StateHalfOpen}, {"allow", StateHalfOpen},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBreaker(3)
			for i, s := range tc.steps {
				switch s.op {
				case "ok":
					b.success()
				case "fail":
					b.failure()
				case "probe":
					b.probed()
				case "release":
					b.release()
				case "allow":
					if !b.allow() {
						t.Fatalf("step %d: allow() = false, want true", i)
					}
				case "deny":
					if b.allow() {
						t.Fatalf("step %d: allow() = true, want false", i)
					}
				}
				if got := b.State(); got != s.want {
					t.Fatalf("step %d (%s): State() = %v, want %v", i, s.op, got, s.want)
				}
			}
		})
	}
}
