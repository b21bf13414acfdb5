package freshness

import (
	"math"
	"testing"
	"time"

	"github.com/flowcache/flowcache/policy"
	"github.com/flowcache/flowcache/policy/cachecontrol"
)

func TestHTTPDate_roundTrip(t *testing.T) {
	t.Parallel()
	tm := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	b := AppendHTTPDate(nil, tm)
	if string(b) != "Wed, 04 Mar 2026 05:06:07 GMT" {
		t.Errorf("AppendHTTPDate(%v) = %q", tm, b)
	}
	if got, ok := ParseHTTPDate(b); !ok || !got.Equal(tm) {
		t.Errorf("ParseHTTPDate(%q) = %v, %v; want %v, true", b, got, ok, tm)
	}
	if _, ok := ParseHTTPDate([]byte("yesterday")); ok {
		t.Errorf("ParseHTTPDate(%q) ok = true, want false", "yesterday")
	}
}

func TestCorrectedInitialAge(t *testing.T) {
	t.Parallel()
	req := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	resp := req.Add(2 * time.Second)
	const respDate = "Thu, 01 Jan 2026 00:00:02 GMT" // == resp
	tests := []struct {
		name string
		age  string
		date string
		req  time.Time
		want time.Duration
	}{
		{"no Age, Date equals response time: the request delay", "", respDate, req, 2 * time.Second},
		{"Age plus delay", "10", respDate, req, 12 * time.Second},
		{"apparent age wins when larger", "1", "Wed, 31 Dec 2025 23:59:02 GMT", req, time.Minute},
		{"Date in the future is apparent age 0", "", "Fri, 02 Jan 2026 00:00:00 GMT", req, 2 * time.Second},
		{"invalid Date ignored", "5", "garbage", req, 7 * time.Second},
		{"invalid Age ignored", "-5", respDate, req, 2 * time.Second},
		{"Age with junk ignored", "5s", respDate, req, 2 * time.Second},
		{"Age list uses first member", " 7 , 100", respDate, req, 9 * time.Second},
		{"huge Age clamped to 2^31 s", "99999999999999999999999", respDate, req, (1<<31)*time.Second + 2*time.Second},
		{"request time after response time is no delay", "3", respDate, resp.Add(time.Hour), 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var age, date []byte
			if tt.age != "" {
				age = []byte(tt.age)
			}
			if tt.date != "" {
				date = []byte(tt.date)
			}
			if got := CorrectedInitialAge(age, date, tt.req, resp); got != tt.want {
				t.Errorf("CorrectedInitialAge(%q, %q) = %v, want %v", tt.age, tt.date, got, tt.want)
			}
		})
	}
}

func TestCurrentAge(t *testing.T) {
	t.Parallel()
	resp := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		initial time.Duration
		now     time.Time
		want    time.Duration
	}{
		{"initial plus resident", 5 * time.Second, resp.Add(time.Minute), 65 * time.Second},
		{"clock went backwards", 5 * time.Second, resp.Add(-time.Minute), 5 * time.Second},
		{"saturates", math.MaxInt64 - 1, resp.Add(time.Hour), math.MaxInt64},
		{"negative initial is 0", -time.Second, resp, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := CurrentAge(tt.initial, resp, tt.now); got != tt.want {
				t.Errorf("CurrentAge(%v, +%v) = %v, want %v", tt.initial, tt.now.Sub(resp), got, tt.want)
			}
		})
	}
}

func reqDirs(v string) *cachecontrol.Directives {
	var d cachecontrol.Directives
	d.Reset()
	cachecontrol.Parse(&d, []byte(v))
	return &d
}

func TestAssess(t *testing.T) {
	t.Parallel()
	const s = time.Second
	tests := []struct {
		name           string
		age, ttl       time.Duration
		swr, sie       time.Duration
		mustRevalidate bool
		noCache        bool
		req            *cachecontrol.Directives
		want           State
	}{
		{"fresh", 10 * s, 60 * s, 0, 0, false, false, nil, Fresh},
		{"age equal to ttl is stale", 60 * s, 60 * s, 0, 0, false, false, nil, Stale},
		{"zero ttl is stale", 0, 0, 0, 0, false, false, nil, Stale},
		{"negative ttl is stale", 0, -s, 0, 0, false, false, nil, Stale},
		{"stale within swr", 70 * s, 60 * s, 30 * s, 0, false, false, nil, StaleWhileRevalidate},
		{"stale past swr", 95 * s, 60 * s, 30 * s, 0, false, false, nil, Stale},
		{"stale within sie", 95 * s, 60 * s, 30 * s, 600 * s, false, false, nil, StaleIfError},
		{"stale past sie", 700 * s, 60 * s, 30 * s, 600 * s, false, false, nil, Stale},
		{"must-revalidate keeps origin's swr window", 70 * s, 60 * s, 30 * s, 0, true, false, nil, StaleWhileRevalidate},
		{"must-revalidate keeps origin's sie window", 70 * s, 60 * s, 0, 600 * s, true, false, nil, StaleIfError},
		{"response no-cache forbids fresh use", 0, 60 * s, 30 * s, 600 * s, false, true, nil, Stale},
		{"request no-cache forbids fresh use", 0, 60 * s, 0, 0, false, false, reqDirs("no-cache"), Stale},
		{"request max-age=0 forces revalidation", s, 60 * s, 0, 0, false, false, reqDirs("max-age=0"), Stale},
		{"request max-age met", 5 * s, 60 * s, 0, 0, false, false, reqDirs("max-age=10"), Fresh},
		{"request max-age exceeded, even with swr", 70 * s, 60 * s, 30 * s, 0, false, false, reqDirs("max-age=65"), Stale},
		{"request min-fresh met", 10 * s, 60 * s, 0, 0, false, false, reqDirs("min-fresh=50"), Fresh},
		{"request min-fresh not met", 20 * s, 60 * s, 0, 0, false, false, reqDirs("min-fresh=50"), Stale},
		{"request max-stale without value", 1000 * s, 60 * s, 0, 0, false, false, reqDirs("max-stale"), StaleWhileRevalidate},
		{"request max-stale within", 70 * s, 60 * s, 0, 0, false, false, reqDirs("max-stale=10"), StaleWhileRevalidate},
		{"request max-stale exceeded", 71 * s, 60 * s, 0, 0, false, false, reqDirs("max-stale=10"), Stale},
		{"must-revalidate forbids max-stale", 70 * s, 60 * s, 0, 0, true, false, reqDirs("max-stale"), Stale},
		{"request stale-if-error", 70 * s, 60 * s, 0, 0, false, false, reqDirs("stale-if-error=60"), StaleIfError},
		{"must-revalidate forbids request stale-if-error", 70 * s, 60 * s, 0, 0, true, false, reqDirs("stale-if-error=60"), Stale},
		{"empty request directives change nothing", 10 * s, 60 * s, 0, 0, false, false, reqDirs(""), Fresh},
		{"huge age does not overflow", math.MaxInt64, -math.MaxInt64, 0, 0, false, false, reqDirs("max-stale=10"), Stale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Assess(tt.age, tt.ttl, tt.swr, tt.sie, tt.mustRevalidate, tt.noCache, tt.req)
			if got != tt.want {
				t.Errorf("Assess(age=%v ttl=%v swr=%v sie=%v mr=%v nc=%v) = %v, want %v",
					tt.age, tt.ttl, tt.swr, tt.sie, tt.mustRevalidate, tt.noCache, got, tt.want)
			}
		})
	}
}

func TestState_String(t *testing.T) {
	t.Parallel()
	for s, want := range map[State]string{Fresh: "fresh", Stale: "stale", StaleWhileRevalidate: "stale-while-revalidate", StaleIfError: "stale-if-error", 99: "unknown"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", s, got, want)
		}
	}
}

func hdrs(kv ...string) policy.Headers {
	h := make(policy.Headers, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		h = append(h, policy.Header{Name: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return h
}

func TestNotModified(t *testing.T) {
	t.Parallel()
	const (
		lm     = "Sun, 06 Nov 1994 08:49:37 GMT"
		before = "Sat, 05 Nov 1994 08:49:37 GMT"
		after  = "Mon, 07 Nov 1994 08:49:37 GMT"
	)
	tests := []struct {
		name         string
		req          policy.Headers
		etag, lastMo string
		want         bool
	}{
		{"no conditional", nil, `"a"`, lm, false},
		{"If-None-Match equal", hdrs("If-None-Match", `"a"`), `"a"`, "", true},
		{"If-None-Match different", hdrs("If-None-Match", `"b"`), `"a"`, "", false},
		{"If-None-Match weak request matches strong stored", hdrs("If-None-Match", `W/"a"`), `"a"`, "", true},
		{"If-None-Match strong request matches weak stored", hdrs("If-None-Match", `"a"`), `W/"a"`, "", true},
		{"If-None-Match list", hdrs("If-None-Match", `"x", W/"y" ,"a"`), `"a"`, "", true},
		{"If-None-Match tag with comma", hdrs("If-None-Match", `"a,b"`), `"a,b"`, "", true},
		{"If-None-Match tag with comma not split", hdrs("If-None-Match", `"a,b"`), `"a"`, "", false},
		{"If-None-Match several fields", hdrs("If-None-Match", `"x"`, "if-none-match", `"a"`), `"a"`, "", true},
		{"If-None-Match star", hdrs("If-None-Match", "*"), "", "", true},
		{"If-None-Match against no stored ETag", hdrs("If-None-Match", `""`), "", "", false},
		{"If-None-Match quotes matter", hdrs("If-None-Match", `a`), `"a"`, "", false},
		{"If-None-Match unquoted on both sides", hdrs("If-None-Match", `a`), `a`, "", true},
		{"If-None-Match is case-sensitive", hdrs("If-None-Match", `"A"`), `"a"`, "", false},
		{"If-None-Match takes precedence over If-Modified-Since", hdrs("If-None-Match", `"b"`, "If-Modified-Since", after), `"a"`, lm, false},
		{"If-Modified-Since after Last-Modified", hdrs("If-Modified-Since", after), "", lm, true},
		{"If-Modified-Since equal to Last-Modified", hdrs("If-Modified-Since", lm), "", lm, true},
		{"If-Modified-Since before Last-Modified", hdrs("If-Modified-Since", before), "", lm, false},
		{"If-Modified-Since invalid", hdrs("If-Modified-Since", "yesterday"), "", lm, false},
		{"If-Modified-Since without Last-Modified", hdrs("If-Modified-Since", after), `"a"`, "", false},
		{"If-Modified-Since with invalid Last-Modified", hdrs("If-Modified-Since", after), "", "0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var etag, lastMo []byte
			if tt.etag != "" {
				etag = []byte(tt.etag)
			}
			if tt.lastMo != "" {
				lastMo = []byte(tt.lastMo)
			}
			if got := NotModified(tt.req, etag, lastMo); got != tt.want {
				t.Errorf("NotModified(%q, %q, %q) = %v, want %v", tt.req, tt.etag, tt.lastMo, got, tt.want)
			}
		})
	}
}

func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tm, ok := ParseHTTPDate(b)
		if !ok {
			return
		}
		out := AppendHTTPDate(nil, tm)
		if again, ok := ParseHTTPDate(out); !ok || !again.Equal(tm) {
			t.Fatalf("ParseHTTPDate(%q) = %v; round trip via %q = %v, %v", b, tm, out, again, ok)
		}
	})
}

func FuzzNotModified(f *testing.F) {
	f.Add([]byte(`"a", W/"b"`), []byte(`"b"`))
	f.Add([]byte("*"), []byte(""))
	f.Add([]byte(`"a,`), []byte(`W/"a,`))
	f.Fuzz(func(t *testing.T, inm, etag []byte) {
		h := policy.Headers{{Name: []byte("If-None-Match"), Value: inm}}
		if NotModified(h, etag, nil) && len(opaqueTag(etag)) == 0 && !containsStar(inm) {
			t.Fatalf("NotModified(%q, %q) = true with no stored ETag and no *", inm, etag)
		}
		// A field listing the stored tag itself always matches.
		self := policy.Headers{{Name: []byte("If-None-Match"), Value: append(append([]byte(`"x", `), etag...), `, "y"`...)}}
		if o := opaqueTag(etag); len(o) > 2 && o[0] == '"' && o[len(o)-1] == '"' && !containsQuote(o[1:len(o)-1]) && !NotModified(self, etag, nil) {
			t.Fatalf("NotModified(%q, %q) = false, want true", self[0].Value, etag)
		}
	})
}

func containsQuote(b []byte) bool {
	for _, c := range b {
		if c == '"' {
			return true
		}
	}
	return false
}

func containsStar(b []byte) bool {
	for _, c := range b {
		if c == '*' {
			return true
		}
	}
	return false
}
