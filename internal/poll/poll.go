// Package poll is the one way tests in this module wait for a condition:
// [WaitFor] polls it, bounded in time, and fails the test with what it was
// waiting for. It replaces sleeping for a guessed duration, which is slow
// when the guess is long and flaky when it is short.
//
// It uses the standard library only, so that every package's tests can
// import it (gateway/gatewaytest cannot be imported by the tests of the
// packages it depends on).
package poll

import (
	"testing"
	"time"
)

// Timeout bounds [WaitFor]: long enough for a loaded machine under the race
// detector, short enough that a condition that never holds fails the test
// well before go test's own timeout.
const Timeout = 10 * time.Second

// WaitFor calls cond until it returns true, and fails tb (Fatalf, from the
// test's goroutine only) with "timed out after 10s waiting for <what>" if
// it has not within [Timeout]. Polls start 1ms apart and back off to 16ms,
// so a condition that holds soon costs a millisecond and one that takes
// seconds costs few calls.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	WaitForWithin(tb, Timeout, what, cond)
}

// WaitForWithin is [WaitFor] with its own bound d, for a test whose subject
// is how soon something happens (for example a propagation bound). It
// returns the time the condition took.
func WaitForWithin(tb testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	deadline := start.Add(d)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(pause) // the poll interval, not a guess of how long to wait
		pause = min(2*pause, 16*time.Millisecond)
	}
	return time.Since(start)
}
