package sdk

import (
	"bytes"
	"testing"
)

func TestText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fn   func([]byte, string) bool
		b, s string
		want bool
	}{
		{"EqualFold", EqualFold, "User-Agent", "user-agent", true},
		{"EqualFold length", EqualFold, "User-Agent", "user-agen", false},
		{"HasPrefixFold", HasPrefixFold, "UTM_source", "utm_", true},
		{"HasPrefixFold short", HasPrefixFold, "ut", "utm_", false},
		{"ContainsFold", ContainsFold, "Mozilla/5.0 (iPad; CPU OS 17_0)", "ipad", true},
		{"ContainsFold end", ContainsFold, "xxMOBI", "mobi", true},
		{"ContainsFold absent", ContainsFold, "Mozilla/5.0 (X11; Linux)", "mobi", false},
		{"ContainsFold empty", ContainsFold, "", "", true},
		{"ContainsFold longer", ContainsFold, "ab", "abc", false},
		{"HasToken", HasToken, "public, max-age=60", "max-age", true},
		{"HasToken case", HasToken, "Public,No-Store", "no-store", true},
		{"HasToken spaces", HasToken, " no-cache ,  private = \"x\" ", "private", true},
		{"HasToken prefix only", HasToken, "no-store-x", "no-store", false},
		{"HasToken empty", HasToken, "", "x", false},
	}
	for _, tt := range tests {
		if got := tt.fn([]byte(tt.b), tt.s); got != tt.want {
			t.Errorf("%s(%q, %q) = %v, want %v", tt.name, tt.b, tt.s, got, tt.want)
		}
	}
}

func TestAppendLower(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "A", "Example.COM", "ABCDEFGHIJKLMNOPQRSTUVWXYZ@[`{", "caf\xc3\x89 ÀB"} {
		got := AppendLower([]byte("X:"), []byte(s))
		want := []byte("X:")
		for i := 0; i < len(s); i++ {
			want = append(want, lower(s[i]))
		}
		if !bytes.Equal(got, want) {
			t.Errorf("AppendLower(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestHash64(t *testing.T) {
	t.Parallel()
	seen := map[uint64]string{}
	for _, s := range []string{"", "a", "b", "ab", "ba", "abcdefgh", "abcdefgh\x00", "abcdefghi", "\x00", "\x00\x00"} {
		h := Hash64(0, []byte(s))
		if o, dup := seen[h]; dup {
			t.Errorf("Hash64(%q) = Hash64(%q)", s, o)
		}
		seen[h] = s
		if Hash64(0, []byte(s)) != h || Hash64(1, []byte(s)) == h {
			t.Errorf("Hash64(%q) is not a function of seed and bytes", s)
		}
	}
}
