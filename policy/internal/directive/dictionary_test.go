package directive

import (
	"testing"
)

func TestParseDictionary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		valid bool
		check func(d *Directives) bool
	}{
		{"empty", "", true, func(d *Directives) bool { return d.Empty() }},
		{"max-age", "max-age=60", true, func(d *Directives) bool { return d.MaxAge == 60 }},
		{"several members, OWS", " max-age=60 ,\tno-store , must-revalidate ", true, func(d *Directives) bool {
			return d.MaxAge == 60 && d.NoStore && d.MustRevalidate
		}},
		{"last wins", "max-age=10, max-age=20", true, func(d *Directives) bool { return d.MaxAge == 20 }},
		{"?0 clears a flag", "no-store, no-store=?0", true, func(d *Directives) bool { return !d.NoStore }},
		{"?1 sets a flag", "public=?1", true, func(d *Directives) bool { return d.Public }},
		{"parameters ignored", "max-age=60;a=1;b, private;x=\"y\"", true, func(d *Directives) bool { return d.MaxAge == 60 && d.Private }},
		{"qualified no-cache, String", `no-cache="set-cookie"`, true, func(d *Directives) bool { return d.NoCacheFields && !d.NoCache }},
		{"qualified private, Inner List", `private=("set-cookie" "x")`, true, func(d *Directives) bool { return d.PrivateFields && !d.Private }},
		{"unknown directives of any type", `foo=1.5, bar="x", baz=tok/en:1, qux=:aGk=:, z=(1 2);p, *w=?0`, true, func(d *Directives) bool { return d.Empty() }},
		{"large max-age clamped", "max-age=999999999999999", true, func(d *Directives) bool { return d.MaxAge == MaxDelta }},
		{"stale windows", "stale-while-revalidate=5, stale-if-error=7", true, func(d *Directives) bool {
			return d.StaleWhileRevalidate == 5 && d.StaleIfError == 7
		}},

		{"Decimal max-age", "max-age=1.5", false, nil},
		{"String max-age", `max-age="60"`, false, nil},
		{"Token max-age", "max-age=abc", false, nil},
		{"negative max-age", "max-age=-1", false, nil},
		{"Integer flag", "no-store=1", false, nil},
		{"String flag", `must-revalidate="yes"`, false, nil},
		{"Integer no-cache", "no-cache=5", false, nil},
		{"upper-case key", "Max-Age=60", false, nil},
		{"trailing comma", "max-age=60,", false, nil},
		{"empty member", "max-age=60,,no-store", false, nil},
		{"junk after value", "max-age=60 60", false, nil},
		{"Surrogate-Control's fresh+stale", "max-age=60+30", false, nil},
		{"semicolon separated", "max-age=60; no-store", true, func(d *Directives) bool { return d.MaxAge == 60 && !d.NoStore }},
		{"unterminated String", `foo="x`, false, nil},
		{"bad escape", `foo="\x"`, false, nil},
		{"16-digit Integer", "foo=1234567890123456", false, nil},
		{"4 fractional digits", "foo=1.2345", false, nil},
		{"bad Boolean", "foo=?2", false, nil},
		{"bad Byte Sequence", "foo=:a*b:", false, nil},
		{"unterminated Inner List", "foo=(1 2", false, nil},
		{"Inner List without space", "foo=(1\"a\")", false, nil},
		{"unknown type", "foo=@123", false, nil},
		{"non-ASCII", "foo=\"\xc3\xa9\"", false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var d Directives
			d.Reset()
			if got := ParseDictionary(&d, []byte(tc.in)); got != tc.valid {
				t.Fatalf("ParseDictionary(%q) = %v, want %v", tc.in, got, tc.valid)
			}
			if tc.check != nil && !tc.check(&d) {
				t.Errorf("ParseDictionary(%q): directives %+v", tc.in, d)
			}
		})
	}
}

func TestParseDictionary_Allocs(t *testing.T) {
	v := []byte(`max-age=60, stale-if-error=30;p=1, no-cache=("a" "b"), foo=:aGk=:`)
	var d Directives
	if n := testing.AllocsPerRun(100, func() {
		d.Reset()
		ParseDictionary(&d, v)
	}); n != 0 {
		t.Errorf("ParseDictionary allocates %v times, want 0", n)
	}
}

// FuzzParseDictionary: any input is parsed without panic; a valid result
// keeps every delta-seconds field absent or in [0, MaxDelta], and a value
// that parses keeps parsing the same when its members are separated by
// more whitespace.
func FuzzParseDictionary(f *testing.F) {
	for _, s := range []string{
		"max-age=60", "max-age=60, no-store", `no-cache="a", private=("b" c);x=1`,
		"max-age=1.5", `foo=:aGk=:, bar=?0`, "a=(1 2 (3)", "max-age=-5", "", " , ",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		var d Directives
		d.Reset()
		if !ParseDictionary(&d, v) {
			return
		}
		for _, n := range []int64{d.MaxAge, d.SMaxAge, d.StaleWhileRevalidate, d.StaleIfError, d.MaxStale, d.MinFresh} {
			if n < Absent || n > MaxDelta {
				t.Fatalf("ParseDictionary(%q): delta %d out of range", v, n)
			}
		}
		var e Directives
		e.Reset()
		if !ParseDictionary(&e, append(append([]byte("  "), v...), ' ')) || e != d {
			t.Fatalf("ParseDictionary(%q) changed with surrounding spaces: %+v vs %+v", v, e, d)
		}
	})
}
