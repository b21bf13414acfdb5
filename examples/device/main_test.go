//go:build !wasip1

package main

import (
	"testing"

	"github.com/flowcache/flowcache/examples/internal/policytest"
	"github.com/flowcache/flowcache/policy"
)

func newHost(t testing.TB) policy.Policy {
	t.Helper()
	return policytest.Load(t, policytest.Build(t, "."), nil)
}

func request(ua string, headers ...string) *policy.Request {
	r := &policy.Request{Method: []byte("GET"), Scheme: []byte("http"), Host: []byte("Shop.Example"), Path: []byte("/home"), Query: []byte("b=1&a=2"), Route: []byte("r")}
	if ua != "" {
		r.Headers = append(r.Headers, policy.Header{Name: []byte("User-Agent"), Value: []byte(ua)})
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, policy.Header{Name: []byte(headers[i]), Value: []byte(headers[i+1])})
	}
	return r
}

func TestDevice_Key(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	tests := []struct{ ua, want string }{
		{"", "desktop"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36", "desktop"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", "desktop"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "desktop"},
		{"Googlebot/2.1 (+http://www.google.com/bot.html)", "desktop"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1", "mobile"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36", "mobile"},
		{"Mozilla/5.0 (iPod touch; CPU iPhone OS 12_5 like Mac OS X)", "mobile"},
		{"Opera/9.80 (J2ME/MIDP; Opera Mini/9.80; U; en) Presto/2.12", "mobile"},
		{"Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) Mobile", "mobile"},
		{"BlackBerry9700/5.0.0.862 Profile/MIDP-2.1", "mobile"},
		{"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148", "tablet"},
		{"Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 Chrome/124.0 Safari/537.36", "tablet"},
		{"Mozilla/5.0 (Linux; U; Android 4.0.3; Kindle Fire) AppleWebKit/534.30 Silk/3.4 Mobile Safari", "tablet"},
		{"MOZILLA/5.0 (IPAD)", "tablet"},
		{"Mozilla/5.0 (Tablet; rv:26.0) Gecko/26.0 Firefox/26.0", "tablet"},
	}
	for _, tt := range tests {
		var k policy.Key
		if err := h.Key(request(tt.ua), &k); err != nil {
			t.Fatalf("Key(%q): %v", tt.ua, err)
		}
		if k.Bypass || string(k.Host) != "shop.example" || string(k.Target) != "/home?b=1&a=2" || string(k.Variant) != tt.want {
			t.Errorf("Key(UA %q) = {%v %q %q %q}, want variant %q", tt.ua, k.Bypass, k.Host, k.Target, k.Variant, tt.want)
		}
	}
}

// TestDevice_Key_Bypass checks that personal requests are not cached, and
// that headers the module did not declare do not reach it.
func TestDevice_Key_Bypass(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	tests := []struct {
		name   string
		req    *policy.Request
		bypass bool
	}{
		{"cookie", request("x", "Cookie", "sid=1"), true},
		{"authorization", request("x", "Authorization", "Basic eDp5"), true},
		{"undeclared header", request("x", "X-Device", "mobile"), false},
	}
	for _, tt := range tests {
		var k policy.Key
		if err := h.Key(tt.req, &k); err != nil {
			t.Fatalf("%s: Key: %v", tt.name, err)
		}
		if k.Bypass != tt.bypass {
			t.Errorf("%s: Bypass = %v, want %v", tt.name, k.Bypass, tt.bypass)
		}
	}
}
