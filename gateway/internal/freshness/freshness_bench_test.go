package freshness

import (
	"testing"
	"time"
)

func BenchmarkAssess(b *testing.B) {
	dirs := reqDirs("max-stale=10")
	b.ReportAllocs()
	for b.Loop() {
		Assess(70*time.Second, time.Minute, 0, time.Hour, false, false, dirs)
	}
}

func BenchmarkCorrectedInitialAge(b *testing.B) {
	age, date := []byte("5"), []byte("Sun, 06 Nov 1994 08:49:37 GMT")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		CorrectedInitialAge(age, date, now, now)
	}
}

func BenchmarkNotModified(b *testing.B) {
	req := hdrs("Accept", "*/*", "If-None-Match", `"x", W/"abc"`)
	etag := []byte(`"abc"`)
	b.ReportAllocs()
	for b.Loop() {
		if !NotModified(req, etag, nil) {
			b.Fatal("want true")
		}
	}
}

func BenchmarkParseHTTPDate(b *testing.B) {
	in := []byte("Sun, 06 Nov 1994 08:49:37 GMT")
	b.ReportAllocs()
	for b.Loop() {
		ParseHTTPDate(in)
	}
}
