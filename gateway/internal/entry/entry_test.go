package entry

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func sample() *Entry {
	var h []byte
	h = AppendHeader(h, []byte("Content-Type"), []byte("application/json"))
	h = AppendHeader(h, []byte("Vary"), []byte("Accept-Encoding"))
	h = AppendHeader(h, []byte("X-Empty"), nil)
	return &Entry{
		Status:       200,
		RequestTime:  1_700_000_000_000_000_000,
		ResponseTime: 1_700_000_000_050_000_000,
		InitialAge:   3_000_000_000,
		TTL:          60_000_000_000,
		SWR:          30_000_000_000,
		SIE:          -1,
		Flags:        FlagMustRevalidate | FlagNoCache,
		ETag:         []byte(`W/"abc"`),
		LastModified: []byte("Sun, 06 Nov 1994 08:49:37 GMT"),
		Tags:         []byte("product-1 catalog"),
		Header:       h,
		Body:         []byte(`{"hello":"world"}`),
		BodyLen:      17,
	}
}

func equalEntry(a, b *Entry) bool {
	return a.Status == b.Status && a.RequestTime == b.RequestTime && a.ResponseTime == b.ResponseTime &&
		a.InitialAge == b.InitialAge && a.TTL == b.TTL && a.SWR == b.SWR && a.SIE == b.SIE &&
		a.Flags == b.Flags && a.BodyLen == b.BodyLen &&
		bytes.Equal(a.ETag, b.ETag) && bytes.Equal(a.LastModified, b.LastModified) &&
		bytes.Equal(a.Tags, b.Tags) && bytes.Equal(a.Header, b.Header) && bytes.Equal(a.Body, b.Body)
}

func TestEntry_roundTrip(t *testing.T) {
	t.Parallel()
	chunked := sample()
	chunked.Flags |= FlagBodyChunked | FlagInvalidated | 1<<15
	chunked.BodyLen = 1 << 40
	tests := []struct {
		name string
		e    *Entry
	}{
		{"full", sample()},
		{"empty fields", &Entry{Status: 204}},
		{"chunked body and unknown flag kept", chunked},
		{"status 999", &Entry{Status: 999, TTL: -5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			prefix := []byte("prefix")
			b := tt.e.AppendEncode(prefix)
			if !bytes.Equal(b[:len(prefix)], prefix) {
				t.Fatalf("AppendEncode overwrote dst's prefix")
			}
			b = b[len(prefix):]
			var got Entry
			if err := Decode(b, &got); err != nil {
				t.Fatalf("Decode(AppendEncode(e)) = %v", err)
			}
			if !equalEntry(&got, tt.e) {
				t.Errorf("Decode(AppendEncode(e)) =\n%+v, want\n%+v", got, *tt.e)
			}
			if err := Verify(b); err != nil {
				t.Errorf("Verify(AppendEncode(e)) = %v", err)
			}
		})
	}
}

func TestDecode_aliasesInput(t *testing.T) {
	t.Parallel()
	b := sample().AppendEncode(nil)
	var e Entry
	if err := Decode(b, &e); err != nil {
		t.Fatal(err)
	}
	if &e.Body[0] != &b[len(b)-len(e.Body)] {
		t.Errorf("Decode copied Body; want it to alias the input")
	}
	// Appending to a decoded field must not overwrite the next one.
	for _, f := range [][]byte{e.ETag, e.LastModified, e.Tags, e.Header, e.Body} {
		if cap(f) != len(f) {
			t.Errorf("decoded field has cap %d > len %d; appending to it would overwrite the next", cap(f), len(f))
		}
	}
}

func TestDecode_errors(t *testing.T) {
	t.Parallel()
	good := sample().AppendEncode(nil)
	mutate := func(f func(b []byte) []byte) []byte {
		return f(bytes.Clone(good))
	}
	// reseal recomputes the head checksum after an edit, so that the check
	// under test is the one that fails.
	reseal := func(b []byte) []byte {
		var total int
		for i := range numLens - 1 {
			total += int(binary.BigEndian.Uint32(b[offLens+4*i:]))
		}
		sum := crcHead(b[:offHeadCRC], b[HeadSize:HeadSize+total])
		binary.BigEndian.PutUint32(b[offHeadCRC:], sum)
		return b
	}
	chunked := sample()
	chunked.BodyLen = 100 // more than len(Body) without FlagBodyChunked
	badHeader := sample()
	badHeader.Header = []byte{5, 'a'}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"nil", nil, ErrTruncated},
		{"one byte", []byte{Magic}, ErrTruncated},
		{"bad magic", mutate(func(b []byte) []byte { b[0] = 'x'; return b }), ErrMagic},
		{"future version", mutate(func(b []byte) []byte { b[1] = Version + 1; return b }), ErrVersion},
		{"head cut", good[:HeadSize-1], ErrTruncated},
		{"body cut", good[:len(good)-1], ErrTruncated},
		{"trailing byte", append(bytes.Clone(good), 0), ErrLength},
		{"length field flipped", mutate(func(b []byte) []byte { b[offLens+3]--; return b }), ErrLength},
		{"huge length", mutate(func(b []byte) []byte { b[offLens] = 0xff; return b }), ErrTruncated},
		{"time bit flip", mutate(func(b []byte) []byte { b[offTimes+3] ^= 1; return b }), ErrChecksum},
		{"etag bit flip", mutate(func(b []byte) []byte { b[HeadSize] ^= 1; return b }), ErrChecksum},
		{"checksum bit flip", mutate(func(b []byte) []byte { b[offHeadCRC] ^= 1; return b }), ErrChecksum},
		{"status 99", mutate(func(b []byte) []byte { b[offStatus], b[offStatus+1] = 0, 99; return reseal(b) }), ErrStatus},
		{"status 1000", mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[offStatus:], 1000)
			return reseal(b)
		}), ErrStatus},
		{"body length beyond body", chunked.AppendEncode(nil), ErrBodyLen},
		{"body length below body", mutate(func(b []byte) []byte { b[offTimes+55]--; return reseal(b) }), ErrBodyLen},
		{"header block malformed", badHeader.AppendEncode(nil), ErrHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var e Entry
			if err := Decode(tt.b, &e); !errors.Is(err, tt.want) {
				t.Errorf("Decode = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerify_bodyChecksum(t *testing.T) {
	t.Parallel()
	b := sample().AppendEncode(nil)
	b[len(b)-1] ^= 1
	var e Entry
	if err := Decode(b, &e); err != nil {
		t.Errorf("Decode with a corrupt body = %v, want nil (Decode skips the body checksum)", err)
	}
	if err := Verify(b); !errors.Is(err, ErrBodySum) {
		t.Errorf("Verify with a corrupt body = %v, want %v", err, ErrBodySum)
	}
}

func TestNextHeader(t *testing.T) {
	t.Parallel()
	long := bytes.Repeat([]byte("v"), 300) // two-byte uvarint length
	var block []byte
	block = AppendHeader(block, []byte("A"), []byte("1"))
	block = AppendHeader(block, nil, nil)
	block = AppendHeader(block, []byte("Long"), long)
	want := [][2]string{{"A", "1"}, {"", ""}, {"Long", string(long)}}
	var got [][2]string
	for name, value, rest, ok := NextHeader(block); ok; name, value, rest, ok = NextHeader(rest) {
		got = append(got, [2]string{string(name), string(value)})
	}
	if len(got) != len(want) {
		t.Fatalf("NextHeader read %d fields, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d = %q, want %q", i, got[i], want[i])
		}
	}

	for _, bad := range [][]byte{{}, {0x80}, {2, 'a'}, {1, 'a'}, {1, 'a', 3, 'b'}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}} {
		if _, _, _, ok := NextHeader(bad); ok {
			t.Errorf("NextHeader(%q) ok = true, want false", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(sample().AppendEncode(nil))
	f.Add((&Entry{Status: 304}).AppendEncode(nil))
	f.Add([]byte{Magic, Version})
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Entry
		if err := Decode(b, &e); err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes. Decode does not
		// check the body checksum, so when Verify fails the two checksums
		// (the head checksum covers the body checksum) may differ.
		again := e.AppendEncode(nil)
		same := bytes.Equal(again, b)
		if Verify(b) != nil {
			same = len(again) == len(b) && bytes.Equal(again[:offBodyCRC], b[:offBodyCRC]) &&
				bytes.Equal(again[HeadSize:], b[HeadSize:])
		}
		if !same {
			t.Fatalf("AppendEncode(Decode(b)) != b\n got %x\nwant %x", again, b)
		}
		for rest := e.Header; len(rest) > 0; {
			var ok bool
			if _, _, rest, ok = NextHeader(rest); !ok {
				t.Fatalf("Decode accepted a header block NextHeader cannot read: %x", e.Header)
			}
		}
	})
}

// FuzzEntry_roundTrip encodes entries built from fuzzed fields and checks
// that Decode and Verify give them back.
func FuzzEntry_roundTrip(f *testing.F) {
	f.Add(200, int64(1), int64(2), uint16(3), []byte("etag"), []byte("lm"), []byte("name"), []byte("value"), []byte("body"))
	f.Fuzz(func(t *testing.T, status int, ttl, swr int64, flags uint16, etag, lm, name, value, body []byte) {
		status = 100 + (status&0x7fffffff)%900
		e := Entry{
			Status: status, TTL: ttl, SWR: swr, Flags: Flags(flags) &^ FlagBodyChunked,
			ETag: etag, LastModified: lm, Tags: name,
			Header: AppendHeader(AppendHeader(nil, name, value), value, name),
			Body:   body, BodyLen: int64(len(body)),
		}
		b := e.AppendEncode(nil)
		var got Entry
		if err := Decode(b, &got); err != nil {
			t.Fatalf("Decode(AppendEncode(%+v)) = %v", e, err)
		}
		if !equalEntry(&got, &e) {
			t.Fatalf("round trip = %+v, want %+v", got, e)
		}
		if err := Verify(b); err != nil {
			t.Fatalf("Verify = %v", err)
		}
	})
}

// TestEntry_Check: what an entry read from Redis may hold.
func TestEntry_Check(t *testing.T) {
	t.Parallel()
	lim := Limits{MaxBodyLen: 1 << 20, MaxHeaders: 4}
	hdr := func(name, value string) []byte { return AppendHeader(nil, []byte(name), []byte(value)) }
	tests := []struct {
		name   string
		mutate func(*Entry)
		want   error
	}{
		{name: "sample", mutate: func(*Entry) {}},
		{name: "obs_text_and_tab", mutate: func(e *Entry) { e.Header = hdr("X-A", "caf\xc3\xa9\tok") }},
		{name: "status_0", mutate: func(e *Entry) { e.Status = 0 }, want: ErrStatus},
		{name: "status_1xx", mutate: func(e *Entry) { e.Status = 101 }, want: ErrStatus},
		{name: "status_600", mutate: func(e *Entry) { e.Status = 600 }, want: ErrStatus},
		{name: "body_len_huge", mutate: func(e *Entry) { e.BodyLen = 1 << 62; e.Flags |= FlagBodyChunked }, want: ErrBodyLen},
		{name: "name_space", mutate: func(e *Entry) { e.Header = hdr("X A", "v") }, want: ErrField},
		{name: "name_colon", mutate: func(e *Entry) { e.Header = hdr("X-A:", "v") }, want: ErrField},
		{name: "name_empty", mutate: func(e *Entry) { e.Header = hdr("", "v") }, want: ErrField},
		{name: "name_crlf", mutate: func(e *Entry) { e.Header = hdr("X-A\r\nSet-Cookie", "v") }, want: ErrField},
		{name: "value_crlf", mutate: func(e *Entry) { e.Header = hdr("X-A", "v\r\nSet-Cookie: a=b") }, want: ErrField},
		{name: "value_nul", mutate: func(e *Entry) { e.Header = hdr("X-A", "v\x00") }, want: ErrField},
		{name: "value_del", mutate: func(e *Entry) { e.Header = hdr("X-A", "v\x7f") }, want: ErrField},
		{name: "etag_lf", mutate: func(e *Entry) { e.ETag = []byte("\"a\"\n") }, want: ErrField},
		{name: "tags_cr", mutate: func(e *Entry) { e.Tags = []byte("a\rb") }, want: ErrField},
		{name: "too_many_headers", mutate: func(e *Entry) {
			e.Header = nil
			for range 5 {
				e.Header = AppendHeader(e.Header, []byte("X-A"), []byte("v"))
			}
		}, want: ErrBounds},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := sample()
			tc.mutate(e)
			// Through the encoding, as read from Redis.
			var got Entry
			if err := Decode(e.AppendEncode(nil), &got); err != nil {
				if tc.want != nil && errors.Is(err, tc.want) {
					return // refused already
				}
				t.Fatalf("Decode: %v", err)
			}
			if err := got.Check(lim); !errors.Is(err, tc.want) {
				t.Errorf("Check() = %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzEntry_Check: any bytes either fail Decode or Check, or give an entry
// whose header block holds only tokens and control-free values.
func FuzzEntry_Check(f *testing.F) {
	f.Add(sample().AppendEncode(nil))
	f.Add((&Entry{Status: 200, Header: AppendHeader(nil, []byte("A\r\n"), []byte("b"))}).AppendEncode(nil))
	f.Add([]byte("garbage"))
	lim := Limits{MaxBodyLen: 1 << 20, MaxHeaders: 64}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Entry
		if Decode(b, &e) != nil || e.Check(lim) != nil {
			return
		}
		if e.Status < 200 || e.Status > 599 || e.BodyLen > lim.MaxBodyLen {
			t.Fatalf("Check accepted status %d, body length %d", e.Status, e.BodyLen)
		}
		for name, value, rest, ok := NextHeader(e.Header); ok; name, value, rest, ok = NextHeader(rest) {
			if bytes.ContainsAny(name, "\r\n\x00: ") || bytes.ContainsAny(value, "\r\n\x00") {
				t.Fatalf("Check accepted header %q: %q", name, value)
			}
		}
	})
}
