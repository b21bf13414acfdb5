package l2

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

func TestCodec_RoundTrip(t *testing.T) {
	t.Parallel()
	values := map[string]string{
		"empty":      "",
		"tiny":       "x",
		"below_min":  compressible(defaultCompressMinSize - 1),
		"json_4k":    compressible(4 << 10),
		"json_1m":    compressible(1 << 20),
		"random_64k": random(64 << 10),
	}
	for _, name := range []string{CompressionNone, CompressionS2, CompressionZstd} {
		c, err := newCodec(name, defaultCompressMinSize, 64<<20)
		if err != nil {
			t.Fatalf("newCodec(%q): %v", name, err)
		}
		t.Cleanup(c.close)
		for vname, v := range values {
			t.Run(name+"/"+vname, func(t *testing.T) {
				t.Parallel()
				env, compressed := c.appendEncode([]byte("junk"), []byte(v), 7)
				if string(env[:4]) != "junk" {
					t.Fatal("appendEncode overwrote dst")
				}
				env = env[4:]
				wantCompressed := name != CompressionNone && len(v) >= defaultCompressMinSize && vname[:4] == "json"
				if compressed != wantCompressed {
					t.Errorf("compressed = %v, want %v", compressed, wantCompressed)
				}
				got, e, err := c.decode([]byte("pre"), env)
				if err != nil || !bytes.Equal(got, []byte("pre"+v)) {
					t.Fatalf("decode = %d bytes, %v; want %d bytes", len(got), err, 3+len(v))
				}
				if e.softGen != 7 || e.invalidated {
					t.Errorf("envelope = %+v, want softGen 7, not invalidated", e)
				}
				// Soft purge sets bit 2 of byte 0, as the Lua script does.
				env[0] |= envInvalidated
				if _, e, err := c.decode(nil, env); err != nil || !e.invalidated {
					t.Errorf("decode after soft purge: %+v, %v", e, err)
				}
			})
		}
	}
}

func TestCodec_Corrupt(t *testing.T) {
	t.Parallel()
	c, err := newCodec(CompressionS2, 16, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	big, _ := c.appendEncode(nil, []byte(compressible(4<<10)), 0)
	tests := []struct {
		name string
		env  []byte
	}{
		{"short", []byte{envVersion, 0, 0}},
		{"version", []byte{0x40, 0, 0, 0, 0, 'x'}},
		{"codec3", []byte{envVersion | 3, 0, 0, 0, 0, 'x'}},
		{"s2_garbage", []byte{envVersion | codecS2, 0, 0, 0, 0, 0xff, 0xff, 0xff}},
		{"zstd_garbage", []byte{envVersion | codecZstd, 0, 0, 0, 0, 1, 2, 3}},
		{"s2_truncated", big[:len(big)/2]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := c.decode(nil, tc.env); err == nil {
				t.Errorf("decode(%x) succeeded, want errCorrupt", tc.env)
			}
		})
	}
}

// BenchmarkCompression measures, per value size and codec, the CPU cost of
// compressing once and decompressing once (one write, one L2 hit) and the
// stored size (ratio = stored/original). Values are JSON-like API answers.
// The break-even in doc.go comes from here.
func BenchmarkCompression(b *testing.B) {
	for _, size := range []int{128, 256, 512, 1 << 10, 2 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10} {
		v := []byte(compressible(size))
		for _, name := range []string{CompressionS2, CompressionZstd} {
			c, err := newCodec(name, 1, 64<<20)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(strconv.Itoa(size)+"/"+name, func(b *testing.B) {
				env, _ := c.appendEncode(nil, v, 0)
				b.Run("encode", func(b *testing.B) {
					b.ReportAllocs()
					b.SetBytes(int64(size))
					var buf []byte
					for b.Loop() {
						buf, _ = c.appendEncode(buf[:0], v, 0)
					}
					b.ReportMetric(float64(len(env))/float64(size), "ratio")
				})
				b.Run("decode", func(b *testing.B) {
					b.ReportAllocs()
					b.SetBytes(int64(size))
					buf := make([]byte, 0, size)
					for b.Loop() {
						var err error
						if buf, _, err = c.decode(buf[:0], env); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
			c.close()
		}
	}
}

// FuzzCodec_decode: any stored value (read from Redis, which anyone may
// write) either fails to decode or decodes to at most MaxValueSize bytes;
// never a panic.
func FuzzCodec_decode(f *testing.F) {
	const maxSize = 1 << 20
	for _, name := range []string{CompressionNone, CompressionS2, CompressionZstd} {
		c, err := newCodec(name, 16, maxSize)
		if err != nil {
			f.Fatal(err)
		}
		v, _ := c.appendEncode(nil, []byte(strings.Repeat("compressible ", 20)), 3)
		f.Add(v)
		c.close()
	}
	f.Add([]byte{envVersion | codecS2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{envVersion | codecZstd, 0, 0, 0, 0, 0x28, 0xb5, 0x2f, 0xfd})
	c, err := newCodec(CompressionNone, 16, maxSize)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(c.close)
	f.Fuzz(func(t *testing.T, stored []byte) {
		out, _, err := c.decode(nil, stored)
		if err == nil && len(out) > maxSize {
			t.Fatalf("decoded %d bytes from %d", len(out), len(stored))
		}
	})
}

// FuzzParseCounter: a {meta} counter is accepted only as what the scripts
// write: decimal digits below the limit.
func FuzzParseCounter(f *testing.F) {
	for _, s := range []string{"", "0", "1", "999999999999999", "18446744073709551615", "-1", "1e3", " 1", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseCounter(s, maxGen)
		if err != nil {
			return
		}
		if n >= maxGen || s != "" && strconv.FormatUint(n, 10) != strings.TrimLeft(s, "0") && n != 0 {
			t.Fatalf("parseCounter(%q) = %d", s, n)
		}
	})
}
