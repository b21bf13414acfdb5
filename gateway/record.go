package gateway

import (
	"bytes"
	"encoding/binary"
	"sync"
)

// Stored record layout, in L1 and L2 alike:
//
//	[0]     kind: kindEntry or kindVariants
//	[1]     flags: recAdmitL1 (a copy found in L2 may be promoted to L1)
//	[2:10]  id: the chunk id of an entry, the generation of a variant record
//	[10:]   payload: an entry encoding (entry.AppendEncode), or a variant record
//
// A variant record lists the lower-cased names of the response's Vary field
// and the variants stored for the URL:
//
//	u16 len, names joined by ","; u16 n; n × (u16 len, variant material)
//
// Variant keys are primaryKey "\x00v" gen material; chunk keys are
// headKey "\x00c" id u32(index). A new generation makes every older variant
// unreachable at once.
//
// # Whole in L2, chunked in L1
//
// L2 holds an entry whole, up to cache.max_object_size: one key, one read
// per hit, one index member. Only L1 chunks a body that does not fit one
// freecache entry (see l1Cache): the head record at the entry's key then
// has entry.FlagBodyChunked, its id is the chunk id, and it holds the
// first bytes of the body; chunk i holds the next chunkSize bytes
// (forEachChunk). An entry read from L2 with FlagBodyChunked was written by
// a version that chunked in L2 too: it reads as a miss, never as a body
// with parts missing.
const (
	kindEntry    = 'E'
	kindVariants = 'V'
	recAdmitL1   = 1
	recHeadSize  = 10
	maxVariants  = 64
)

func appendRecordHead(dst []byte, kind byte, flags byte, id uint64) []byte {
	dst = append(dst, kind, flags)
	return binary.BigEndian.AppendUint64(dst, id)
}

func parseRecordHead(v []byte) (kind, flags byte, id uint64, payload []byte, ok bool) {
	if len(v) < recHeadSize {
		return 0, 0, 0, nil, false
	}
	return v[0], v[1], binary.BigEndian.Uint64(v[2:10]), v[recHeadSize:], true
}

func appendChunkKey(dst, headKey []byte, id uint64, i int) []byte {
	dst = append(dst, headKey...)
	dst = append(dst, 0, 'c')
	dst = binary.BigEndian.AppendUint64(dst, id)
	return binary.BigEndian.AppendUint32(dst, uint32(i)) //nolint:gosec // a chunk index is small and non-negative
}

func appendVariantKey(dst, primary []byte, gen uint64, material []byte) []byte {
	dst = append(dst, primary...)
	dst = append(dst, 0, 'v')
	dst = binary.BigEndian.AppendUint64(dst, gen)
	return append(dst, material...)
}

// variantRecord is a parsed variant record; its slices alias the record.
type variantRecord struct {
	names []byte // lower-case Vary names joined by ","
	list  []byte // the encoded variant list
	n     int
}

func parseVariantRecord(p []byte) (variantRecord, bool) {
	var r variantRecord
	if len(p) < 2 {
		return r, false
	}
	n := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	if len(p) < n+2 {
		return r, false
	}
	r.names, p = p[:n], p[n:]
	r.n = int(binary.BigEndian.Uint16(p))
	r.list = p[2:]
	return r, true
}

// next returns the next variant material of the list.
func nextVariant(list []byte) (material, rest []byte, ok bool) {
	if len(list) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(list))
	if len(list) < 2+n {
		return nil, nil, false
	}
	return list[2 : 2+n], list[2+n:], true
}

func (r *variantRecord) has(material []byte) bool {
	for l := r.list; ; {
		m, rest, ok := nextVariant(l)
		if !ok {
			return false
		}
		if bytes.Equal(m, material) {
			return true
		}
		l = rest
	}
}

// appendVariantRecord appends a record with names and the list of
// materials (old, then extra if not empty).
func appendVariantRecord(dst, names []byte, old variantRecord, extra []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(names))) //nolint:gosec // at most maxVaryLen
	dst = append(dst, names...)
	n := old.n
	if len(extra) > 0 {
		n++
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(n)) //nolint:gosec // at most maxVariants
	dst = append(dst, old.list...)
	if len(extra) > 0 {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(extra))) //nolint:gosec // at most maxVaryLen
		dst = append(dst, extra...)
	}
	return dst
}

// forEachVariant calls fn with the key and the material of each variant
// the variant record payload lists, in order: the record of the URL at
// pkey, of generation gen. The key is built in *key (reused) and valid only
// during fn. It stops at the first malformed item or when fn returns
// false. It is the one walk over a URL's variants: purge, soft purge,
// inspection.
func forEachVariant(key *[]byte, pkey []byte, gen uint64, payload []byte, fn func(ekey, material []byte) bool) {
	rec, ok := parseVariantRecord(payload)
	if !ok {
		return
	}
	for l := rec.list; ; {
		m, rest, ok := nextVariant(l)
		if !ok {
			return
		}
		l = rest
		*key = appendVariantKey((*key)[:0], pkey, gen, m)
		if !fn(*key, m) {
			return
		}
	}
}

// recordScratch holds the buffers of a walk over the records of one URL
// (purge, soft purge, eviction from the L1 index), apart from any
// request's exchange. Get one with acquireRecordScratch.
type recordScratch struct {
	rec  []byte // the URL's record
	buf  []byte // a variant's entry record
	ekey []byte // a variant's key
	ckey []byte // a chunk key
	enc  []byte // a re-encoded record (soft purge)
}

var recordScratchPool sync.Pool

func acquireRecordScratch() *recordScratch {
	if s, ok := recordScratchPool.Get().(*recordScratch); ok {
		return s
	}
	return &recordScratch{}
}

func releaseRecordScratch(s *recordScratch) {
	if cap(s.rec)+cap(s.buf)+cap(s.enc) > 1<<20 {
		return // do not pin a large record's buffers in the pool
	}
	recordScratchPool.Put(s)
}

// chunkKeyExtra is what a chunk key adds to its head's key: "\x00c", the
// id and the index.
const chunkKeyExtra = 2 + 8 + 4

// chunkSize is how many body bytes one L1 chunk of the entry at key holds:
// as many as fit one freecache entry beside the chunk's key.
func (l *l1Cache) chunkSize(key []byte) int { return l.maxKV - len(key) - chunkKeyExtra }

// forEachChunk is the one layout of a chunked body in L1: it calls fn with
// the key (built in *ckey, valid during fn) and the byte range [from, to)
// of each chunk of a body of bodyLen bytes whose head, at key, holds the
// first bytes, in order. It stops when fn returns false and reports
// whether it went through every chunk.
func (l *l1Cache) forEachChunk(ckey *[]byte, key []byte, id uint64, first int, bodyLen int64, fn func(ckey []byte, from, to int64) bool) bool {
	size := int64(l.chunkSize(key))
	if size <= 0 {
		return false
	}
	for i, from := 0, int64(first); from < bodyLen; i++ {
		to := min(from+size, bodyLen)
		*ckey = appendChunkKey((*ckey)[:0], key, id, i)
		if !fn(*ckey, from, to) {
			return false
		}
		from = to
	}
	return true
}
