//go:build !race

package freshness

import (
	"testing"
	"time"
)

func TestFreshness_noAlloc(t *testing.T) {
	req := hdrs("If-None-Match", `"x", W/"abc"`, "If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT")
	dirs := reqDirs("max-stale=10, min-fresh=1")
	now := time.Now()
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() {
		ia := CorrectedInitialAge([]byte("5"), []byte("Sun, 06 Nov 1994 08:49:37 GMT"), now, now)
		age := CurrentAge(ia, now, now.Add(time.Second))
		Assess(age, time.Minute, 0, 0, false, false, dirs)
		NotModified(req, []byte(`"abc"`), []byte("Sun, 06 Nov 1994 08:49:37 GMT"))
		buf = AppendHTTPDate(buf[:0], now)
		ParseHTTPDate(buf)
	}); n != 0 {
		t.Errorf("freshness hot path: %v allocs/op, want 0", n)
	}
}
