package cachecontrol

import (
	"testing"

	"github.com/flowcache/flowcache/policy"
)

// dirs builds an expected Directives: absent delta-seconds, then edits.
func dirs(edit func(d *Directives)) Directives {
	var d Directives
	d.Reset()
	if edit != nil {
		edit(&d)
	}
	return d
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value string
		want  Directives
	}{
		{"empty", "", dirs(nil)},
		{"only separators", " , ,\t,", dirs(nil)},
		{"max-age", "max-age=60", dirs(func(d *Directives) { d.MaxAge = 60 })},
		{"case-insensitive names", "Max-Age=60, NO-STORE, Public", dirs(func(d *Directives) {
			d.MaxAge, d.NoStore, d.Public = 60, true, true
		})},
		{"whitespace everywhere", "  max-age = 60 ,\tpublic\t,  ", dirs(func(d *Directives) { d.MaxAge, d.Public = 60, true })},
		{"quoted delta-seconds", `max-age="60"`, dirs(func(d *Directives) { d.MaxAge = 60 })},
		{"s-maxage", "s-maxage=30, max-age=10", dirs(func(d *Directives) { d.SMaxAge, d.MaxAge = 30, 10 })},
		{"max-age zero", "max-age=0", dirs(func(d *Directives) { d.MaxAge = 0 })},
		{"max-age leading zeros", "max-age=007", dirs(func(d *Directives) { d.MaxAge = 7 })},
		{"max-age negative is stale", "max-age=-1", dirs(func(d *Directives) { d.MaxAge = 0 })},
		{"max-age not a number is stale", "max-age=abc", dirs(func(d *Directives) { d.MaxAge = 0 })},
		{"max-age trailing letters is stale", "max-age=60s", dirs(func(d *Directives) { d.MaxAge = 0 })},
		{"max-age empty is stale", "max-age=", dirs(func(d *Directives) { d.MaxAge = 0 })},
		{"max-age without value is stale", "max-age", dirs(func(d *Directives) { d.MaxAge = 0 })},
		{"max-age plus sign is stale", "max-age=+5", dirs(func(d *Directives) { d.MaxAge = 0 })},
		{"max-age trailing plus is stale", "max-age=5+", dirs(func(d *Directives) { d.MaxAge = 0 })},
		{"Surrogate-Control fresh+stale", "max-age=30+60", dirs(func(d *Directives) { d.MaxAge, d.StaleIfError = 30, 60 })},
		{"Surrogate-Control fresh+junk is stale", "max-age=30+x", dirs(func(d *Directives) { d.MaxAge = 0 })},
		{"max-age junk glued is stale", `max-age="1"0`, dirs(func(d *Directives) { d.MaxAge = 0 })},
		{"max-age semicolon glued is stale", "max-age=1;private", dirs(func(d *Directives) { d.MaxAge, d.Private = 0, true })},
		{"max-age unterminated quote is stale", `max-age="60`, dirs(func(d *Directives) { d.MaxAge = 0 })},
		{"max-age duplicate equal kept", "max-age=60, max-age=60", dirs(func(d *Directives) { d.MaxAge = 60 })},
		{"max-age duplicate conflicting is stale", "max-age=60, max-age=120", dirs(func(d *Directives) { d.MaxAge = 0 })},
		{"max-age invalid then valid is stale", "max-age=x, max-age=60", dirs(func(d *Directives) { d.MaxAge = 0 })},
		{"s-maxage duplicate conflicting is stale", "s-maxage=1, s-maxage=2", dirs(func(d *Directives) { d.SMaxAge = 0 })},
		{"huge number clamped", "max-age=99999999999999999999999999999", dirs(func(d *Directives) { d.MaxAge = MaxDelta })},
		{"2^31 kept", "max-age=2147483648", dirs(func(d *Directives) { d.MaxAge = MaxDelta })},
		{"just below 2^31 kept", "max-age=2147483647", dirs(func(d *Directives) { d.MaxAge = MaxDelta - 1 })},
		{"stale windows", "stale-while-revalidate=30, stale-if-error=600", dirs(func(d *Directives) {
			d.StaleWhileRevalidate, d.StaleIfError = 30, 600
		})},
		{"stale window duplicate keeps smaller", "stale-if-error=600, stale-if-error=60", dirs(func(d *Directives) { d.StaleIfError = 60 })},
		{"stale window invalid ignored", "stale-while-revalidate=-5", dirs(nil)},
		{"max-stale without value", "max-stale", dirs(func(d *Directives) { d.MaxStaleAny = true })},
		{"max-stale with value", "max-stale=10", dirs(func(d *Directives) { d.MaxStale = 10 })},
		{"min-fresh duplicate keeps larger", "min-fresh=5, min-fresh=20, min-fresh=x", dirs(func(d *Directives) { d.MinFresh = 20 })},
		{"no-cache unqualified", "no-cache", dirs(func(d *Directives) { d.NoCache = true })},
		{"no-cache qualified with comma", `no-cache="Set-Cookie, Authorization", max-age=5`, dirs(func(d *Directives) {
			d.NoCacheFields, d.MaxAge = true, 5
		})},
		{"no-cache token qualified", "no-cache=Set-Cookie", dirs(func(d *Directives) { d.NoCacheFields = true })},
		{"private unqualified", "private", dirs(func(d *Directives) { d.Private = true })},
		{"private qualified", `private="X-User"`, dirs(func(d *Directives) { d.PrivateFields = true })},
		{"directive hidden in quoted argument", `foo="a, no-store, max-age=5", public`, dirs(func(d *Directives) { d.Public = true })},
		{"escaped quote in argument", `foo="a\", no-store", private`, dirs(func(d *Directives) { d.Private = true })},
		{"stray quoted string skipped", `"no-store", public`, dirs(func(d *Directives) { d.Public = true })},
		{"space separated directives", "public private", dirs(func(d *Directives) { d.Public, d.Private = true, true })},
		{"boolean with junk argument still set", "no-store=yes", dirs(func(d *Directives) { d.NoStore = true })},
		{"all flags", "no-store, no-cache, private, public, must-revalidate, proxy-revalidate, no-transform, only-if-cached, immutable, must-understand",
			dirs(func(d *Directives) {
				d.NoStore, d.NoCache, d.Private, d.Public = true, true, true, true
				d.MustRevalidate, d.ProxyRevalidate, d.NoTransform = true, true, true
				d.OnlyIfCached, d.Immutable, d.MustUnderstand = true, true, true
			})},
		{"unknown directives skipped", "community=UCI, x-foo, max-age=1", dirs(func(d *Directives) { d.MaxAge = 1 })},
		{"very long unknown name skipped", "this-is-a-very-long-unknown-directive-name=1, no-store", dirs(func(d *Directives) { d.NoStore = true })},
		{"prefix of a known name is not it", "max-ag=5, no-stor", dirs(nil)},
		{"control characters are separators", "\x00no-store\x7f", dirs(func(d *Directives) { d.NoStore = true })},
		{"non-ASCII", "max-age=6\xc3\xa90", dirs(func(d *Directives) { d.MaxAge = 0 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got Directives
			got.Reset()
			Parse(&got, []byte(tt.value))
			if got != tt.want {
				t.Errorf("Parse(%q) =\n%+v, want\n%+v", tt.value, got, tt.want)
			}
		})
	}
}

func TestParse_merges(t *testing.T) {
	t.Parallel()
	var d Directives
	d.Reset()
	Parse(&d, []byte("max-age=60"))
	Parse(&d, []byte("private"))
	want := dirs(func(d *Directives) { d.MaxAge, d.Private = 60, true })
	if d != want {
		t.Errorf("two Parse calls = %+v, want %+v", d, want)
	}
	Parse(&d, []byte("max-age=61"))
	if d.MaxAge != 0 {
		t.Errorf("conflicting max-age across fields: MaxAge = %d, want 0", d.MaxAge)
	}
}

func TestParseField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		headers     policy.Headers
		field       string
		wantPresent bool
		want        Directives
	}{
		{"absent", policy.Headers{{Name: []byte("Age"), Value: []byte("1")}}, "Cache-Control", false, dirs(nil)},
		{"present empty", policy.Headers{{Name: []byte("cache-control"), Value: nil}}, "Cache-Control", true, dirs(nil)},
		{"several fields merged", policy.Headers{
			{Name: []byte("Cache-Control"), Value: []byte("max-age=10")},
			{Name: []byte("Surrogate-Control"), Value: []byte("max-age=99")},
			{Name: []byte("CACHE-CONTROL"), Value: []byte("public")},
		}, "Cache-Control", true, dirs(func(d *Directives) { d.MaxAge, d.Public = 10, true })},
		{"other field name", policy.Headers{
			{Name: []byte("Cache-Control"), Value: []byte("max-age=10")},
			{Name: []byte("CDN-Cache-Control"), Value: []byte("max-age=99")},
		}, "Cdn-Cache-Control", true, dirs(func(d *Directives) { d.MaxAge = 99 })},
		{"name case fold is ASCII only", policy.Headers{
			{Name: []byte("cache\x0dcontrol"), Value: []byte("no-store")},
		}, "Cache-Control", false, dirs(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var d Directives
			d.MaxAge = 12345 // must be reset
			present := ParseField(&d, tt.headers, tt.field)
			if present != tt.wantPresent || d != tt.want {
				t.Errorf("ParseField(%q) = %v, %+v; want %v, %+v", tt.field, present, d, tt.wantPresent, tt.want)
			}
		})
	}
}

func TestDirectives_Empty(t *testing.T) {
	t.Parallel()
	var d Directives
	d.Reset()
	if !d.Empty() {
		t.Errorf("Empty() after Reset = false, want true")
	}
	Parse(&d, []byte("x-unknown=1"))
	if !d.Empty() {
		t.Errorf("Empty() after unknown directive = false, want true")
	}
	Parse(&d, []byte("immutable"))
	if d.Empty() {
		t.Errorf("Empty() after immutable = true, want false")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "max-age=60", "public, max-age=31536000, immutable", `no-cache="Set-Cookie, X"`,
		"s-maxage=10, stale-while-revalidate=5, stale-if-error=3600", "max-age=99999999999999999999",
		`private="a\"b", no-store`, "max-stale, min-fresh=1, only-if-cached", "max-age=-1, max-age=1",
		"\"unterminated", "MAX-AGE = \"60\" ; junk",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		var d Directives
		d.Reset()
		Parse(&d, v)
		for _, x := range []int64{d.MaxAge, d.SMaxAge, d.StaleWhileRevalidate, d.StaleIfError, d.MaxStale, d.MinFresh} {
			if x < -1 || x > MaxDelta {
				t.Fatalf("Parse(%q): delta-seconds %d out of range [-1, 2^31]", v, x)
			}
		}
		// Merging a value into its own result changes nothing: a value
		// never conflicts with itself.
		e := d
		Parse(&e, v)
		if e != d {
			t.Fatalf("Parse(%q) twice: %+v, once: %+v", v, e, d)
		}
	})
}
