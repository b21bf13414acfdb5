package gateway

import (
	"bytes"
	"testing"

	"github.com/flowcache/flowcache/gateway/internal/entry"
	"github.com/flowcache/flowcache/gateway/internal/l2"
)

// FuzzCheckL2Record: any bytes read from L2 are either refused or a record
// whose entry carries only token names and control-free values, or whose
// variant list holds what its count says; never a panic.
func FuzzCheckL2Record(f *testing.F) {
	e := entry.Entry{Status: 200, Header: entry.AppendHeader(nil, []byte("Content-Type"), []byte("text/plain")), Body: []byte("hi"), BodyLen: 2}
	f.Add(e.AppendEncode(appendRecordHead(nil, kindEntry, recAdmitL1, 7)))
	f.Add(appendVariantRecord(appendRecordHead(nil, kindVariants, 0, 9), []byte("accept-encoding"), variantRecord{}, []byte("gzip\x00")))
	f.Add([]byte("V\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01a\xea\x60"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, v []byte) {
		if checkL2Record(v, 1<<20) != nil {
			return
		}
		kind, _, _, payload, _ := parseRecordHead(v)
		switch kind {
		case kindEntry:
			var e entry.Entry
			if err := entry.Decode(payload, &e); err != nil {
				t.Fatalf("accepted an entry Decode refuses: %v", err)
			}
			for name, value, rest, ok := entry.NextHeader(e.Header); ok; name, value, rest, ok = entry.NextHeader(rest) {
				if !entry.Token(name) || bytes.ContainsAny(value, "\r\n\x00") {
					t.Fatalf("accepted header %q: %q", name, value)
				}
			}
		case kindVariants:
			rec, _ := parseVariantRecord(payload)
			l := rec.list
			for range rec.n {
				_, rest, ok := nextVariant(l)
				if !ok {
					t.Fatalf("accepted a variant record with fewer than %d variants", rec.n)
				}
				l = rest
			}
		default:
			t.Fatalf("accepted kind %q", kind)
		}
	})
}

// FuzzPolicySync_decodeEvent: any event read from Redis is refused or is
// an event; with a secret, only a sealed one is accepted.
func FuzzPolicySync_decodeEvent(f *testing.F) {
	f.Add([]byte(`{"name":"p","version":{"id":"0123456789ab"},"activation":1}`), false)
	f.Add([]byte(`{"name":"p"} 0000000000000000000000000000000000000000000000000000000000000000`), true)
	f.Add([]byte(`null`), false)
	f.Fuzz(func(t *testing.T, b []byte, secret bool) {
		p := &policySync{signer: l2.NewSigner("")}
		if secret {
			p.signer = l2.NewSigner("fuzz-secret-0123456789")
		}
		ev, err := p.decodeEvent(b, "")
		if err != nil {
			return
		}
		if secret {
			t.Fatalf("accepted an unsigned event %q with a secret: %+v", b, ev)
		}
	})
}

// BenchmarkCheckL2Record: what checking an entry read from L2 costs (8
// header fields, 4KiB body), beside the 25-45µs of the Redis round trip.
func BenchmarkCheckL2Record(b *testing.B) {
	var h []byte
	for _, f := range [][2]string{
		{"Content-Type", "application/json"},
		{"Cache-Control", "max-age=60"},
		{"ETag", `"v1"`},
		{"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"},
		{"Vary", "Accept-Encoding"},
		{"Surrogate-Key", "product-1 catalog"},
		{"X-Request-Id", "0123456789abcdef"},
		{"Server", "origin"},
	} {
		h = entry.AppendHeader(h, []byte(f[0]), []byte(f[1]))
	}
	e := entry.Entry{Status: 200, Header: h, Body: bytes.Repeat([]byte("x"), 4096), BodyLen: 4096}
	v := e.AppendEncode(appendRecordHead(nil, kindEntry, recAdmitL1, 7))
	b.ReportAllocs()
	for b.Loop() {
		if err := checkL2Record(v, 8<<20); err != nil {
			b.Fatal(err)
		}
	}
}
