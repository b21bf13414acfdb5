package poll

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeTB records Fatalf instead of ending the test.
type fakeTB struct {
	testing.TB
	msg string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f) // Fatalf does not return
}

func TestWaitFor(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	WaitFor(t, "the third call", func() bool { return n.Add(1) == 3 })
	if got := n.Load(); got != 3 {
		t.Errorf("cond called %d times, want 3", got)
	}
}

func TestWaitForWithin_timeout(t *testing.T) {
	t.Parallel()
	f := &fakeTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != f {
				t.Errorf("WaitForWithin did not fail the test (recovered %v)", r)
			}
		}()
		WaitForWithin(f, 20*time.Millisecond, "a condition that never holds", func() bool { return false })
	}()
	if want := "timed out after 20ms waiting for a condition that never holds"; !strings.Contains(f.msg, want) {
		t.Errorf("message %q, want %q", f.msg, want)
	}
}
