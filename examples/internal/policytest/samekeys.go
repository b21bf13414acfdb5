package policytest

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/policy"
)

// SameKeys derives the key of n random requests with a and b and fails the
// test at the first request where they disagree: one fails and the other
// does not, or the keys differ. The requests mix parameter names that
// tracking filters and prefix patterns match or nearly match, empty and
// repeated parameters, hosts with a trailing dot or a byte a key host may
// not hold, and now and then a Cookie or Authorization field. It is how
// the versions of one policy in different languages are held to one
// behaviour.
func SameKeys(t *testing.T, a, b policy.Policy, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "B", "ab", "utm_source", "utm_", "utm", "fbclid", "gclid", "gcl", "page", "id", "", "a-b", "z", "ref", "refs", "x", "xy", "X", "%41"}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	for i := range n {
		q := make([]string, 0, 8)
		for range rng.IntN(10) {
			p := pick(names)
			switch rng.IntN(4) {
			case 0:
				p += "=" + pick(names)
			case 1:
				p += "="
			case 2:
				p += "=" + pick(names) + "=" + pick(names)
			}
			q = append(q, p)
		}
		r := &policy.Request{
			Method: []byte("GET"), Scheme: []byte("http"), Route: []byte("r"),
			Host:  []byte(pick([]string{"Example.COM", "h", "x.y.", "A1-B2.test", "", "a@b", "ü.test"})),
			Path:  []byte(pick([]string{"/", "", "/p", "/A/b%20c", "/a b", "/é"})),
			Query: []byte(strings.Join(q, "&")),
		}
		switch rng.IntN(12) {
		case 0:
			r.Headers = policy.Headers{{Name: []byte("Cookie"), Value: []byte("a")}}
		case 1:
			r.Headers = policy.Headers{{Name: []byte("AUTHORIZATION"), Value: []byte("")}}
		case 2:
			r.Headers = policy.Headers{{Name: []byte("User-Agent"), Value: []byte("x")}}
		}
		var ka, kb policy.Key
		ea, eb := a.Key(r, &ka), b.Key(r, &kb)
		if (ea == nil) != (eb == nil) || !ka.Equal(&kb) {
			t.Fatalf("request %d (%q %q?%q %s): {%v %q %q} %v, but {%v %q %q} %v", i, r.Host, r.Path, r.Query, r.Headers,
				ka.Bypass, ka.Host, ka.Target, ea, kb.Bypass, kb.Host, kb.Target, eb)
		}
	}
}
