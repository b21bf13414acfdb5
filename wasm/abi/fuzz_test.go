package abi

import (
	"bytes"
	"testing"
	"time"
)

func FuzzDecodeKey(f *testing.F) {
	f.Add(AppendKey(nil, &Key{Host: []byte("h"), Target: []byte("/a?b"), Variant: []byte("v")}))
	f.Add(AppendKey(nil, &Key{Bypass: true}))
	f.Add(rawKey(0, "h", "/a\r\n", ""))
	f.Fuzz(func(t *testing.T, b []byte) {
		var k Key
		if err := DecodeKey(b, &k); err != nil {
			return
		}
		again := AppendKey(nil, &k)
		if !bytes.Equal(again, b) {
			t.Fatalf("AppendKey(DecodeKey(%q)) = %q", b, again)
		}
	})
}

func FuzzDecodeDecision(f *testing.F) {
	b := make([]byte, DecisionSize)
	PutDecision(b, &Decision{Store: true, Admit: true, Tier: TierL1, TTL: time.Minute})
	f.Add(b)
	f.Add(make([]byte, 31))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Decision
		if err := DecodeDecision(b, &d); err != nil {
			return
		}
		again := make([]byte, DecisionSize)
		PutDecision(again, &d)
		if !bytes.Equal(again, b) {
			t.Fatalf("PutDecision(DecodeDecision(%x)) = %x", b, again)
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	r, hs := testRequest()
	f.Add(encodeRequest(nil, r, hs))
	f.Add(encodeRequest(nil, &Request{}, nil))
	f.Fuzz(func(_ *testing.T, b []byte) {
		v, err := ParseRequest(b)
		if err != nil {
			return
		}
		// Every accessor must stay within the blob.
		_, _, _, _, _, _ = v.Method(), v.Scheme(), v.Host(), v.Path(), v.Query(), v.Route()
		it := v.Headers()
		for {
			if _, _, ok := it.Next(); !ok {
				break
			}
		}
		_ = v.Header("accept")
	})
}

func FuzzParseDecide(f *testing.F) {
	r, hs := testRequest()
	b := AppendDecideInput(nil, &Response{Status: 200, BodySize: 10}, &Decision{Store: true})
	b = AppendResponseHeader(b, 0, []byte("Age"), []byte("1"))
	rs := len(b)
	b = AppendDecideRequest(b, 0, r)
	for _, h := range hs {
		b = AppendRequestHeader(b, rs, []byte(h.name), []byte(h.value))
	}
	f.Add(b)
	f.Fuzz(func(_ *testing.T, b []byte) {
		v, err := ParseDecide(b)
		if err != nil {
			return
		}
		var d Decision
		v.Default(&d)
		_, _, _ = v.Status(), v.BodySize(), v.NowUnixMilli()
		_ = v.Header("age")
		_ = v.Request().Header("accept")
		it := v.Headers()
		for {
			if _, _, ok := it.Next(); !ok {
				break
			}
		}
	})
}

func FuzzRequest_RoundTrip(f *testing.F) {
	f.Add([]byte("GET"), []byte("/p"), []byte("a=1"), []byte("Accept"), []byte("*/*"))
	f.Fuzz(func(t *testing.T, method, path, query, hn, hv []byte) {
		r := &Request{Method: method, Scheme: []byte("http"), Host: []byte("h"), Path: path, Query: query}
		b := AppendRequest(nil, r)
		b = AppendRequestHeader(b, 0, hn, hv)
		v, err := ParseRequest(b)
		if err != nil {
			t.Fatalf("ParseRequest(AppendRequest) = %v", err)
		}
		checkRequest(t, v, r, []hdr{{string(hn), string(hv)}})
	})
}

func FuzzParseHeaderNames(f *testing.F) {
	f.Add([]byte("accept, user-agent\n*"))
	f.Fuzz(func(t *testing.T, b []byte) {
		names, all, err := ParseHeaderNames(b)
		if err != nil {
			return
		}
		if all && names != nil {
			t.Fatalf("all with names %q", names)
		}
		if len(names) > MaxHeaderNames {
			t.Fatalf("%d names", len(names))
		}
	})
}

// FuzzIndexBad checks the word-at-a-time scan against the byte loop.
func FuzzIndexBad(f *testing.F) {
	f.Add([]byte("/a/b?c=d&e=f#g"))
	f.Add([]byte("/\x7f234567890"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, tab := range []*[256]bool{&badTarget, &badHost} {
			want := -1
			for i, c := range b {
				if tab[c] {
					want = i
					break
				}
			}
			if got := indexBad(b, tab); got != want {
				t.Fatalf("indexBad(%q) = %d, want %d", b, got, want)
			}
		}
	})
}
