package blob

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestStore_GetSetDelete(t *testing.T) {
	t.Parallel()
	s := New(1 << 20)
	v := bytes.Repeat([]byte("x"), 1000)
	if !s.Set([]byte("a"), v, 0, 1) {
		t.Fatal("Set(a) = false")
	}
	got, exp, ok := s.Get([]byte("a"), 2)
	if !ok || &got[0] != &v[0] || exp != 0 {
		t.Fatalf("Get(a) = %d bytes, %d, %v; want the very slice stored", len(got), exp, ok)
	}
	if want := int64(1+1000) + itemOverhead; s.Bytes() != want || s.Len() != 1 {
		t.Errorf("Bytes %d, Len %d; want %d, 1", s.Bytes(), s.Len(), want)
	}
	if !s.Set([]byte("a"), v[:10], 0, 1) || s.Bytes() != int64(11)+itemOverhead {
		t.Errorf("after a replace: Bytes %d, want %d", s.Bytes(), 11+itemOverhead)
	}
	if !s.Delete([]byte("a")) || s.Delete([]byte("a")) {
		t.Error("Delete(a) twice: want true, then false")
	}
	if _, _, ok := s.Get([]byte("a"), 2); ok || s.Bytes() != 0 || s.Len() != 0 {
		t.Errorf("after Delete: found %v, Bytes %d, Len %d", ok, s.Bytes(), s.Len())
	}
}

func TestStore_Expiry(t *testing.T) {
	t.Parallel()
	s := New(1 << 20)
	s.Set([]byte("a"), []byte("v"), 100, 1)
	if _, exp, ok := s.Get([]byte("a"), 99); !ok || exp != 100 {
		t.Errorf("Get before expiry = %d, %v; want 100, true", exp, ok)
	}
	if _, _, ok := s.Get([]byte("a"), 100); ok {
		t.Error("Get at expiry found the value")
	}
}

func TestStore_Fits(t *testing.T) {
	t.Parallel()
	s := New(8 << 10)
	if s.Set([]byte("k"), make([]byte, 1<<10), 0, 1) {
		t.Error("stored a value of more than an eighth of the capacity")
	}
	if !s.Set([]byte("k"), make([]byte, 800), 0, 1) {
		t.Error("refused a value of less than an eighth of the capacity")
	}
}

// TestStore_Bounded: whatever is stored, the bytes stay within capacity,
// and evictions are counted.
func TestStore_Bounded(t *testing.T) {
	t.Parallel()
	const capacity = 1 << 20
	s := New(capacity)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		k := []byte(strconv.Itoa(r.IntN(500)))
		switch r.IntN(10) {
		case 0:
			s.Delete(k)
		case 1, 2, 3:
			s.Get(k, int64(i))
		default:
			s.Set(k, make([]byte, 1+r.IntN(capacity/8-200)), int64(i+r.IntN(100)), int64(i))
		}
		if s.Bytes() > capacity {
			t.Fatalf("op %d: %d bytes stored, capacity %d", i, s.Bytes(), capacity)
		}
	}
	if s.Evictions() == 0 {
		t.Error("no eviction counted")
	}
	// The queues hold what the map holds.
	n, b := 0, int64(0)
	for _, q := range []*queue{&s.small, &s.main} {
		for it := q.head; it != nil; it = it.next {
			if s.m[it.key] != it {
				t.Fatalf("queued item %q is not the map's", it.key)
			}
			n++
			b += it.size()
		}
	}
	if n != s.Len() || b != s.Bytes() {
		t.Errorf("queues hold %d items, %d bytes; map %d, accounted %d", n, b, s.Len(), s.Bytes())
	}
	s.Clear()
	if s.Len() != 0 || s.Bytes() != 0 {
		t.Errorf("after Clear: Len %d, Bytes %d", s.Len(), s.Bytes())
	}
}

// TestStore_ScanResistant: a popular value read again and again survives a
// stream of values read once each (what an LRU would lose).
func TestStore_ScanResistant(t *testing.T) {
	t.Parallel()
	s := New(1 << 20)
	hot := []byte("hot")
	s.Set(hot, make([]byte, 50<<10), 0, 1)
	for i := range 2000 {
		if i%10 == 0 {
			if _, _, ok := s.Get(hot, 1); !ok {
				t.Fatalf("after %d one-time values the popular one is gone", i)
			}
		}
		s.Set([]byte("once"+strconv.Itoa(i)), make([]byte, 50<<10), 0, 1)
	}
}

func TestStore_GetAllocs(t *testing.T) {
	s := New(1 << 20)
	k := []byte("key")
	s.Set(k, make([]byte, 1000), 0, 1)
	if n := testing.AllocsPerRun(100, func() { s.Get(k, 2) }); n != 0 {
		t.Errorf("Get allocates %v times", n)
	}
}

// FuzzStore: any sequence of operations keeps the store within capacity,
// its accounting exact, and every Get returns what the last Set stored.
func FuzzStore(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 250, 7, 8, 9})
	f.Fuzz(func(t *testing.T, ops []byte) {
		s := New(4 << 10)
		model := map[string]int{}
		for i := 0; i+1 < len(ops); i += 2 {
			k := []byte{ops[i] % 16}
			switch n := int(ops[i+1]) * 2; ops[i] % 3 {
			case 0:
				if s.Set(k, bytes.Repeat([]byte{ops[i+1]}, n), 0, 1) {
					model[string(k)] = n
				} else { // refused: the old value stays; both forget it
					delete(model, string(k))
					s.Delete(k)
				}
			case 1:
				s.Delete(k)
				delete(model, string(k))
			default:
				v, _, ok := s.Get(k, 1)
				if ok && len(v) != model[string(k)] {
					t.Fatalf("Get(%v) = %d bytes, last Set %d", k, len(v), model[string(k)])
				}
			}
			if s.Bytes() > s.Capacity() {
				t.Fatalf("%d bytes stored, capacity %d", s.Bytes(), s.Capacity())
			}
		}
	})
}
