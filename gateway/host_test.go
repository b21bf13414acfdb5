package gateway

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestNormalHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string // want "" means refused
	}{
		{"name", "example.test", "example.test"},
		{"upper case", "Example.TEST", "example.test"},
		{"port", "example.test:8080", "example.test"},
		{"empty port", "example.test:", "example.test"},
		{"trailing dot", "example.test.", "example.test"},
		{"trailing dot and port", "Example.test.:443", "example.test"},
		{"IPv4", "127.0.0.1:80", "127.0.0.1"},
		{"IPv6", "[::1]:8080", "[::1]"},
		{"IPv6 upper", "[2001:DB8::1]", "[2001:db8::1]"},
		{"underscore and tilde", "a_b~c", "a_b~c"},
		{"userinfo", "victim.com:@evil.com", ""},
		{"userinfo without colon", "victim.com@evil.com", ""},
		{"port not numeric", "victim.com:80x", ""},
		{"port too large", "victim.com:65536", ""},
		{"port too long", "victim.com:000080", ""},
		{"two ports", "victim.com:1:2", ""},
		{"space", "a b", ""},
		{"percent-encoding", "a%2eb", ""},
		{"slash", "a/b", ""},
		{"sub-delim", "a!b", ""},
		{"non-ASCII", "\xc3\xa9vil", ""},
		{"empty label", "a..b", ""},
		{"leading dot", ".a", ""},
		{"only a dot", ".", ""},
		{"two trailing dots", "a..", ""},
		{"empty", "", ""},
		{"only a port", ":80", ""},
		{"unclosed IPv6", "[::1", ""},
		{"IPv6 zone", "[fe80::1%25eth0]", ""},
		{"IPv4 in brackets", "[127.0.0.1]", ""},
		{"IPvFuture", "[v1.x]", ""},
		{"junk after IPv6", "[::1]x", ""},
		{"too long", strings.Repeat("a", 254), ""},
		{"longest", strings.Repeat("a", 253), strings.Repeat("a", 253)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := normalHost(nil, []byte(tc.in))
			switch {
			case tc.want == "" && err == nil:
				t.Errorf("normalHost(%q) = %q, want an error", tc.in, got)
			case tc.want != "" && (err != nil || string(got) != tc.want):
				t.Errorf("normalHost(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// FuzzNormalHost: whatever the input, normalHost either refuses it or
// returns a host that is its own normal form, holds only what a host may
// hold, and parses back to itself; and never panics. Its fast path,
// isNormalName, only accepts what normalHost leaves unchanged.
func FuzzNormalHost(f *testing.F) {
	for _, s := range []string{"example.test", "Example.test.:8080", "[::1]:80", "victim.com:@evil.com", "a..b", "[v1.x]", "1.2.3.4", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := normalHost(nil, []byte(in))
		if isNormalName([]byte(in)) && (err != nil || string(got) != in) {
			t.Fatalf("isNormalName(%q) = true, but normalHost gives %q, %v", in, got, err)
		}
		if err != nil {
			if !errors.Is(err, errHost) {
				t.Fatalf("normalHost(%q): error %v is not errHost", in, err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatalf("normalHost(%q) = empty, no error", in)
		}
		again, err := normalHost(nil, got)
		if err != nil || string(again) != string(got) {
			t.Fatalf("normalHost(%q) = %q, which normalises to %q, %v", in, got, again, err)
		}
		if got[0] == '[' {
			if _, err := netip.ParseAddr(string(got[1 : len(got)-1])); err != nil {
				t.Fatalf("normalHost(%q) = %q: not an IPv6 literal", in, got)
			}
			return
		}
		for _, c := range got {
			if !unreserved[c] || ('A' <= c && c <= 'Z') {
				t.Fatalf("normalHost(%q) = %q holds %q", in, got, c)
			}
		}
	})
}

func TestNormalPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want "" means refused
	}{
		{"/", "/"},
		{"/a/b", "/a/b"},
		{"/a/b/", "/a/b/"},
		{"//x", "/x"},
		{"/a//b///c", "/a/b/c"},
		{"/a/./b", "/a/b"},
		{"/a/../b", "/b"},
		{"/a/b/..", "/a/"},
		{"/a/.", "/a/"},
		{"/..", "/"},
		{"/../../x", "/x"},
		{"/public/%2e%2e/private", "/private"},
		{"/public/%2E./private", "/private"},
		{"/%7euser/%41", "/~user/A"},
		{"/a%2fb", "/a%2Fb"},
		{"/a%20b", "/a%20b"},
		{"/a;jsessionid=1/b", "/a;jsessionid=1/b"},
		{"/...", "/..."},
		{"/a..b/..c", "/a..b/..c"},
		{"/public/..%2fprivate", ""},
		{"/public/..%2Fprivate", ""},
		{"/public/%2e%2e%2fprivate", ""},
		{"/public/..%5cprivate", ""},
		{"/a/..;/private", ""},
		{"/a/.;x/b", ""},
		{"/a\\..\\b", ""},
		{"/a%", ""},
		{"/a%2", ""},
		{"/a%zz", ""},
		{"a/b", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, err := normalPath(nil, []byte(tc.in))
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("normalPath(%q) = %q, want an error", tc.in, got)
		case tc.want != "" && (err != nil || string(got) != tc.want):
			t.Errorf("normalPath(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
		if needs := pathNeedsWork([]byte(tc.in)); !needs && (err != nil || string(got) != tc.in) {
			t.Errorf("pathNeedsWork(%q) = false, but normalPath changes it", tc.in)
		}
	}
}

// FuzzNormalPath: a normal path normalises to itself, and pathNeedsWork
// never skips a path normalPath would change or refuse.
func FuzzNormalPath(f *testing.F) {
	for _, s := range []string{"/", "//x/../y", "/a/%2e%2e/b", "/a/..%2fb", "/a;b/..;/c", "/%7e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := normalPath(nil, []byte(in))
		if !pathNeedsWork([]byte(in)) && (err != nil || string(got) != in) {
			t.Fatalf("pathNeedsWork(%q) = false, but normalPath gives %q, %v", in, got, err)
		}
		if err != nil {
			return
		}
		again, err := normalPath(nil, got)
		if err != nil || string(again) != string(got) {
			t.Fatalf("normalPath(%q) = %q, which normalises to %q, %v", in, got, again, err)
		}
	})
}

func TestDroppedRequestHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern string
		names   []string
		dropped bool
	}{
		{"Forwarded, X-Forwarded-*", []string{"Forwarded", "X-Forwarded-For", "x-forwarded-host", "X-Forwarded-Prefix", "X-Forwarded-Anything"}, true},
		{"X-Real-IP, *-Client-IP, *-Connecting-IP", []string{"X-Real-IP", "X-Client-IP", "True-Client-IP", "X-Cluster-Client-IP", "Fastly-Client-IP", "CF-Connecting-IP"}, true},
		{"X-*-Host*", []string{"X-Host", "X-Original-Host", "X-HTTP-Host-Override", "X-Forwarded-Hostname", "X-Backend-Host", "x-hosted-by"}, true},
		{"X-Original-*, X-*-Original-*", []string{"X-Original-URL", "X-Original-URI", "X-Original-Method", "X-Envoy-Original-Path"}, true},
		{"X-Rewrite-*", []string{"X-Rewrite-URL", "X-Rewrite-Path"}, true},
		{"*-Method-Override, X-*-Method", []string{"X-HTTP-Method-Override", "X-Method-Override", "X-HTTP-Method", "X-Method"}, true},
		{"X-*-Scheme, X-*-Proto, X-*-Protocol, Front-End-Https", []string{"X-Url-Scheme", "X-Scheme", "X-Proto", "X-Forwarded-Protocol", "Front-End-Https"}, true},
		{"kept", []string{"Accept", "X-Ghost", "X-Request-Id", "X-Protobuf-Type", "Host-Info", "X-Methodical", "Original-URL", "Authorization", "X-Api-Key"}, false},
	}
	for _, tc := range tests {
		for _, n := range tc.names {
			if got := droppedRequestHeader([]byte(n)); got != tc.dropped {
				t.Errorf("%s: droppedRequestHeader(%q) = %v, want %v", tc.pattern, n, got, tc.dropped)
			}
		}
	}
}
