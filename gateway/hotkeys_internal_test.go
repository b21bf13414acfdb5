package gateway

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func ssAdd(s *spaceSaving, key string, w float64) {
	var h uint64
	for _, c := range []byte(key) {
		h = h*1099511628211 + uint64(c)
	}
	s.add(h, []byte("h"), []byte(key), w)
}

// checkHeap fails unless s is a min-heap whose entries know their index.
func checkHeap(t *testing.T, s *spaceSaving) {
	t.Helper()
	for i, e := range s.heap {
		if e.idx != i {
			t.Fatalf("heap[%d].idx = %d", i, e.idx)
		}
		if i > 0 && s.heap[(i-1)/2].count > e.count {
			t.Fatalf("heap[%d] (%v) below a larger parent (%v)", i, e.count, s.heap[(i-1)/2].count)
		}
		if s.byHash[e.hash] != e {
			t.Fatalf("heap[%d] not indexed by its hash", i)
		}
	}
}

// TestSpaceSaving_Exact: with no more keys than slots the counts are exact.
func TestSpaceSaving_Exact(t *testing.T) {
	t.Parallel()
	var s spaceSaving
	for i := range hotCapacity {
		for range i + 1 {
			ssAdd(&s, "/k"+strconv.Itoa(i), 1)
		}
	}
	checkHeap(t, &s)
	for _, e := range s.heap {
		want, _ := strconv.Atoi(string(e.key[len("h/k"):]))
		if e.count != float64(want+1) || e.err != 0 {
			t.Errorf("%s: count %v err %v, want %d and 0", e.key, e.count, e.err, want+1)
		}
	}
}

// TestSpaceSaving_HeavyHitters: among many more distinct keys than slots,
// the keys above total/capacity are kept, their counts over-estimated by
// at most their error.
func TestSpaceSaving_HeavyHitters(t *testing.T) {
	t.Parallel()
	var s spaceSaving
	heavy := map[string]int{"/hot1": 0, "/hot2": 0, "/hot3": 0}
	for i := range 20000 {
		key := fmt.Sprintf("/cold%d", i) // each cold key once
		switch i % 10 {
		case 0:
			key = "/hot1"
		case 1:
			key = "/hot2"
		case 2:
			if i%20 == 2 {
				key = "/hot3"
			}
		}
		if _, ok := heavy[key]; ok {
			heavy[key]++
		}
		ssAdd(&s, key, 1)
	}
	checkHeap(t, &s)
	if len(s.heap) != hotCapacity {
		t.Fatalf("%d slots, want %d", len(s.heap), hotCapacity)
	}
	for key, n := range heavy {
		var e *hotEntry
		for _, x := range s.heap {
			if string(x.key) == "h"+key {
				e = x
			}
		}
		if e == nil {
			t.Errorf("%s (%d of 20000) not kept", key, n)
			continue
		}
		if e.count < float64(n) || e.count-e.err > float64(n) {
			t.Errorf("%s: count %v error %v, true count %d", key, e.count, e.err, n)
		}
	}
}

// TestHotKeys_Decay: counts halve every hotHalfLife.
func TestHotKeys_Decay(t *testing.T) {
	t.Parallel()
	now := time.Unix(1e9, 0)
	hr := &hotRoute{decay: now}
	ssAdd(&hr.dims[hotRequests], "/a", 800)
	hr.decayTo(now.Add(hotHalfLife))
	if got := hr.dims[hotRequests].heap[0].count; got != 400 {
		t.Errorf("after one half-life: %v, want 400", got)
	}
	hr.decayTo(now.Add(hotHalfLife + 500*time.Millisecond))
	if got := hr.dims[hotRequests].heap[0].count; got != 400 {
		t.Errorf("decayed again within a second: %v", got)
	}
}

func TestAppendHotKey(t *testing.T) {
	t.Parallel()
	long := make([]byte, 2*hotKeyMax)
	if got := appendHotKey(nil, []byte("example.test"), long); len(got) != hotKeyMax {
		t.Errorf("long URL kept as %d bytes, want %d", len(got), hotKeyMax)
	}
	if got := appendHotKey(nil, []byte("h"), []byte("/x?y")); string(got) != "h/x?y" {
		t.Errorf("appendHotKey = %q", got)
	}
}

// BenchmarkHotKeys_Observe is the hot-key cost a request pays: the
// sampling draw, and for one in hotSample the summaries' update.
func BenchmarkHotKeys_Observe(b *testing.B) {
	h := newHotKeys(time.Now)
	rt := &route{cfg: &RouteConfig{Name: "api"}, name: []byte("api")}
	var ctx fasthttp.RequestCtx
	ctx.Init(newRequest("GET", "/hit?a=1&b=2", "example.test"), loopbackAddr, nil)
	ctx.SetBody(make([]byte, 2048))
	b.ReportAllocs()
	for b.Loop() {
		h.observe(&ctx, rt, outcomeHit)
	}
}
