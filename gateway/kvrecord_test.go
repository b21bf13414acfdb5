package gateway

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestAppendUnescape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"abc", "abc", true},
		{"a%2Fb", "a/b", true},
		{"%00%ff", "\x00\xff", true},
		{"a+b", "a+b", true},
		{"a%zz", "", false},
		{"a%2", "", false},
		{"%", "", false},
	}
	for _, tt := range tests {
		got, ok := appendUnescape(nil, []byte(tt.in))
		if ok != tt.ok || ok && string(got) != tt.want {
			t.Errorf("appendUnescape(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestKVRecord_RoundTrip(t *testing.T) {
	t.Parallel()
	in := kvRecord{etag: 42, stored: 1000, expires: 61000, ct: []byte("text/plain"), tags: []byte("a b"), value: []byte("\x00v")}
	b := appendKVRecord(nil, &in)
	var out kvRecord
	if err := parseKVRecord(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.etag != in.etag || out.stored != in.stored || out.expires != in.expires ||
		!bytes.Equal(out.ct, in.ct) || !bytes.Equal(out.tags, in.tags) || !bytes.Equal(out.value, in.value) {
		t.Fatalf("parse(append(%+v)) = %+v", in, out)
	}
	for i := range len(b) - len(in.value) {
		if parseKVRecord(b[:i], &out) == nil {
			t.Errorf("truncated to %d bytes: parsed", i)
		}
	}
	if tok, ok := parseETag(appendETag(nil, 0xdeadbeef)); !ok || tok != 0xdeadbeef {
		t.Errorf("parseETag(appendETag) = %x, %v", tok, ok)
	}
}

// FuzzParseKVRecord: records read from Redis are untrusted; parsing never
// panics, and what parses re-encodes to the same bytes.
func FuzzParseKVRecord(f *testing.F) {
	f.Add(appendKVRecord(nil, &kvRecord{etag: 1, stored: 1, expires: 2, ct: []byte("a/b"), tags: []byte("t"), value: []byte("v")}))
	f.Add(appendLeaseRecord(nil, 7))
	f.Add([]byte("K\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r kvRecord
		if parseKVRecord(b, &r) != nil {
			return
		}
		if again := appendKVRecord(nil, &r); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %q as %q", b, again)
		}
	})
}

// FuzzAppendUnescape: decoding never panics, and what decodes re-encodes
// (every byte escaped) to a path that decodes to the same key.
func FuzzAppendUnescape(f *testing.F) {
	f.Add([]byte("a%2Fb"))
	f.Add([]byte("%zz"))
	f.Fuzz(func(t *testing.T, s []byte) {
		k, ok := appendUnescape(nil, s)
		if !ok {
			return
		}
		var esc []byte
		for _, c := range k {
			esc = append(esc, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
		}
		if k2, ok := appendUnescape(nil, esc); !ok || !bytes.Equal(k, k2) {
			t.Fatalf("%q: %q, then %q", s, k, k2)
		}
	})
}

// FuzzParseMGetKeys: what the fast _mget parser accepts, encoding/json
// reads as the same keys.
func FuzzParseMGetKeys(f *testing.F) {
	for _, s := range []string{`{"keys":["a","b"]}`, ` { "keys" : [ ] } `, `{"keys":["a\"b"]}`, `{"keys":["a"],"x":1}`, `{"keys":["a",]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		keys, ok := parseMGetKeys(body, nil)
		if !ok {
			return
		}
		var req kvMGet
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("%q: parsed %q, encoding/json: %v", body, keys, err)
		}
		if len(req.Keys) != len(keys) {
			t.Fatalf("%q: %q, encoding/json %q", body, keys, req.Keys)
		}
		for i := range keys {
			if string(keys[i]) != req.Keys[i] {
				t.Fatalf("%q: %q, encoding/json %q", body, keys, req.Keys)
			}
		}
	})
}

func TestParseKVDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"60", time.Minute, true},
		{"1m30s", 90 * time.Second, true},
		{"0", 0, false},
		{"500ms", 0, false},
		{"3601", 0, false},
		{"99999999999999999", 0, false},
		{"-5", 0, false},
		{"abc", 0, false},
		{"1h", time.Hour, true},
	}
	for _, tt := range tests {
		got, err := parseKVDuration(tt.in, time.Second, time.Hour)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseKVDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
