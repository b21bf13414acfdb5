package httpdate

import (
	"net/http"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	want := time.Date(1994, time.November, 6, 8, 49, 37, 0, time.UTC)
	tests := []struct {
		name   string
		in     string
		want   time.Time
		wantOK bool
	}{
		{"IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", want, true},
		{"IMF-fixdate with whitespace", " \tSun, 06 Nov 1994 08:49:37 GMT ", want, true},
		{"RFC 850", "Sunday, 06-Nov-94 08:49:37 GMT", want, true},
		{"RFC 850 recent year", "Monday, 01-Jan-26 00:00:00 GMT", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"RFC 850 year 76 is 2076", "Wednesday, 01-Jan-76 00:00:00 GMT", time.Date(2076, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"RFC 850 year 77 is 1977", "Saturday, 01-Jan-77 00:00:00 GMT", time.Date(1977, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"asctime", "Sun Nov  6 08:49:37 1994", want, true},
		{"asctime two-digit day", "Sun Nov 16 08:49:37 1994", want.AddDate(0, 0, 10), true},
		{"leap day", "Thu, 29 Feb 2024 00:00:00 GMT", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), true},
		{"leap second", "Sun, 06 Nov 1994 23:59:60 GMT", time.Date(1994, 11, 7, 0, 0, 0, 0, time.UTC), true},
		{"weekday mismatch accepted", "Mon, 06 Nov 1994 08:49:37 GMT", want, true},
		{"empty", "", time.Time{}, false},
		{"zero", "0", time.Time{}, false},
		{"-1", "-1", time.Time{}, false},
		{"lower-case GMT", "Sun, 06 Nov 1994 08:49:37 gmt", time.Time{}, false},
		{"UTC zone", "Sun, 06 Nov 1994 08:49:37 UTC", time.Time{}, false},
		{"numeric zone", "Sun, 06 Nov 1994 08:49:37 +0000", time.Time{}, false},
		{"bad day name", "Xyz, 06 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"bad month", "Sun, 06 Now 1994 08:49:37 GMT", time.Time{}, false},
		{"day 31 in November", "Sun, 31 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"Feb 29 not leap", "Sun, 29 Feb 2023 08:49:37 GMT", time.Time{}, false},
		{"Feb 29 1900 not leap", "Thu, 29 Feb 1900 08:49:37 GMT", time.Time{}, false},
		{"day zero", "Sun, 00 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"hour 24", "Sun, 06 Nov 1994 24:00:00 GMT", time.Time{}, false},
		{"minute 60", "Sun, 06 Nov 1994 08:60:00 GMT", time.Time{}, false},
		{"single-digit day", "Sun, 6 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"sign in digits", "Sun, +6 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"RFC 850 bad day name", "Sonday, 06-Nov-94 08:49:37 GMT", time.Time{}, false},
		{"RFC 850 short name", "Sun, 06-Nov-94 08:49:37 GMT", time.Time{}, false},
		{"asctime bad separator", "Sun Nov  6 08-49-37 1994", time.Time{}, false},
		{"truncated", "Sun, 06 Nov 1994 08:49:37 GM", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := parse([]byte(tt.in), 2026)
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Errorf("Parse(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestAppend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"RFC example", time.Date(1994, 11, 6, 8, 49, 37, 999, time.UTC), "Sun, 06 Nov 1994 08:49:37 GMT"},
		{"converted to UTC", time.Date(2026, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600)), "Thu, 01 Jan 2026 00:00:00 GMT"},
		{"year 10000 clamped", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "Fri, 31 Dec 9999 23:59:59 GMT"},
		{"negative year clamped", time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), "Sat, 01 Jan 0000 00:00:00 GMT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(Append([]byte("x"), tt.in)); got != "x"+tt.want {
				t.Errorf("Append(%v) = %q, want %q", tt.in, got, "x"+tt.want)
			}
		})
	}
}

// TestAppend_matchesNetHTTP compares with net/http over a spread of times.
func TestAppend_matchesNetHTTP(t *testing.T) {
	t.Parallel()
	for s := int64(-1e10); s < 2e11; s += 7_777_777 {
		tm := time.Unix(s, 0)
		want := tm.UTC().Format(http.TimeFormat)
		if got := string(Append(nil, tm)); got != want {
			t.Fatalf("Append(%v) = %q, want %q", tm, got, want)
		}
		if got, ok := Parse([]byte(want)); !ok || !got.Equal(tm) {
			t.Fatalf("Parse(%q) = %v, %v; want %v", want, got, ok, tm)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Thu, 29 Feb 2024 00:00:00 GMT", "", "Sun, 99 Nov 1994 99:99:99 GMT",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tm, ok := Parse(b)
		if !ok {
			return
		}
		// A valid date formats to IMF-fixdate, which parses back to itself.
		out := Append(nil, tm)
		again, ok := Parse(out)
		if !ok || !again.Equal(tm) {
			t.Fatalf("Parse(%q) = %v; Parse(Append) = %q -> %v, %v", b, tm, out, again, ok)
		}
		// net/http agrees on the IMF-fixdate form.
		if want, err := http.ParseTime(string(out)); err != nil || !want.Equal(tm) {
			t.Fatalf("http.ParseTime(%q) = %v, %v; want %v", out, want, err, tm)
		}
	})
}

func TestParse_yearZero(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"Sat, 01 Jan 0000 00:00:00 GMT", "Tue, 29 Feb 0000 12:00:00 GMT", "Wed, 01 Mar 0000 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT"} {
		want, err := time.Parse(http.TimeFormat, in)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := Parse([]byte(in)); !ok || !got.Equal(want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
}
