package plugins

import (
	"os"
	"testing"
)

// BenchmarkScanModule measures the check load makes before compiling a
// module: hostile.wasm (22KB of WAT-built functions), and a Go module when
// $FLOWCACHE_BENCH_WASM names one (GOOS=wasip1 GOARCH=wasm go build
// -buildmode=c-shared of testdata/goguest: 2.1MB).
func BenchmarkScanModule(b *testing.B) {
	mods := map[string]string{"hostile": "testdata/hostile.wasm"}
	if p := os.Getenv("FLOWCACHE_BENCH_WASM"); p != "" {
		mods["go"] = p
	}
	for name, path := range mods {
		wasm, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(wasm)))
			for b.Loop() {
				if _, err := scanModule(wasm); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
