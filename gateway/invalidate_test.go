package gateway

import (
	"bytes"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fillIndex adds the fixture of TestL1Index to a fresh index.
func fillIndex(budget int) *l1Index {
	var ix l1Index
	ix.init(budget)
	ix.add([]byte("a b"), []byte("h"), []byte("/x/1"), []byte("k1"))
	ix.add([]byte(" b,c "), []byte("h"), []byte("/x/2?q"), []byte("k2"))
	ix.add(nil, []byte("h"), []byte("/y/1"), []byte("k3"))
	ix.add([]byte("a"), []byte("other"), []byte("/x/3"), []byte("k4"))
	ix.add([]byte("a b"), []byte("h"), []byte("/x/1"), []byte("k1")) // again: no duplicate
	return &ix
}

func TestL1Index(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tags   []string
		host   string
		prefix string
		want   []string
	}{
		{name: "tag", tags: []string{"b"}, want: []string{"k1", "k2"}},
		{name: "two tags", tags: []string{"a", "c"}, want: []string{"k1", "k2", "k4"}},
		{name: "unknown tag", tags: []string{"z"}, want: nil},
		{name: "prefix", host: "h", prefix: "/x/", want: []string{"k1", "k2"}},
		{name: "prefix other host", host: "other", prefix: "/", want: []string{"k4"}},
		{name: "prefix nothing", host: "h", prefix: "/z", want: nil},
		{name: "prefix all", host: "h", prefix: "/", want: []string{"k1", "k2", "k3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ix := fillIndex(1 << 20)
			purge := func(soft bool) []string {
				var got []string
				if tt.tags != nil {
					got = ix.byTags(tt.tags, soft)
				} else {
					got = ix.byPrefix(tt.host, tt.prefix, soft)
				}
				slices.Sort(got)
				return got
			}
			if got := purge(true); !slices.Equal(got, tt.want) {
				t.Errorf("soft: got %q, want %q", got, tt.want)
			}
			if got := purge(false); !slices.Equal(got, tt.want) {
				t.Errorf("hard after soft: got %q, want %q (a soft purge keeps the members)", got, tt.want)
			}
			if got := purge(false); len(got) != 0 {
				t.Errorf("hard again: got %q, want none (a hard purge removes the members)", got)
			}
		})
	}
}

// TestL1Index_HardPurgeRemovesEverywhere: a URL purged by one of its tags
// leaves the index for its other tags and its host too.
func TestL1Index_HardPurgeRemovesEverywhere(t *testing.T) {
	t.Parallel()
	ix := fillIndex(1 << 20)
	ix.byTags([]string{"b"}, false)
	if got := ix.byTags([]string{"a"}, false); !slices.Equal(got, []string{"k4"}) {
		t.Errorf("tag a after purging b: %q, want [k4]", got)
	}
	got := ix.byPrefix("h", "/", false)
	if !slices.Equal(got, []string{"k3"}) {
		t.Errorf("host h after purging b: %q, want [k3]", got)
	}
	if ix.bytes() != 0 || len(ix.members) != 0 || len(ix.hosts) != 0 || len(ix.tags) != 0 {
		t.Errorf("empty index accounts %d bytes, %d members, %d hosts, %d tags", ix.bytes(), len(ix.members), len(ix.hosts), len(ix.tags))
	}
}

// TestL1Index_ReAdd: a URL stored again becomes the newest member, with
// the tags of its latest response.
func TestL1Index_ReAdd(t *testing.T) {
	t.Parallel()
	ix := fillIndex(1 << 20)
	used := ix.bytes()
	ix.add([]byte("a b"), []byte("h"), []byte("/x/1"), []byte("k1")) // same tags
	if ix.tail.pkey != "k1" || ix.bytes() != used {
		t.Errorf("same tags: newest %q, %d bytes; want k1, %d bytes", ix.tail.pkey, ix.bytes(), used)
	}
	ix.add([]byte("z"), []byte("h"), []byte("/x/1"), []byte("k1"))
	if got := ix.byTags([]string{"a"}, true); slices.Contains(got, "k1") {
		t.Errorf("tag a after k1 was stored with tag z only: %q", got)
	}
	if got := ix.byTags([]string{"z"}, true); !slices.Equal(got, []string{"k1"}) {
		t.Errorf("tag z: %q, want [k1]", got)
	}
}

// TestL1Index_Budget: with many long URLs the accounted bytes stay within
// the budget; the oldest URLs are evicted (queued for removal from L1);
// a member larger than the budget is refused; whatever is left is found.
func TestL1Index_Budget(t *testing.T) {
	t.Parallel()
	const budget = 256 << 10
	var ix l1Index
	ix.init(budget)
	long := strings.Repeat("p", 16<<10)
	n := 0
	for i := range 200 {
		target := "/" + strconv.Itoa(i) + "/" + long
		pkey := "api\x00h\x00" + target
		if !ix.add([]byte("t"), []byte("h"), []byte(target), []byte(pkey)) {
			t.Fatalf("add %d refused", i)
		}
		n++
		if got := ix.bytes(); got > budget {
			t.Fatalf("after %d URLs: %d bytes accounted, budget %d", n, got, budget)
		}
	}
	evicted := ix.takePending(nil)
	kept := ix.byTags([]string{"t"}, true)
	if len(evicted)+len(kept) != n || len(evicted) == 0 || len(kept) == 0 {
		t.Fatalf("evicted %d + kept %d, want %d, both > 0", len(evicted), len(kept), n)
	}
	if !strings.HasPrefix(evicted[0], "api\x00h\x00/0/") {
		t.Errorf("first evicted %.12q, want the oldest, /0/", evicted[0])
	}
	if got := ix.byPrefix("h", "/", true); len(got) != len(kept) {
		t.Errorf("prefix finds %d, tag %d", len(got), len(kept))
	}
	huge := strings.Repeat("x", budget)
	if ix.add(nil, []byte("h"), []byte(huge), []byte(huge)) {
		t.Error("a member larger than the budget was accepted")
	}
	if p := ix.takePending(nil); len(p) != 1 || p[0] != huge {
		t.Errorf("refused member: %d URLs queued for removal from L1, want it alone", len(p))
	}
	if got := ix.bytes(); got > budget {
		t.Errorf("%d bytes accounted, budget %d", got, budget)
	}
}

// TestL1Index_Accounting: what the index accounts is at least what it
// costs on the heap (the estimates of memberCost and setCost are an upper
// bound), for URLs with a tag of their own, with shared tags only, and with
// none.
func TestL1Index_Accounting(t *testing.T) {
	// Not parallel: it reads the heap.
	tests := []struct {
		name string
		n    int
		pad  int // bytes added to each URL
		tags func(i int) string
	}{
		{"own and shared tags", 20000, 0, func(i int) string { return "item-" + strconv.Itoa(i) + " all items" }},
		{"own tag", 3000, 0, func(i int) string { return "item-" + strconv.Itoa(i) }},
		{"shared tags", 33000, 0, func(int) string { return "all items" }},
		{"no tags", 1000, 0, func(int) string { return "" }},
		{"16KiB URLs", 500, 16 << 10, func(i int) string { return "item-" + strconv.Itoa(i) }},
		{"40KiB URLs", 200, 40 << 10, func(int) string { return "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ix l1Index
			ix.init(1 << 30)
			keys := make([][3][]byte, tc.n)
			for i := range keys {
				target := []byte("/items/" + strconv.Itoa(i) + "?q=1" + strings.Repeat("p", tc.pad))
				keys[i] = [3][]byte{target, append([]byte("api\x00example.test\x00"), target...), []byte(tc.tags(i))}
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for _, k := range keys {
				ix.add(k[2], []byte("example.test"), k[0], k[1])
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("%d members: %d bytes accounted, %d on the heap (%.0f vs %.0f per member)",
				tc.n, ix.bytes(), heap, float64(ix.bytes())/float64(tc.n), float64(heap)/float64(tc.n))
			const noise = 64 << 10 // the runtime's own allocations meanwhile
			if heap > int64(ix.bytes())+noise {
				t.Errorf("heap %d > accounted %d: raise the overhead estimates", heap, ix.bytes())
			}
			runtime.KeepAlive(keys)
			runtime.KeepAlive(&ix)
		})
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
		`{"urls":["http://Example.test:80/a/../b?q#f"]}`, `{"urls":["https://[::1]/"]}`, `{"urls":["http:///x"]}`, `{"tags":["a"],"soft":true,"refresh":true}`, `{"all":true,"refresh":true}`,
	} {
		f.Add([]byte(s), false)
	}
	g := newTestGateway(f, testConfig("http://127.0.0.1:9"))
	f.Fuzz(func(t *testing.T, body []byte, soft bool) {
		plan, err := g.parsePurgeRequest(body, soft)
		if err != nil {
			return
		}
		invs, urls := plan.invs, plan.urls
		if plan.refresh && !soft && !bytes.Contains(body, []byte(`"soft"`)) {
			t.Fatalf("%q: refresh without soft", body)
		}
		if len(invs)+len(urls) == 0 || len(invs) > 0 && len(urls) > 0 {
			t.Fatalf("%q: %d invalidations and %d URLs, want one form", body, len(invs), len(urls))
		}
		for _, u := range urls {
			if u.rt == nil || len(u.path) == 0 || u.path[0] != '/' || bytes.IndexByte(u.host, ':') >= 0 && u.host[0] != '[' || u.soft != soft && soft {
				t.Fatalf("%q: bad URL target %+v", body, u)
			}
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
