package sdk

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/wasm/abi"
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
		// KeyBuilder.Query (the assembly in a wasm guest) agrees with
		// Match, for a name at the start, in the middle and at the end of a
		// query.
		for _, q := range []string{tt.name + "=1&b", "b&" + tt.name + "=2&c", "b&" + tt.name} {
			if tt.name == "" {
				break // an empty name: the filters below
			}
			p, _, _ := strings.Cut(q[strings.LastIndex("&"+q, "&"+tt.name):], "&")
			if kept := slices.Contains(queryParams(TrackingParams, q), p); kept == tt.want {
				t.Errorf("Query(%q, TrackingParams) kept %q: %v, want %v", q, p, kept, !tt.want)
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
		q := "x&" + c.name + "=v&y"
		if kept := slices.Contains(queryParams(c.f, q), c.name+"=v"); kept == c.want {
			t.Errorf("Query(%q, %+v) kept %q: %v, want %v", q, c.f, c.name+"=v", kept, !c.want)
		}
	}
	var nilFilter *ParamFilter
	if nilFilter.Match([]byte("x")) {
		t.Error("nil filter matched")
	}
}

// queryParams returns the parameters KeyBuilder.Query keeps from q.
func queryParams(f *ParamFilter, q string) []string {
	k := newKeyBuilder()
	k.Query([]byte(q), f)
	k.srcs[0] = k.pbuf
	var out []string
	for _, e := range k.params[:k.np] {
		out = append(out, string(k.srcs[e.src][e.off:e.off+e.n]))
	}
	return out
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

// FuzzKeyBuilder_Query checks KeyBuilder.Query, SortParams and the target
// check (the assembly of fast_wasm.s in a wasm guest) against a reference
// built from Params, ParamFilter.Match and a stable sort.
func FuzzKeyBuilder_Query(f *testing.F) {
	f.Add("utm_source=x&b=2&a=1", uint8(1))
	f.Add("a=1&&b=2&a=0&=&utm_=3&fbclid&gclid=4&x=y=z", uint8(3))
	f.Add("abcdefghij=1&b=2&abcdefghi=3&abcdefghij&c", uint8(2))
	f.Add("a b=1&c#=2", uint8(0))
	filters := []*ParamFilter{nil, TrackingParams, NewParamFilter("a*", "b", ""), NewParamFilter("session_identifier", "x")}
	f.Fuzz(func(t *testing.T, q string, opts uint8) {
		filter, sorted := filters[int(opts>>1)%len(filters)], opts&1 == 1
		var want []string
		ps := SplitQuery([]byte(q))
		for p, ok := ps.Next(); ok; p, ok = ps.Next() {
			if !filter.Match(p.Name) {
				want = append(want, string(p.Raw))
			}
		}
		if sorted {
			slices.SortStableFunc(want, func(a, b string) int {
				an, _, _ := strings.Cut(a, "=")
				bn, _, _ := strings.Cut(b, "=")
				return strings.Compare(an, bn)
			})
		}
		target := "/"
		if len(want) > 0 {
			target += "?" + strings.Join(want, "&")
		}
		k := newKeyBuilder()
		k.Host([]byte("h"))
		k.PathString("/")
		k.Query([]byte(q), filter)
		if sorted {
			k.SortParams()
		}
		res, err := k.finish()
		switch {
		case len(want) > MaxParams:
			if !errors.Is(err, ErrTooManyParams) {
				t.Fatalf("%d parameters: err = %v, want ErrTooManyParams", len(want), err)
			}
		case !validTargetGo([]byte(target)):
			if !errors.Is(err, ErrTarget) {
				t.Fatalf("target %q: err = %v, want ErrTarget", target, err)
			}
		case err != nil:
			t.Fatalf("Query(%q): %v", q, err)
		default:
			var key abi.Key
			if err := abi.DecodeKey(res, &key); err != nil {
				t.Fatalf("DecodeKey: %v", err)
			}
			if string(key.Target) != target {
				t.Fatalf("Query(%q, sorted %v) target %q, want %q", q, sorted, key.Target, target)
			}
		}
	})
}
