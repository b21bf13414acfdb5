package gateway

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzCheckFraming: any request head fasthttp accepts is either refused by
// checkFraming or has sane framing; neither panics.
func FuzzCheckFraming(f *testing.F) {
	f.Add("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	f.Add("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
	f.Add("GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		var h fasthttp.RequestHeader
		if err := h.Read(bufioReader(raw)); err != nil {
			return
		}
		if err := checkFraming(&h); err == nil {
			te := h.Peek("Transfer-Encoding")
			if len(te) > 0 && h.ContentLength() >= 0 && bytes.Contains(h.RawHeaders(), []byte("ontent-Length")) {
				t.Errorf("accepted both Content-Length and Transfer-Encoding: %q", raw)
			}
		}
	})
}

// FuzzVariantRecord: parsing any stored bytes as a record never panics,
// and a record built by appendVariantRecord parses back.
func FuzzVariantRecord(f *testing.F) {
	f.Add([]byte("accept-language"), []byte("en\x00"), []byte{})
	f.Add([]byte(""), []byte(""), []byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, names, material, junk []byte) {
		if len(names) > 1000 || len(material) > 1000 {
			return
		}
		if _, _, _, p, ok := parseRecordHead(junk); ok {
			if r, ok := parseVariantRecord(p); ok {
				r.has(material)
			}
		}
		rec := appendVariantRecord(nil, names, variantRecord{}, material)
		r, ok := parseVariantRecord(rec)
		if !ok || !bytes.Equal(r.names, names) {
			t.Fatalf("round trip of names %q failed", names)
		}
		if len(material) > 0 && !r.has(material) {
			t.Fatalf("round trip lost material %q", material)
		}
	})
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
