package plugins

import (
	"errors"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/flowcache/flowcache/internal/poll"
	"github.com/flowcache/flowcache/internal/units"
	"github.com/flowcache/flowcache/policy"
)

// waitFor calls cond until it returns true; it fails the test after 10s
// (a bound against a hang, not a measure).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.WaitFor(t, what, cond)
}

// busyCores counts the cores of m that are in a call.
func busyCores(m *Module) int {
	m.liveMu.Lock()
	defer m.liveMu.Unlock()
	n := 0
	for c := range m.live {
		if c.busy.Load() != 0 {
			n++
		}
	}
	return n
}

// TestModule_Backstop runs a call whose fuel would last minutes, and
// checks that the watchdog stops it once its call_timeout has passed in
// watchdog ticks (driven by the test): the call fails with ErrBackstop,
// its instance is discarded, the admin's last error says so, and the next
// call is served.
//
// It is not parallel, and turns the GC off: a stop-the-world would wait
// for the looping call, and the watchdog (here the test) with it.
func TestModule_Backstop(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two Ps: the guest holds one")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.GC() // finishes a cycle in progress, which would stop the world at its end
	rt := newTestRuntime(t, Options{noWatchdog: true})
	cfg := DefaultConfig()
	cfg.Fuel = 1 << 50
	cfg.CallTimeout = units.Duration(20 * time.Millisecond) // 2 ticks
	m := loadHostile(t, rt, 0, &cfg)
	errc := make(chan error, 1)
	go func() {
		var k policy.Key
		errc <- m.Key(hostileRequest(), &k)
	}()
	waitFor(t, "the call to begin", func() bool { return busyCores(m) == 1 })
	for range 2 {
		rt.tick()
		select {
		case err := <-errc:
			t.Fatalf("Key returned after %d ticks of 20ms: %v", 2, err)
		default:
		}
	}
	rt.tick() // the third tick: more than 20ms since the call began
	err := <-errc
	const want = `plugins: policy "hostile": key: stopped: call exceeded 20ms wall-clock backstop`
	if !errors.Is(err, ErrBackstop) || err.Error() != want {
		t.Fatalf("Key = %v, want %q", err, want)
	}
	if s := m.Stats(); s.Backstops != 1 || s.InstancesDiscarded != 1 || s.FuelExhausted != 0 {
		t.Errorf("Stats() = %+v, want 1 backstop and its instance discarded", s)
	}
	if last, _ := m.LastFailure(); last == nil || !strings.Contains(last.Error(), "wall-clock backstop") {
		t.Errorf("LastFailure() = %v, want the backstop", last)
	}
	var k policy.Key
	if err := m.Key(benchRequest(), &k); err != nil || !k.Bypass {
		t.Errorf("next Key = %v, %+v; want a bypass", err, k)
	}
	if n := busyCores(m); n != 0 {
		t.Errorf("%d cores busy after the calls", n)
	}
}
