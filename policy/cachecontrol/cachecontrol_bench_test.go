package cachecontrol

import "testing"

func BenchmarkParse(b *testing.B) {
	for _, bm := range []struct{ name, value string }{
		{"short", "max-age=60"},
		{"typical", "public, max-age=300, s-maxage=600, stale-while-revalidate=30, stale-if-error=86400"},
		{"junk", `private, no-cache="Set-Cookie, Authorization", X-Unknown="a,b,c", MAX-AGE = "0" ; x`},
	} {
		b.Run(bm.name, func(b *testing.B) {
			v := []byte(bm.value)
			b.ReportAllocs()
			b.SetBytes(int64(len(v)))
			var d Directives
			for b.Loop() {
				d.Reset()
				Parse(&d, v)
			}
		})
	}
}
