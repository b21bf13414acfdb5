package plugins

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/flowcache/flowcache/policy"
)

// MaxMemoizeKey bounds [Config.MemoizeKey].
const MaxMemoizeKey = 1 << 20

// maxMemoEntry bounds the encoded request plus key result of one memo
// entry: larger ones always call the guest (they are rare, and would pin
// memory), so a memo holds at most MemoizeKey * ~4KiB.
const maxMemoEntry = 4 << 10

// keyMemo remembers the results of flowcache_key by encoded request blob
// (see [Config.MemoizeKey]). It is a 2-way set-associative table of
// immutable entries: a lookup is two atomic loads and a bytewise compare of
// the blob, with no lock; an insert allocates one entry and stores it into
// one of the two slots of its set, replacing an older one. It belongs to a
// Module, so a new module (upload, rollback, reload) starts empty.
type keyMemo struct {
	seed  maphash.Seed
	mask  uint64 // len(slots)-1; len(slots) is a power of two >= 2
	slots []atomic.Pointer[memoEntry]
	bufs  sync.Pool // of *[]byte: scratch for encoding the request blob

	// hits and misses count lookups ([Stats].MemoHits, MemoMisses), on a
	// cache line of their own: they are written on every call, the fields
	// above only read.
	_            [64]byte
	hits, misses atomic.Uint64
}

// memoEntry is one remembered key result. Immutable once published.
type memoEntry struct {
	hash   uint64
	blob   []byte // the encoded request: compared bytewise, so a hash collision is never a hit
	bypass bool
	// host, target and variant are sub-slices of one allocation with blob.
	host, target, variant []byte
}

// newKeyMemo returns a memo of at least n entries (rounded up to a power of
// two, at least 2), or nil when n <= 0.
func newKeyMemo(n int) *keyMemo {
	if n <= 0 {
		return nil
	}
	size := 2
	for size < n {
		size <<= 1
	}
	return &keyMemo{
		seed:  maphash.MakeSeed(),
		mask:  uint64(size - 1),
		slots: make([]atomic.Pointer[memoEntry], size),
	}
}

// buffer returns a scratch buffer for a request blob; release returns it.
func (c *keyMemo) buffer() *[]byte {
	if p, ok := c.bufs.Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, 0, 1024)
	return &b
}

func (c *keyMemo) release(p *[]byte, b []byte) {
	if cap(b) > 2*maxMemoEntry {
		return // let an oversized buffer go
	}
	*p = b[:0]
	c.bufs.Put(p)
}

func (c *keyMemo) hash(blob []byte) uint64 { return maphash.Bytes(c.seed, blob) }

// lookup returns the entry for blob, or nil.
func (c *keyMemo) lookup(h uint64, blob []byte) *memoEntry {
	i := h & c.mask &^ 1
	if e := c.slots[i].Load(); e != nil && e.hash == h && string(e.blob) == string(blob) {
		return e
	}
	if e := c.slots[i+1].Load(); e != nil && e.hash == h && string(e.blob) == string(blob) {
		return e
	}
	return nil
}

// insert remembers the key result for blob (copied). It takes an empty slot
// of the set if there is one, else replaces one chosen by the hash's high
// bit, so that two hot requests of one set usually both stay.
func (c *keyMemo) insert(h uint64, blob []byte, bypass bool, host, target, variant []byte) {
	if len(blob)+len(host)+len(target)+len(variant) > maxMemoEntry {
		return
	}
	buf := make([]byte, 0, len(blob)+len(host)+len(target)+len(variant))
	buf = append(buf, blob...)
	buf = append(buf, host...)
	buf = append(buf, target...)
	buf = append(buf, variant...)
	b, o := len(blob), len(blob)
	e := &memoEntry{hash: h, blob: buf[:b:b], bypass: bypass}
	e.host = buf[o : o+len(host) : o+len(host)]
	o += len(host)
	e.target = buf[o : o+len(target) : o+len(target)]
	o += len(target)
	e.variant = buf[o : o+len(variant) : o+len(variant)]

	i := h & c.mask &^ 1
	switch {
	case c.slots[i].Load() == nil:
	case c.slots[i+1].Load() == nil:
		i++
	default:
		i += h >> 63
	}
	c.slots[i].Store(e)
}

// apply appends e's key result to k, as a guest call would.
func (e *memoEntry) apply(k *policy.Key) {
	k.Bypass = e.bypass
	k.Host = append(k.Host, e.host...)
	k.Target = append(k.Target, e.target...)
	k.Variant = append(k.Variant, e.variant...)
}
