package entry

import (
	"bytes"
	"testing"
)

func benchEntry(bodySize int) *Entry {
	e := sample()
	e.Body = bytes.Repeat([]byte("x"), bodySize)
	e.BodyLen = int64(bodySize)
	return e
}

var benchSizes = []struct {
	name string
	size int
}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

func BenchmarkEntry_AppendEncode(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			e := benchEntry(s.size)
			buf := e.AppendEncode(nil)
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				buf = e.AppendEncode(buf[:0])
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			buf := benchEntry(s.size).AppendEncode(nil)
			var e Entry
			b.ReportAllocs()
			for b.Loop() {
				if err := Decode(buf, &e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			buf := benchEntry(s.size).AppendEncode(nil)
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				if err := Verify(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
