package sdk

import "testing"

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
