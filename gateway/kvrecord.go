package gateway

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
)

// A look-aside value is stored in L1 and L2 as a record (see record.go for
// the head), under kvKey(namespace, key):
//
//	[0]      kindKV
//	[1]      flags (0)
//	[2:10]   ETag, 64 bits, random per write
//	[10:18]  stored at, unix ms
//	[18:26]  expires at, unix ms
//	[26]     n, then n bytes of Content-Type
//	u16 m, then m bytes of Surrogate-Key (space-separated tags)
//	the value
//
// A lease placeholder (kindLease) is a head whose id is the lease token:
// Redis holds it under the value's key while a caller fills a miss, so
// that taking a lease (SET NX), filling it and deleting the key are
// single-key operations (cluster-safe) and a delete removes the lease with
// the value.
const (
	kindKV       = 'K'
	kindLease    = 'L'
	kvFixedLen   = recHeadSize + 16
	kvMaxCTLen   = 255
	kvMaxTagsLen = 4096
	kvVersionAt  = 2 // offset of the ETag (or token) in a record
)

// kvTokenHeader carries a lease token (kvlease.go).
const kvTokenHeader = "Flowcache-Lease" //nolint:gosec // G101: a field name, not a credential

var errKVRecord = errors.New("gateway: kv: bad record")

// kvRecord is a decoded value record; its slices alias the stored bytes.
type kvRecord struct {
	etag            uint64
	stored, expires int64 // unix ms
	ct, tags, value []byte
}

// kvKeyPrefix starts every look-aside key: a primary key starts with a
// route name (never empty), so no response shares a key with a value.
const kvKeyPrefix = "\x00kv\x00"

// appendKVKey appends the L1/L2 key of key in namespace ns.
func appendKVKey(dst []byte, ns string, key []byte) []byte {
	dst = append(dst, kvKeyPrefix...)
	dst = append(dst, ns...)
	dst = append(dst, 0)
	return append(dst, key...)
}

// appendKVRecord appends the record of a value.
func appendKVRecord(dst []byte, r *kvRecord) []byte {
	dst = appendRecordHead(dst, kindKV, 0, r.etag)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.stored))  //nolint:gosec // unix ms, positive
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.expires)) //nolint:gosec // unix ms, positive
	dst = append(dst, byte(len(r.ct)))                          //nolint:gosec // at most kvMaxCTLen
	dst = append(dst, r.ct...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(r.tags))) //nolint:gosec // at most kvMaxTagsLen
	dst = append(dst, r.tags...)
	return append(dst, r.value...)
}

// appendLeaseRecord appends a lease placeholder holding token.
func appendLeaseRecord(dst []byte, token uint64) []byte {
	return appendRecordHead(dst, kindLease, 0, token)
}

// parseKVRecord decodes a value record. It checks every length against v
// (records from Redis are not trusted) and that the Content-Type and tags
// hold no control characters, and does not allocate.
func parseKVRecord(v []byte, r *kvRecord) error {
	if len(v) < kvFixedLen+3 || v[0] != kindKV || v[1] != 0 {
		return errKVRecord
	}
	r.etag = binary.BigEndian.Uint64(v[2:10])
	r.stored = int64(binary.BigEndian.Uint64(v[10:18]))  //nolint:gosec // checked below
	r.expires = int64(binary.BigEndian.Uint64(v[18:26])) //nolint:gosec // checked below
	if r.stored < 0 || r.expires < r.stored {
		return errKVRecord
	}
	p := v[kvFixedLen:]
	n := int(p[0])
	if len(p) < 1+n+2 {
		return errKVRecord
	}
	r.ct, p = p[1:1+n], p[1+n:]
	m := int(binary.BigEndian.Uint16(p))
	if m > kvMaxTagsLen || len(p) < 2+m {
		return errKVRecord
	}
	r.tags, r.value = p[2:2+m], p[2+m:]
	if !kvFieldOK(r.ct) || !kvFieldOK(r.tags) {
		return errKVRecord
	}
	return nil
}

// kvFieldOK reports whether b may be sent as a field value: visible
// ASCII, space and tab only.
func kvFieldOK(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}

// newKVVersion returns a new ETag or lease token: random, never 0.
func newKVVersion() uint64 { return rand.Uint64() | 1 } //nolint:gosec // unguessable enough for versions; not a secret

// appendETag appends the ETag field value of etag: 16 hex digits quoted.
func appendETag(dst []byte, etag uint64) []byte {
	dst = append(dst, '"')
	dst = appendHex64(dst, etag)
	return append(dst, '"')
}

func appendHex64(dst []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for i := 60; i >= 0; i -= 4 {
		dst = append(dst, digits[(v>>uint(i))&0xf])
	}
	return dst
}

// parseHex64 reads exactly 16 hex digits.
func parseHex64(b []byte) (uint64, bool) {
	if len(b) != 16 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		d := unhex(c)
		if d < 0 {
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

// parseETag reads a strong ETag as appendETag writes it.
func parseETag(b []byte) (uint64, bool) {
	b = trimOWS(b)
	if len(b) != 18 || b[0] != '"' || b[17] != '"' {
		return 0, false
	}
	return parseHex64(b[1:17])
}

// appendUnescape appends the percent-decoded path segment s; it fails on
// a malformed escape.
func appendUnescape(dst, s []byte) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		if i+2 >= len(s) {
			return dst, false
		}
		h, l := unhex(s[i+1]), unhex(s[i+2])
		if h < 0 || l < 0 {
			return dst, false
		}
		dst = append(dst, byte(h<<4|l)) //nolint:gosec // two hex digits: below 256
		i += 2
	}
	return dst, true
}
