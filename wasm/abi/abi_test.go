package abi

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

type hdr struct{ name, value string }

func encodeRequest(dst []byte, r *Request, hs []hdr) []byte {
	start := len(dst)
	dst = AppendRequest(dst, r)
	for _, h := range hs {
		dst = AppendRequestHeader(dst, start, []byte(h.name), []byte(h.value))
	}
	return dst
}

func testRequest() (*Request, []hdr) {
	r := &Request{
		Method: []byte("GET"), Scheme: []byte("https"), Host: []byte("Example.COM"),
		Path: []byte("/a/b%20c"), Query: []byte("utm_source=x&b=2&a=1"), Route: []byte("api"),
	}
	hs := []hdr{
		{"Accept", "application/json"}, {"User-Agent", "curl/8"}, {"Cookie", ""}, {"accept", "text/html"},
	}
	return r, hs
}

func checkRequest(t *testing.T, v RequestView, r *Request, hs []hdr) {
	t.Helper()
	for _, f := range []struct {
		name      string
		got, want []byte
	}{
		{"Method", v.Method(), r.Method},
		{"Scheme", v.Scheme(), r.Scheme},
		{"Host", v.Host(), r.Host},
		{"Path", v.Path(), r.Path},
		{"Query", v.Query(), r.Query},
		{"Route", v.Route(), r.Route},
	} {
		if !bytes.Equal(f.got, f.want) {
			t.Errorf("%s() = %q, want %q", f.name, f.got, f.want)
		}
	}
	it := v.Headers()
	if it.Len() != len(hs) {
		t.Fatalf("Headers().Len() = %d, want %d", it.Len(), len(hs))
	}
	for i := 0; ; i++ {
		n, val, ok := it.Next()
		if !ok {
			if i != len(hs) {
				t.Fatalf("Next stopped after %d headers, want %d", i, len(hs))
			}
			break
		}
		if string(n) != hs[i].name || string(val) != hs[i].value {
			t.Errorf("header %d = %q: %q, want %q: %q", i, n, val, hs[i].name, hs[i].value)
		}
	}
}

func TestRequest_RoundTrip(t *testing.T) {
	t.Parallel()
	r, hs := testRequest()
	for _, prefix := range []int{0, 3} {
		b := encodeRequest(make([]byte, prefix, 512), r, hs)
		v, err := ParseRequest(b[prefix:])
		if err != nil {
			t.Fatalf("ParseRequest: %v", err)
		}
		checkRequest(t, v, r, hs)
		if got := v.Header("ACCEPT"); string(got) != "application/json" {
			t.Errorf("Header(ACCEPT) = %q, want first value", got)
		}
		if got := v.Header("x-none"); got != nil {
			t.Errorf("Header(x-none) = %q, want nil", got)
		}
	}
}

func TestDecide_RoundTrip(t *testing.T) {
	t.Parallel()
	r, rh := testRequest()
	def := Decision{Store: true, Admit: true, Tier: TierL2, TTL: 90 * time.Second, StaleIfError: time.Hour}
	resp := Response{Status: 200, BodySize: -1, NowUnixMilli: 1_700_000_000_123}
	resph := []hdr{{"Cache-Control", "max-age=90"}, {"ETag", `"x"`}}

	b := make([]byte, 0, 1024)
	b = AppendDecideInput(b, &resp, &def)
	for _, h := range resph {
		b = AppendResponseHeader(b, 0, []byte(h.name), []byte(h.value))
	}
	rs := len(b)
	b = AppendDecideRequest(b, 0, r)
	for _, h := range rh {
		b = AppendRequestHeader(b, rs, []byte(h.name), []byte(h.value))
	}

	v, err := ParseDecide(b)
	if err != nil {
		t.Fatalf("ParseDecide: %v", err)
	}
	if v.Status() != 200 || v.BodySize() != -1 || v.NowUnixMilli() != resp.NowUnixMilli {
		t.Errorf("fixed fields = %d %d %d, want %+v", v.Status(), v.BodySize(), v.NowUnixMilli(), resp)
	}
	if got := v.Header("etag"); string(got) != `"x"` {
		t.Errorf("Header(etag) = %q", got)
	}
	checkRequest(t, v.Request(), r, rh)
	var d Decision
	v.Default(&d)
	if d != def {
		t.Errorf("Default = %+v, want %+v", d, def)
	}
	// Override in place, as a guest does, and decode as the host does.
	d.Store, d.TTL = false, 1500*time.Millisecond
	PutDecision(v.DecisionBytes(), &d)
	var got Decision
	if err := DecodeDecision(b[:DecisionSize], &got); err != nil || got != d {
		t.Errorf("DecodeDecision = %+v, %v, want %+v", got, err, d)
	}
}

func TestKey_RoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		k    Key
	}{
		{"full", Key{Host: []byte("example.com"), Target: []byte("/a?b=1"), Variant: []byte("mobile")}},
		{"no variant", Key{Host: []byte("h"), Target: []byte("/")}},
		{"empty host", Key{Target: []byte("/x")}},
		{"bypass", Key{Bypass: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := AppendKey(nil, &tt.k)
			var got Key
			if err := DecodeKey(b, &got); err != nil {
				t.Fatalf("DecodeKey: %v", err)
			}
			if got.Bypass != tt.k.Bypass || !bytes.Equal(got.Host, tt.k.Host) ||
				!bytes.Equal(got.Target, tt.k.Target) || !bytes.Equal(got.Variant, tt.k.Variant) {
				t.Errorf("DecodeKey = %+v, want %+v", got, tt.k)
			}
		})
	}
}

func rawKey(flags uint32, host, target, variant string) []byte {
	b := make([]byte, KeyHeaderSize, KeyHeaderSize+len(host)+len(target)+len(variant))
	put32(b, keyFlags, flags)
	put32(b, keyHostLen, uint32(len(host)))
	put32(b, keyTargetLen, uint32(len(target)))
	put32(b, keyVariantLen, uint32(len(variant)))
	return append(append(append(b, host...), target...), variant...)
}

func TestDecodeKey_Errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "at offset 0: truncated: 0 bytes, want at least 16"},
		{"unknown flags", rawKey(4, "h", "/", ""), "unknown flags 0x4"},
		{"trailing", append(rawKey(0, "h", "/", ""), 'x'), "need 18 bytes, result has 19"},
		{"short", rawKey(0, "h", "/", "")[:17], "need 18 bytes, result has 17"},
		{"huge length", func() []byte { b := rawKey(0, "", "/", ""); put32(b, keyHostLen, 1<<32-1); return b }(), "need 4294967312 bytes"},
		{"bypass with fields", rawKey(1, "h", "", ""), "bypass result carries key fields"},
		{"too large", rawKey(0, "h", "/"+strings.Repeat("a", MaxKeySize), ""), "key of 32770 bytes exceeds 32768"},
		{"target no slash", rawKey(0, "h", "a", ""), "at offset 17: target must start with '/'"},
		{"target empty", rawKey(0, "h", "", ""), "target must start with '/'"},
		{"target CRLF", rawKey(0, "h", "/a\r\nX: y", ""), "at offset 19: target has byte 0xd"},
		{"target space", rawKey(0, "h", "/a b", ""), "target has byte 0x20"},
		{"target fragment", rawKey(0, "h", "/a#b", ""), "target has byte 0x23"},
		{"host slash", rawKey(0, "h/x", "/", ""), "at offset 17: host has byte 0x2f"},
		{"host at", rawKey(0, "u@h", "/", ""), "host has byte 0x40"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var k Key
			err := DecodeKey(tt.b, &k)
			var de *DecodeError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("DecodeKey(%q) = %v, want *DecodeError containing %q", tt.b, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "abi: key result: ") {
				t.Errorf("error %q does not name the key result", err)
			}
		})
	}
}

func TestDecodeDecision_Errors(t *testing.T) {
	t.Parallel()
	valid := make([]byte, DecisionSize)
	PutDecision(valid, &Decision{Store: true, TTL: time.Second})
	mod := func(f func(b []byte)) []byte {
		b := append([]byte(nil), valid...)
		f(b)
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", valid[:31], "at offset 0: size 31, want 32"},
		{"long", append(append([]byte(nil), valid...), 0), "size 33, want 32"},
		{"flags", mod(func(b []byte) { put32(b, dcnFlags, 0x11) }), "at offset 0: unknown flags 0x11"},
		{"tier", mod(func(b []byte) { put32(b, dcnTier, 3) }), "at offset 4: unknown tier 3"},
		{"negative ttl", mod(func(b []byte) { le.PutUint64(b[dcnTTL:], ^uint64(0)) }), "at offset 8: negative duration -1ms"},
		{"overflow swr", mod(func(b []byte) { le.PutUint64(b[dcnSWR:], 1<<62) }), "at offset 16: duration 4611686018427387904ms overflows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var d Decision
			err := DecodeDecision(tt.b, &d)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("DecodeDecision = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestParseRequest_Errors(t *testing.T) {
	t.Parallel()
	r, hs := testRequest()
	valid := encodeRequest(nil, r, hs)
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), valid...)) }
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", valid[:55], "truncated: 55 bytes, want at least 56"},
		{"field outside", mod(func(b []byte) []byte { put32(b, reqPath+4, 1<<20); return b }), "at offset 24: field"},
		{"header list offset", mod(func(b []byte) []byte { put32(b, reqHeadersOff, 1<<20); return b }), "at offset 52: header list offset"},
		{"too many headers", mod(func(b []byte) []byte { put32(b, reqHeaderCount, 5); return b }), "header 4 truncated"},
		{"truncated value", valid[:len(valid)-2], "header 3 overruns the blob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseRequest(tt.b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseRequest = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestParseHeaderNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		list    string
		want    []string
		all     bool
		wantErr string
	}{
		{"empty", "", nil, false, ""},
		{"list", "User-Agent, cookie\nAccept accept", []string{"user-agent", "cookie", "accept"}, false, ""},
		{"star", "accept,*", nil, true, ""},
		{"bad char", "x-a:b", nil, false, "at offset 3: byte 0x3a is not a field-name character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, all, err := ParseHeaderNames([]byte(tt.list))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseHeaderNames(%q) = %v, want error %q", tt.list, err, tt.wantErr)
				}
				return
			}
			if err != nil || all != tt.all || strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("ParseHeaderNames(%q) = %q, %v, %v, want %q, %v", tt.list, got, all, err, tt.want, tt.all)
			}
		})
	}
}

func TestPack(t *testing.T) {
	t.Parallel()
	if p, n := Unpack(Pack(0x12345678, 0x9abcdef0)); p != 0x12345678 || n != 0x9abcdef0 {
		t.Errorf("Unpack(Pack) = %#x %#x", p, n)
	}
}

func TestViews_Zero(t *testing.T) {
	t.Parallel()
	var r RequestView
	var v DecideView
	var d Decision
	v.Default(&d)
	it, it2 := r.Headers(), v.Headers()
	if r.Method() != nil || r.Header("a") != nil || it.Len() != 0 || it2.Len() != 0 ||
		v.Status() != 0 || v.BodySize() != -1 || v.NowUnixMilli() != 0 || v.Header("a") != nil ||
		v.DecisionBytes() != nil || d != (Decision{}) {
		t.Error("zero views are not empty")
	}
}

func TestParseDecide_Errors(t *testing.T) {
	t.Parallel()
	r, hs := testRequest()
	valid := AppendDecideInput(nil, &Response{Status: 200}, &Decision{Store: true})
	valid = AppendResponseHeader(valid, 0, []byte("Age"), []byte("1"))
	rs := len(valid)
	valid = AppendDecideRequest(valid, 0, r)
	for _, h := range hs {
		valid = AppendRequestHeader(valid, rs, []byte(h.name), []byte(h.value))
	}
	mod := func(f func(b []byte)) []byte {
		b := append([]byte(nil), valid...)
		f(b)
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", valid[:71], "abi: decide blob: at offset 0: truncated: 71 bytes, want at least 72"},
		{"decision", mod(func(b []byte) { put32(b, dcnTier, 9) }), "abi: decision: at offset 4: unknown tier 9"},
		{"headers", mod(func(b []byte) { put32(b, decHeaderCount, 1000) }), "abi: decide blob: at offset"},
		{"request offset", mod(func(b []byte) { put32(b, decRequestOff, 8) }), "request offset 8 outside the blob"},
		{"no request", mod(func(b []byte) { put32(b, decRequestOff, 0) }), "request offset 0 outside the blob"},
		{"bad request", mod(func(b []byte) { put32(b, rs+reqHeaderCount, 99) }), "abi: request blob: at offset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseDecide(tt.b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseDecide = %v, want error containing %q", err, tt.want)
			}
		})
	}
}
