package httplex

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// tcharSet is RFC 9110's tchar spelled out, the reference for the table.
const tcharSet = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

func TestIsTchar(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		want := strings.IndexByte(tcharSet, byte(c)) >= 0
		if got := IsTchar(byte(c)); got != want {
			t.Errorf("IsTchar(%#x) = %v, want %v", c, got, want)
		}
	}
}

func TestIsToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"", false},
		{"Content-Type", true},
		{"x-custom_1.2~", true},
		{"no space", false},
		{"colon:", false},
		{"quote\"", false},
		{"caf\xc3\xa9", false},
		{"\x7f", false},
		{"*", true},
	}
	for _, tt := range tests {
		if got := IsToken([]byte(tt.in)); got != tt.want {
			t.Errorf("IsToken(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestTrimOWS(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, both, left, right string }{
		{"", "", "", ""},
		{"a", "a", "a", "a"},
		{" \ta b\t ", "a b", "a b\t ", " \ta b"},
		{" \t ", "", "", ""},
		{"\r\na\n", "\r\na\n", "\r\na\n", "\r\na\n"}, // CR and LF are not OWS
	}
	for _, tt := range tests {
		if got := string(TrimOWS([]byte(tt.in))); got != tt.both {
			t.Errorf("TrimOWS(%q) = %q, want %q", tt.in, got, tt.both)
		}
		if got := string(TrimLeftOWS([]byte(tt.in))); got != tt.left {
			t.Errorf("TrimLeftOWS(%q) = %q, want %q", tt.in, got, tt.left)
		}
		if got := string(TrimRightOWS([]byte(tt.in))); got != tt.right {
			t.Errorf("TrimRightOWS(%q) = %q, want %q", tt.in, got, tt.right)
		}
	}
}

func TestSkipOWS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		i    int
		want int
	}{
		{"", 0, 0},
		{"  a", 0, 2},
		{"a \t b", 1, 4},
		{"a  ", 1, 3},
		{"a", 5, 5}, // past the end: unchanged
	}
	for _, tt := range tests {
		if got := SkipOWS([]byte(tt.in), tt.i); got != tt.want {
			t.Errorf("SkipOWS(%q, %d) = %d, want %d", tt.in, tt.i, got, tt.want)
		}
	}
}

func TestCutItem(t *testing.T) {
	t.Parallel()
	var items []string
	v := []byte(" gzip , ,br;q=0.5,\tdeflate ")
	for v != nil {
		var item []byte
		item, v = CutItem(v)
		items = append(items, string(item))
	}
	if got, want := strings.Join(items, "|"), "gzip||br;q=0.5|deflate"; got != want {
		t.Errorf("CutItem items = %q, want %q", got, want)
	}
	if item, rest := CutItem(nil); item != nil || rest != nil {
		t.Errorf("CutItem(nil) = %q, %q, want nil, nil", item, rest)
	}
}

func TestEqualFold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"Cache-Control", "cache-control", true},
		{"ETAG", "etag", true},
		{"etag", "etags", false},
		{"@", "`", false}, // 0x40 and 0x60 differ by 0x20 but are not letters
		{"[", "{", false},
		{"\xc3\xa9", "\xc3\x89", false}, // é and É: no Unicode folding
		{"a-1", "A-1", true},
	}
	for _, tt := range tests {
		if got := EqualFold([]byte(tt.a), tt.b); got != tt.want {
			t.Errorf("EqualFold(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := EqualFoldBytes([]byte(tt.a), []byte(tt.b)); got != tt.want {
			t.Errorf("EqualFoldBytes(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestLower(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		want := byte(c)
		if 'A' <= c && c <= 'Z' {
			want = byte(c) + 32
		}
		if got := Lower(byte(c)); got != want {
			t.Errorf("Lower(%#x) = %#x, want %#x", c, got, want)
		}
	}
}

func TestNextTag(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"a", "a"},
		{"a b", "a|b"},
		{" a,b\tc ,, d ", "a|b|c|d"},
		{",,,", ""},
	}
	for _, tt := range tests {
		var tags []string
		for rest := []byte(tt.in); len(rest) > 0; {
			var tag []byte
			tag, rest = NextTag(rest)
			if len(tag) > 0 {
				tags = append(tags, string(tag))
			}
		}
		if got := strings.Join(tags, "|"); got != tt.want {
			t.Errorf("NextTag tags of %q = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseDelta(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"60", 60, true},
		{"007", 7, true},
		{"2147483648", MaxDelta, true},
		{"2147483649", MaxDelta, true},
		{"99999999999999999999999999", MaxDelta, true},
		{"-1", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1.5", 0, false},
	}
	for _, tt := range tests {
		if got, ok := ParseDelta([]byte(tt.in)); got != tt.want || ok != tt.ok {
			t.Errorf("ParseDelta(%q) = %d, %v, want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzHTTPLex checks every function against a reference written with the
// standard library.
func FuzzHTTPLex(f *testing.F) {
	f.Add([]byte(" a, b ,c\t"), []byte("A, B ,C\t"))
	f.Add([]byte("Content-Type"), []byte("content-type"))
	f.Add([]byte("@[`{"), []byte("`{@["))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if got, want := TrimOWS(a), bytes.Trim(a, " \t"); !bytes.Equal(got, want) {
			t.Errorf("TrimOWS(%q) = %q, want %q", a, got, want)
		}
		if got, want := SkipOWS(a, 0), len(a)-len(bytes.TrimLeft(a, " \t")); got != want {
			t.Errorf("SkipOWS(%q, 0) = %d, want %d", a, got, want)
		}
		wantToken := len(a) > 0
		for _, c := range a {
			wantToken = wantToken && strings.IndexByte(tcharSet, c) >= 0
		}
		if got := IsToken(a); got != wantToken {
			t.Errorf("IsToken(%q) = %v, want %v", a, got, wantToken)
		}
		wantFold := bytes.Equal(lowerASCII(a), lowerASCII(b))
		if got := EqualFoldBytes(a, b); got != wantFold {
			t.Errorf("EqualFoldBytes(%q, %q) = %v, want %v", a, b, got, wantFold)
		}
		if got := EqualFold(a, string(b)); got != wantFold {
			t.Errorf("EqualFold(%q, %q) = %v, want %v", a, b, got, wantFold)
		}
		wantOK := len(a) > 0 && len(bytes.Trim(a, "0123456789")) == 0
		var wantDelta int64
		if wantOK {
			n, err := strconv.ParseUint(string(a), 10, 64)
			if err != nil || n > MaxDelta {
				n = MaxDelta
			}
			wantDelta = int64(n)
		}
		if got, ok := ParseDelta(a); got != wantDelta || ok != wantOK {
			t.Errorf("ParseDelta(%q) = %d, %v, want %d, %v", a, got, ok, wantDelta, wantOK)
		}
		var tags [][]byte
		for rest := a; len(rest) > 0; {
			var tag []byte
			tag, rest = NextTag(rest)
			if len(tag) > 0 {
				tags = append(tags, tag)
			}
		}
		if want := bytes.FieldsFunc(a, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' }); !slices.EqualFunc(tags, want, bytes.Equal) {
			t.Errorf("NextTag tags of %q = %q, want %q", a, tags, want)
		}
		var n int
		for v := a; v != nil && n <= len(a); n++ {
			var item []byte
			item, v = CutItem(v)
			if bytes.IndexByte(item, ',') >= 0 || len(item) != len(bytes.Trim(item, " \t")) {
				t.Fatalf("CutItem gave %q from %q", item, a)
			}
		}
		if want := bytes.Count(a, []byte{','}) + 1; n != want {
			t.Errorf("CutItem found %d items in %q, want %d", n, a, want)
		}
	})
}

// lowerASCII returns a copy of b with its ASCII letters lower-cased.
func lowerASCII(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 32
		}
		out[i] = c
	}
	return out
}
