package httpdate

import (
	"net/http"
	"testing"
	"time"
)

func BenchmarkParse(b *testing.B) {
	in := []byte("Sun, 06 Nov 1994 08:49:37 GMT")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := Parse(in); !ok {
			b.Fatal("not ok")
		}
	}
}

// BenchmarkParse_netHTTP is the baseline: net/http's parser.
func BenchmarkParse_netHTTP(b *testing.B) {
	in := "Sun, 06 Nov 1994 08:49:37 GMT"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := http.ParseTime(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	tm := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = Append(buf[:0], tm)
	}
}
