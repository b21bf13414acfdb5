package sdk

import (
	"bytes"
	"strings"
	"testing"
)

func TestParams_Next(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query string
		want        []string // name|value|hasValue per parameter
	}{
		{"empty", "", nil},
		{"one", "a=1", []string{"a|1|true"}},
		{"several", "a=1&b=2&c", []string{"a|1|true", "b|2|true", "c||false"}},
		{"empty value", "a=&b", []string{"a||true", "b||false"}},
		{"empty segments", "&&a=1&&b=2&", []string{"a|1|true", "b|2|true"}},
		{"only ampersands", "&&&", nil},
		{"second equals is data", "a=b=c", []string{"a|b=c|true"}},
		{"empty name", "=x", []string{"|x|true"}},
		{"semicolon is data", "a=1;b=2", []string{"a|1;b=2|true"}},
		{"percent kept", "q=a%20b&x+y=1", []string{"q|a%20b|true", "x+y|1|true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			ps := SplitQuery([]byte(tt.query))
			for p, ok := ps.Next(); ok; p, ok = ps.Next() {
				got = append(got, string(p.Name)+"|"+string(p.Value)+"|"+map[bool]string{true: "true", false: "false"}[p.HasValue])
				wantRaw := string(p.Name)
				if p.HasValue {
					wantRaw += "=" + string(p.Value)
				}
				if string(p.Raw) != wantRaw {
					t.Errorf("Raw = %q, want %q", p.Raw, wantRaw)
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("SplitQuery(%q) = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
}

func TestParams_Get(t *testing.T) {
	t.Parallel()
	ps := SplitQuery([]byte("a=1&b=2&a=3&c"))
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"a", "1", true}, {"b", "2", true}, {"c", "", true}, {"d", "", false},
	}
	for _, tt := range tests {
		v, ok := ps.Get(tt.name)
		if string(v) != tt.want || ok != tt.ok {
			t.Errorf("Get(%q) = %q, %v, want %q, %v", tt.name, v, ok, tt.want, tt.ok)
		}
	}
}

func TestParamFilter_Match(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want bool
	}{
		{"utm_source", true},
		{"utm_", true},
		{"utm", false},
		{"UTM_source", false},
		{"fbclid", true},
		{"fbclid2", false},
		{"gclid", true},
		{"page", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := TrackingParams.Match([]byte(tt.name)); got != tt.want {
			t.Errorf("TrackingParams.Match(%q) = %v, want %v", tt.name, got, tt.want)
		}
		// The word compare KeyBuilder.Query uses agrees with Match, for a
		// name at the start, in the middle and at the end of a query.
		for _, q := range []string{tt.name + "=1&b", "b&" + tt.name + "&c", "b&" + tt.name} {
			s := strings.Index(q, tt.name)
			if tt.name == "" {
				s = strings.Index(q, "&") + 1
			}
			if got := (len(tt.name) > 0 && TrackingParams.first[tt.name[0]>>6]&(1<<(tt.name[0]&63)) != 0 || len(tt.name) == 0 && TrackingParams.empty) &&
				dropped(TrackingParams, []byte(q), s, len(tt.name)); got != tt.want {
				t.Errorf("dropped(TrackingParams, %q, %d, %d) = %v, want %v", q, s, len(tt.name), got, tt.want)
			}
		}
	}
	all, empty, mixed := NewParamFilter("*"), NewParamFilter(""), NewParamFilter("a*", "\xff", "b")
	for _, c := range []struct {
		f    *ParamFilter
		name string
		want bool
	}{
		{all, "", true},
		{all, "x", true},
		{all, "\xff", true},
		{empty, "", true},
		{empty, "x", false},
		{mixed, "", false},
		{mixed, "a", true},
		{mixed, "ab", true},
		{mixed, "\xff", true},
		{mixed, "b", true},
		{mixed, "bb", false},
		{mixed, "c", false},
	} {
		if got := c.f.Match([]byte(c.name)); got != c.want {
			t.Errorf("%+v.Match(%q) = %v, want %v", c.f, c.name, got, c.want)
		}
	}
	var nilFilter *ParamFilter
	if nilFilter.Match([]byte("x")) {
		t.Error("nil filter matched")
	}
}

// FuzzSplitQuery checks that the parameters are exactly the non-empty
// '&'-separated segments, in order, and that each splits at its first '='.
func FuzzSplitQuery(f *testing.F) {
	for _, s := range []string{"", "a=1&b=2", "&&a&", "a=b=c", "=", "utm_source=x&b=2&a=1", "a=1;b=2&%26=%3D"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		var want [][]byte
		for _, seg := range bytes.Split([]byte(q), []byte("&")) {
			if len(seg) > 0 {
				want = append(want, seg)
			}
		}
		ps := SplitQuery([]byte(q))
		i := 0
		for p, ok := ps.Next(); ok; p, ok = ps.Next() {
			if i >= len(want) {
				t.Fatalf("SplitQuery(%q): extra parameter %q", q, p.Raw)
			}
			if !bytes.Equal(p.Raw, want[i]) {
				t.Fatalf("SplitQuery(%q)[%d] = %q, want %q", q, i, p.Raw, want[i])
			}
			name, value, found := bytes.Cut(want[i], []byte("="))
			if !bytes.Equal(p.Name, name) || !bytes.Equal(p.Value, value) || p.HasValue != found {
				t.Fatalf("SplitQuery(%q)[%d] = %q %q %v, want %q %q %v", q, i, p.Name, p.Value, p.HasValue, name, value, found)
			}
			i++
		}
		if i != len(want) {
			t.Fatalf("SplitQuery(%q): %d parameters, want %d", q, i, len(want))
		}
	})
}
