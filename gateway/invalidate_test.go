package gateway

import (
	"slices"
	"strings"
	"testing"
)

func TestL1Index(t *testing.T) {
	t.Parallel()
	var ix l1Index
	ix.init(100)
	ix.add([]byte("a b"), []byte("h"), []byte("/x/1"), []byte("k1"))
	ix.add([]byte(" b,c "), []byte("h"), []byte("/x/2?q"), []byte("k2"))
	ix.add(nil, []byte("h"), []byte("/y/1"), []byte("k3"))
	ix.add([]byte("a"), []byte("other"), []byte("/x/3"), []byte("k4"))
	ix.add([]byte("a b"), []byte("h"), []byte("/x/1"), []byte("k1")) // again: no duplicate
	tests := []struct {
		name   string
		tags   []string
		host   string
		prefix string
		want   []string
	}{
		{name: "tag", tags: []string{"b"}, want: []string{"k1", "k2"}},
		{name: "tag again: taken", tags: []string{"b"}, want: nil},
		{name: "two tags", tags: []string{"a", "c"}, want: []string{"k1", "k2", "k4"}},
		{name: "prefix", host: "h", prefix: "/x/", want: []string{"k1", "k2"}},
		{name: "prefix other host", host: "other", prefix: "/", want: []string{"k4"}},
		{name: "prefix nothing", host: "h", prefix: "/z", want: nil},
		{name: "prefix rest", host: "h", prefix: "/", want: []string{"k3"}},
	}
	for _, tt := range tests {
		var got []string
		var flush bool
		if tt.tags != nil {
			got, flush = ix.byTags(tt.tags)
		} else {
			got, flush = ix.byPrefix(tt.host, tt.prefix)
		}
		slices.Sort(got)
		if flush || !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q flush %v, want %q", tt.name, got, flush, tt.want)
		}
	}
}

func TestL1Index_Overflow(t *testing.T) {
	t.Parallel()
	var ix l1Index
	ix.init(3)
	ix.add([]byte("a b"), []byte("h"), []byte("/1"), []byte("k1"))
	ix.add([]byte("a"), []byte("h"), []byte("/2"), []byte("k2")) // 5 members > 3
	if _, flush := ix.byTags([]string{"a"}); !flush {
		t.Errorf("byTags after overflow: flush = false, want true")
	}
	if _, flush := ix.byPrefix("h", "/"); !flush {
		t.Errorf("byPrefix after overflow: flush = false, want true")
	}
	ix.reset()
	ix.add([]byte("a"), []byte("h"), []byte("/1"), []byte("k1"))
	if got, flush := ix.byTags([]string{"a"}); flush || !slices.Equal(got, []string{"k1"}) {
		t.Errorf("after reset: got %q flush %v", got, flush)
	}
}

func TestCutSoftParam(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q, want string
		soft    bool
	}{
		{"", "", false},
		{"a=1", "a=1", false},
		{"soft=1", "", true},
		{"a=1&soft=1", "a=1", true},
		{"soft=1&a=1&b=2", "a=1&b=2", true},
		{"soft=10", "soft=10", false},
		{"xsoft=1", "xsoft=1", false},
	}
	for _, tt := range tests {
		got, soft := cutSoftParam([]byte(tt.q))
		if string(got) != tt.want || soft != tt.soft {
			t.Errorf("cutSoftParam(%q) = %q, %v; want %q, %v", tt.q, got, soft, tt.want, tt.soft)
		}
	}
}

func TestSplitTags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"  a  b\tc ", []string{"a", "b", "c"}},
		{"a,b", []string{"a", "b"}},
	}
	for _, tt := range tests {
		if got := splitTags([]byte(tt.v)); !slices.Equal(got, tt.want) {
			t.Errorf("splitTags(%q) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestInvalLog_Overtaken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		add  func(l *invalLog)
		want bool
	}{
		{"nothing", func(*invalLog) {}, false},
		{"same URL", func(l *invalLog) { l.addURL([]byte("h"), []byte("/x")) }, true},
		{"other URL", func(l *invalLog) { l.addURL([]byte("h"), []byte("/y")) }, false},
		{"other host", func(l *invalLog) { l.addURL([]byte("g"), []byte("/x")) }, false},
		{"any", func(l *invalLog) { l.addAny() }, true},
		{"many others", func(l *invalLog) {
			for range invalLogSize - 1 {
				l.addURL([]byte("h"), []byte("/y"))
			}
		}, false},
		{"more than remembered", func(l *invalLog) {
			for range invalLogSize {
				l.addURL([]byte("h"), []byte("/y"))
			}
		}, true},
	}
	for _, tt := range tests {
		var l invalLog
		l.init()
		l.addURL([]byte("h"), []byte("/x")) // before the fetch: irrelevant
		since := l.current()
		tt.add(&l)
		if got := l.overtaken(since, []byte("h"), []byte("/x")); got != tt.want {
			t.Errorf("%s: overtaken = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// FuzzParsePurgeRequest: any body is either refused or yields valid
// invalidations (one form, prefixes starting with "/", hosts without port,
// tags without separators).
func FuzzParsePurgeRequest(f *testing.F) {
	for _, s := range []string{
		`{"tags":["a","b"]}`, `{"prefix":"/api/","host":"Example.test:80"}`, `{"prefix":"/x"}`,
		`{"all":true,"soft":true}`, `{}`, `{"tags":[""]}`, `{"tags":["a b"]}`, `[]`, `{"prefix":"/\u0000"}`,
	} {
		f.Add([]byte(s), false)
	}
	g := newTestGateway(f, testConfig("http://127.0.0.1:9"))
	f.Fuzz(func(t *testing.T, body []byte, soft bool) {
		invs, err := g.parsePurgeRequest(body, soft)
		if err != nil {
			return
		}
		if len(invs) == 0 {
			t.Fatalf("%q: no invalidation and no error", body)
		}
		for _, inv := range invs {
			switch {
			case inv.Kind == 0:
				t.Fatalf("%q: zero kind", body)
			case soft && !inv.Soft:
				t.Fatalf("%q: ?soft=1 lost", body)
			case len(inv.Path) > 0 && (inv.Path[0] != '/' || strings.IndexByte(inv.Path, 0) >= 0):
				t.Fatalf("%q: bad prefix %q", body, inv.Path)
			case strings.ContainsRune(inv.Host, ':') && !strings.HasPrefix(inv.Host, "["):
				t.Fatalf("%q: host with port %q", body, inv.Host)
			}
			for _, tag := range inv.Tags {
				if tag == "" || strings.ContainsAny(tag, " \t,") {
					t.Fatalf("%q: bad tag %q", body, tag)
				}
			}
		}
	})
}
