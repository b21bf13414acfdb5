package policy

import (
	"testing"
	"time"
)

// hdrs builds Headers from name, value pairs.
func hdrs(kv ...string) Headers {
	h := make(Headers, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		h = append(h, Header{Name: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return h
}

func TestDefault_Key(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		method     string
		host       string
		path       string
		query      string
		headers    Headers
		wantBypass bool
		wantHost   string
		wantTarget string
	}{
		{"GET keyed by host and path", "GET", "example.com", "/a/b", "", nil, false, "example.com", "/a/b"},
		{"HEAD keyed like GET", "HEAD", "example.com", "/a", "", nil, false, "example.com", "/a"},
		{"query kept verbatim", "GET", "example.com", "/s", "b=2&a=1&utm_source=x", nil, false, "example.com", "/s?b=2&a=1&utm_source=x"},
		{"host lower-cased", "GET", "ExAmPle.COM", "/", "", nil, false, "example.com", "/"},
		{"host port stripped", "GET", "example.com:8080", "/", "", nil, false, "example.com", "/"},
		{"IPv6 host keeps brackets", "GET", "[::1]:8080", "/", "", nil, false, "[::1]", "/"},
		{"IPv6 host without port", "GET", "[FE80::1]", "/", "", nil, false, "[fe80::1]", "/"},
		{"empty path is slash", "GET", "h", "", "q=1", nil, false, "h", "/?q=1"},
		{"POST bypasses", "POST", "h", "/", "", nil, true, "", ""},
		{"lower-case get bypasses (methods are case-sensitive)", "get", "h", "/", "", nil, true, "", ""},
		{"Cookie bypasses like Varnish builtin", "GET", "h", "/", "", hdrs("cookie", "sid=1"), true, "", ""},
		{"Authorization does not bypass (Decide handles it)", "GET", "h", "/", "", hdrs("Authorization", "Bearer x"), false, "h", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &Request{Method: []byte(tt.method), Host: []byte(tt.host), Path: []byte(tt.path), Query: []byte(tt.query), Headers: tt.headers}
			var k Key
			if err := (Default{}).Key(r, &k); err != nil {
				t.Fatalf("Key = %v", err)
			}
			if k.Bypass != tt.wantBypass || string(k.Host) != tt.wantHost || string(k.Target) != tt.wantTarget || len(k.Variant) != 0 {
				t.Errorf("Key(%s %s %s?%s) = {Bypass:%v Host:%q Target:%q Variant:%q}, want {%v %q %q \"\"}",
					tt.method, tt.host, tt.path, tt.query, k.Bypass, k.Host, k.Target, k.Variant, tt.wantBypass, tt.wantHost, tt.wantTarget)
			}
		})
	}
}

func TestDefault_Decide(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const (
		date    = "Fri, 02 Jan 2026 03:04:05 GMT" // == now
		in1h    = "Fri, 02 Jan 2026 04:04:05 GMT" // now + 1h
		ago10d  = "Tue, 23 Dec 2025 03:04:05 GMT" // now - 10 days
		ago100d = "Fri, 03 Oct 2025 03:04:05 GMT" // more than 10 days ago
		etag    = `"v1"`
		sec     = time.Second
	)
	type want struct {
		store          bool
		ttl, swr, sie  time.Duration
		mustRevalidate bool
		noCache        bool
	}
	tests := []struct {
		name       string
		defaultTTL time.Duration
		reqHeaders Headers
		status     int
		headers    Headers
		want       want
	}{
		// Storing (RFC 9111, Section 3).
		{"cacheable status with max-age is stored", 0, nil, 200, hdrs("Cache-Control", "max-age=60"), want{store: true, ttl: 60 * sec}},
		{"no-store is not stored", 0, nil, 200, hdrs("Cache-Control", "max-age=60, no-store"), want{}},
		{"no-store with must-understand and understood status is stored", 0, nil, 200, hdrs("Cache-Control", "no-store, must-understand, max-age=60"), want{store: true, ttl: 60 * sec}},
		{"must-understand with unknown status is not stored", 0, nil, 299, hdrs("Cache-Control", "must-understand, max-age=60"), want{}},
		{"private is not stored", 0, nil, 200, hdrs("Cache-Control", "private, max-age=60"), want{}},
		{"qualified private is not stored", 0, nil, 200, hdrs("Cache-Control", `private="X-User", max-age=60`), want{}},
		{"Vary star is not stored", 0, nil, 200, hdrs("Cache-Control", "max-age=60", "Vary", "Accept-Encoding, *"), want{}},
		{"Vary with fields is stored", 0, nil, 200, hdrs("Cache-Control", "max-age=60", "Vary", "Accept-Encoding"), want{store: true, ttl: 60 * sec}},
		{"Set-Cookie is not stored", 0, nil, 200, hdrs("Cache-Control", "max-age=60", "Set-Cookie", "a=b"), want{}},
		{"request no-store is not stored", 0, hdrs("Cache-Control", "no-store"), 200, hdrs("Cache-Control", "max-age=60"), want{}},
		{"request no-cache is still stored", 0, hdrs("Cache-Control", "no-cache"), 200, hdrs("Cache-Control", "max-age=60"), want{store: true, ttl: 60 * sec}},
		{"Authorization is not stored", 0, hdrs("Authorization", "Bearer x"), 200, hdrs("Cache-Control", "max-age=60"), want{}},
		{"Authorization with public is stored", 0, hdrs("Authorization", "Bearer x"), 200, hdrs("Cache-Control", "public, max-age=60"), want{store: true, ttl: 60 * sec}},
		{"Authorization with s-maxage is stored", 0, hdrs("Authorization", "Bearer x"), 200, hdrs("Cache-Control", "s-maxage=60"), want{store: true, ttl: 60 * sec, mustRevalidate: true}},
		{"Authorization with must-revalidate is stored", 0, hdrs("Authorization", "Bearer x"), 200, hdrs("Cache-Control", "must-revalidate, max-age=60"), want{store: true, ttl: 60 * sec, mustRevalidate: true}},
		{"1xx status is not understood", 0, nil, 103, hdrs("Cache-Control", "max-age=60"), want{}},
		{"206 is not stored", 0, nil, 206, hdrs("Cache-Control", "max-age=60"), want{}},
		{"304 is not stored", 0, nil, 304, hdrs("Cache-Control", "max-age=60"), want{}},
		{"status out of range is not understood", 0, nil, 1000, hdrs("Cache-Control", "max-age=60"), want{}},
		{"non-default status without explicit freshness is not stored", 0, nil, 302, hdrs("Last-Modified", ago10d, "Date", date), want{}},
		{"non-default status with max-age is stored", 0, nil, 302, hdrs("Cache-Control", "max-age=60"), want{store: true, ttl: 60 * sec}},
		{"non-default status with Expires is stored", 0, nil, 500, hdrs("Expires", in1h, "Date", date), want{store: true, ttl: time.Hour}},
		{"non-default status with public gets heuristic", 0, nil, 302, hdrs("Cache-Control", "public", "Last-Modified", ago10d, "Date", date), want{store: true, ttl: 24 * time.Hour}},
		{"default status 404 is stored heuristically", 0, nil, 404, hdrs("Last-Modified", ago10d, "Date", date), want{store: true, ttl: 24 * time.Hour}},
		{"nothing to reuse is not stored", 0, nil, 200, nil, want{}},
		{"max-age 0 with validator is stored", 0, nil, 200, hdrs("Cache-Control", "max-age=0", "ETag", etag), want{store: true}},

		// Freshness lifetime (Section 4.2.1).
		{"s-maxage wins over max-age", 0, nil, 200, hdrs("Cache-Control", "max-age=10, s-maxage=20"), want{store: true, ttl: 20 * sec, mustRevalidate: true}},
		{"max-age wins over Expires", 0, nil, 200, hdrs("Cache-Control", "max-age=10", "Expires", in1h, "Date", date), want{store: true, ttl: 10 * sec}},
		{"Expires minus Date", 0, nil, 200, hdrs("Expires", in1h, "Date", date), want{store: true, ttl: time.Hour}},
		{"Expires without Date uses receive time", 0, nil, 200, hdrs("Expires", in1h), want{store: true, ttl: time.Hour}},
		{"Expires in the past is expired", 0, nil, 200, hdrs("Expires", ago10d, "Date", date, "ETag", etag), want{store: true}},
		{"invalid Expires is expired, no heuristic", 0, nil, 200, hdrs("Expires", "0", "Last-Modified", ago10d, "Date", date), want{store: true}},
		{"invalid max-age is stale", 0, nil, 200, hdrs("Cache-Control", "max-age=abc", "ETag", etag), want{store: true}},
		{"conflicting max-age is stale", 0, nil, 200, hdrs("Cache-Control", "max-age=10", "Cache-Control", "max-age=20", "ETag", etag), want{store: true}},
		{"huge max-age clamped to 2^31 s", 0, nil, 200, hdrs("Cache-Control", "max-age=99999999999999999999"), want{store: true, ttl: (1 << 31) * sec}},

		// Heuristic freshness (Section 4.2.2).
		{"heuristic is 10 percent of Last-Modified age", 0, nil, 200, hdrs("Last-Modified", ago10d, "Date", date), want{store: true, ttl: 24 * time.Hour}},
		{"heuristic capped at 24h", 0, nil, 200, hdrs("Last-Modified", ago100d, "Date", date), want{store: true, ttl: 24 * time.Hour}},
		{"heuristic from a short Last-Modified age", 0, nil, 200, hdrs("Last-Modified", "Fri, 02 Jan 2026 02:04:05 GMT", "Date", date), want{store: true, ttl: 6 * time.Minute}},
		{"heuristic with Last-Modified in the future is 0", 0, nil, 200, hdrs("Last-Modified", in1h, "Date", date), want{store: true}},
		{"DefaultTTL replaces heuristic", 5 * time.Minute, nil, 200, hdrs("Last-Modified", ago10d, "Date", date), want{store: true, ttl: 5 * time.Minute}},
		{"DefaultTTL applies without Last-Modified", 5 * time.Minute, nil, 200, nil, want{store: true, ttl: 5 * time.Minute}},
		{"DefaultTTL does not replace explicit freshness", 5 * time.Minute, nil, 200, hdrs("Cache-Control", "max-age=7"), want{store: true, ttl: 7 * sec}},
		{"DefaultTTL not for non-default status", 5 * time.Minute, nil, 302, nil, want{}},

		// Stale windows, revalidation.
		{"stale-while-revalidate and stale-if-error windows", 0, nil, 200, hdrs("Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=600"), want{store: true, ttl: 60 * sec, swr: 30 * sec, sie: 600 * sec}},
		{"stale-if-error alone makes it worth storing", 0, nil, 200, hdrs("Cache-Control", "max-age=0, stale-if-error=600"), want{store: true, sie: 600 * sec}},
		{"must-revalidate", 0, nil, 200, hdrs("Cache-Control", "max-age=60, must-revalidate"), want{store: true, ttl: 60 * sec, mustRevalidate: true}},
		{"proxy-revalidate", 0, nil, 200, hdrs("Cache-Control", "max-age=60, proxy-revalidate"), want{store: true, ttl: 60 * sec, mustRevalidate: true}},
		{"s-maxage implies must-revalidate", 0, nil, 200, hdrs("Cache-Control", "s-maxage=60"), want{store: true, ttl: 60 * sec, mustRevalidate: true}},
		{"no-cache stored but revalidated", 0, nil, 200, hdrs("Cache-Control", "no-cache", "ETag", etag), want{store: true, noCache: true}},
		{"qualified no-cache treated as no-cache", 0, nil, 200, hdrs("Cache-Control", `no-cache="Set-Cookie", max-age=60`), want{store: true, ttl: 60 * sec, noCache: true}},

		// Targeted fields (RFC 9213, Surrogate-Control).
		{"CDN-Cache-Control wins over Cache-Control", 0, nil, 200, hdrs("Cache-Control", "max-age=10", "CDN-Cache-Control", "max-age=600"), want{store: true, ttl: 600 * sec}},
		{"CDN-Cache-Control wins over Surrogate-Control", 0, nil, 200, hdrs("Surrogate-Control", "max-age=30", "CDN-Cache-Control", "max-age=600", "Cache-Control", "max-age=10"), want{store: true, ttl: 600 * sec}},
		{"Surrogate-Control wins over Cache-Control", 0, nil, 200, hdrs("Cache-Control", "max-age=10, must-revalidate", "Surrogate-Control", "max-age=30"), want{store: true, ttl: 30 * sec}},
		{"targeted no-store is not stored", 0, nil, 200, hdrs("Cache-Control", "max-age=10", "CDN-Cache-Control", "no-store"), want{}},
		{"targeted field without directive is ignored", 0, nil, 200, hdrs("Cache-Control", "max-age=10", "CDN-Cache-Control", "x-unknown"), want{store: true, ttl: 10 * sec}},
		{"RFC 9213 2.1: CDN-Cache-Control max-age=1.5 (a Decimal) is ignored whole", 0, nil, 200, hdrs("Cache-Control", "max-age=10", "CDN-Cache-Control", "max-age=1.5, no-store"), want{store: true, ttl: 10 * sec}},
		{"RFC 9213 2.1: CDN-Cache-Control max-age=\"600\" (a String) is ignored whole", 0, nil, 200, hdrs("Cache-Control", "max-age=10", "CDN-Cache-Control", `max-age="600"`), want{store: true, ttl: 10 * sec}},
		{"RFC 9213 2.1: CDN-Cache-Control that is not a Dictionary is ignored", 0, nil, 200, hdrs("Cache-Control", "max-age=10", "CDN-Cache-Control", "max-age=600,"), want{store: true, ttl: 10 * sec}},
		{"RFC 9213 2.1: an invalid CDN-Cache-Control line spoils the field", 0, nil, 200, hdrs("Cache-Control", "max-age=10", "CDN-Cache-Control", "max-age=600", "CDN-Cache-Control", "no-store=yes"), want{store: true, ttl: 10 * sec}},
		{"RFC 9213 2.1: CDN-Cache-Control lines form one Dictionary, last wins", 0, nil, 200, hdrs("Cache-Control", "max-age=10", "CDN-Cache-Control", "max-age=600", "CDN-Cache-Control", "max-age=60"), want{store: true, ttl: 60 * sec}},
		{"RFC 9213 2.1: invalid CDN-Cache-Control falls back to Surrogate-Control", 0, nil, 200, hdrs("Surrogate-Control", "max-age=30", "CDN-Cache-Control", "max-age=ten", "Cache-Control", "max-age=10"), want{store: true, ttl: 30 * sec}},
		{"targeted field overrides Cache-Control private", 0, nil, 200, hdrs("Cache-Control", "private", "CDN-Cache-Control", "max-age=600"), want{store: true, ttl: 600 * sec}},
		{"targeted field overrides Cache-Control no-store", 0, nil, 200, hdrs("Cache-Control", "no-store", "Surrogate-Control", "max-age=600"), want{store: true, ttl: 600 * sec}},
		{"Authorization exception read from targeted field", 0, hdrs("Authorization", "Basic x"), 200, hdrs("Cache-Control", "public, max-age=1", "CDN-Cache-Control", "max-age=600"), want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &Request{Method: []byte("GET"), Host: []byte("h"), Path: []byte("/"), Headers: tt.reqHeaders}
			resp := &Response{Status: tt.status, Headers: tt.headers, BodySize: 10, Now: now}
			var d Decision
			d.Reset()
			d.Tier, d.Admit = TierL2, false // Decide must leave these alone
			if err := (Default{DefaultTTL: tt.defaultTTL}).Decide(r, resp, &d); err != nil {
				t.Fatalf("Decide = %v", err)
			}
			got := want{d.Store, d.TTL, d.StaleWhileRevalidate, d.StaleIfError, d.MustRevalidate, d.NoCache}
			if got != tt.want {
				t.Errorf("Decide(%d %q) = %+v, want %+v", tt.status, tt.headers, got, tt.want)
			}
			if d.Tier != TierL2 || d.Admit {
				t.Errorf("Decide changed Tier/Admit to %v/%v", d.Tier, d.Admit)
			}
		})
	}
}
