package entry

import (
	"encoding/binary"
	"errors"
	"hash/crc32"

	"github.com/flowcache/flowcache/internal/httplex"
)

// Magic is the first byte of every encoded entry.
const Magic = 0xFC

// Version is the format version written by AppendEncode and the only one
// Decode accepts.
const Version = 1

// HeadSize is the size of the fixed part of an encoded entry; an encoded
// entry is HeadSize plus the lengths of its variable fields.
const HeadSize = 90

const (
	offStatus  = 2
	offFlags   = 4
	offTimes   = 6
	offLens    = 62
	offBodyCRC = 82
	offHeadCRC = 86
	numTimes   = 7
	numLens    = 5
)

// Errors returned by Decode and Verify. Each names what failed; callers
// branch with errors.Is and treat any of them as a cache miss.
var (
	ErrTruncated = errors.New("entry: truncated")
	ErrMagic     = errors.New("entry: bad magic byte")
	ErrVersion   = errors.New("entry: unsupported version")
	ErrLength    = errors.New("entry: field lengths do not match size")
	ErrChecksum  = errors.New("entry: head checksum mismatch")
	ErrBodySum   = errors.New("entry: body checksum mismatch")
	ErrStatus    = errors.New("entry: status out of range")
	ErrBodyLen   = errors.New("entry: body length inconsistent with body")
	ErrHeader    = errors.New("entry: malformed header block")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Flags are boolean properties of an entry.
type Flags uint16

// Flag bits. Bits not defined here are kept as they are by AppendEncode and
// Decode.
const (
	// FlagMustRevalidate forbids serving the entry stale beyond its
	// stale-while-revalidate and stale-if-error windows (must-revalidate,
	// proxy-revalidate, s-maxage).
	FlagMustRevalidate Flags = 1 << iota
	// FlagNoCache requires revalidation before each use (response no-cache).
	FlagNoCache
	// FlagInvalidated marks an entry soft-purged: stored, but stale whatever
	// its TTL, usable only for revalidation and stale-if-error.
	FlagInvalidated
	// FlagBodyChunked means Body holds only the first part of a body of
	// BodyLen bytes; the rest is stored elsewhere by the gateway.
	FlagBodyChunked
)

// Has reports whether every bit of g is set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// Entry is one stored response with its cache metadata. After Decode its
// slices alias the decoded buffer: they are valid as long as that buffer is,
// and must not be modified. An Entry is not safe for concurrent mutation.
type Entry struct {
	// Status is the response status code, 100..999.
	Status int
	// RequestTime and ResponseTime are when the upstream request was sent
	// and its response received, in unix nanoseconds (RFC 9111, Section 4.2.3).
	RequestTime, ResponseTime int64
	// InitialAge is the corrected_initial_age of RFC 9111, Section 4.2.3,
	// in nanoseconds.
	InitialAge int64
	// TTL is the freshness lifetime, in nanoseconds.
	TTL int64
	// SWR and SIE are the stale-while-revalidate and stale-if-error windows,
	// in nanoseconds past TTL.
	SWR, SIE int64
	// Flags holds the boolean properties.
	Flags Flags
	// ETag and LastModified are the validators, raw header values, empty if
	// the response had none.
	ETag, LastModified []byte
	// Tags is the Surrogate-Key value (space separated), may be empty.
	Tags []byte
	// Header is the header block; build it with AppendHeader, read it with
	// NextHeader.
	Header []byte
	// Body is the body, or its first part if FlagBodyChunked is set.
	Body []byte
	// BodyLen is the total body length in bytes: len(Body) unless
	// FlagBodyChunked is set, then at least len(Body).
	BodyLen int64
}

// AppendEncode appends the encoding of e to dst and returns the extended
// buffer. It does not allocate when dst has room for it. Status is stored in
// 16 bits and each variable field in at most 4 GiB; callers keep them in
// range (Decode rejects a status outside 100..999).
func (e *Entry) AppendEncode(dst []byte) []byte {
	start := len(dst)
	dst = append(dst, Magic, Version)
	dst = binary.BigEndian.AppendUint16(dst, uint16(e.Status))
	dst = binary.BigEndian.AppendUint16(dst, uint16(e.Flags))
	for _, v := range [numTimes]int64{e.RequestTime, e.ResponseTime, e.InitialAge, e.TTL, e.SWR, e.SIE, e.BodyLen} {
		dst = binary.BigEndian.AppendUint64(dst, uint64(v))
	}
	for _, f := range [numLens][]byte{e.ETag, e.LastModified, e.Tags, e.Header, e.Body} {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(f)))
	}
	dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(e.Body, castagnoli))
	dst = append(dst, 0, 0, 0, 0) // head checksum, filled below
	dst = append(dst, e.ETag...)
	dst = append(dst, e.LastModified...)
	dst = append(dst, e.Tags...)
	dst = append(dst, e.Header...)
	head := dst[start:]
	sum := crc32.Update(crc32.Checksum(head[:offHeadCRC], castagnoli), castagnoli, head[HeadSize:])
	binary.BigEndian.PutUint32(head[offHeadCRC:], sum)
	return append(dst, e.Body...)
}

// Decode decodes b into e, overwriting every field. It does not copy and does
// not allocate: e's slices alias b (with their capacity capped, so appending
// to one never overwrites the next). It checks the magic byte, the version,
// that the field lengths add up to len(b) exactly, the head checksum, the
// status range, the body length and the header block's framing; it does
// not check the body checksum (see Verify). On error e is unspecified.
func Decode(b []byte, e *Entry) error {
	if len(b) < 2 {
		return ErrTruncated
	}
	if b[0] != Magic {
		return ErrMagic
	}
	if b[1] != Version {
		return ErrVersion
	}
	if len(b) < HeadSize {
		return ErrTruncated
	}
	var lens [numLens]uint64
	var total uint64
	for i := range lens {
		lens[i] = uint64(binary.BigEndian.Uint32(b[offLens+4*i:]))
		total += lens[i]
	}
	if avail := uint64(len(b) - HeadSize); total != avail {
		if total > avail {
			return ErrTruncated
		}
		return ErrLength
	}
	headEnd := HeadSize + int(total-lens[4])
	sum := crc32.Update(crc32.Checksum(b[:offHeadCRC], castagnoli), castagnoli, b[HeadSize:headEnd])
	if sum != binary.BigEndian.Uint32(b[offHeadCRC:]) {
		return ErrChecksum
	}

	e.Status = int(binary.BigEndian.Uint16(b[offStatus:]))
	e.Flags = Flags(binary.BigEndian.Uint16(b[offFlags:]))
	t := b[offTimes:]
	e.RequestTime = int64(binary.BigEndian.Uint64(t[0:]))
	e.ResponseTime = int64(binary.BigEndian.Uint64(t[8:]))
	e.InitialAge = int64(binary.BigEndian.Uint64(t[16:]))
	e.TTL = int64(binary.BigEndian.Uint64(t[24:]))
	e.SWR = int64(binary.BigEndian.Uint64(t[32:]))
	e.SIE = int64(binary.BigEndian.Uint64(t[40:]))
	e.BodyLen = int64(binary.BigEndian.Uint64(t[48:]))

	off := HeadSize
	next := func(n uint64) []byte {
		end := off + int(n)
		s := b[off:end:end]
		off = end
		return s
	}
	e.ETag = next(lens[0])
	e.LastModified = next(lens[1])
	e.Tags = next(lens[2])
	e.Header = next(lens[3])
	e.Body = next(lens[4])

	if e.Status < 100 || e.Status > 999 {
		return ErrStatus
	}
	if e.BodyLen < int64(len(e.Body)) || (e.BodyLen != int64(len(e.Body)) && !e.Flags.Has(FlagBodyChunked)) {
		return ErrBodyLen
	}
	for rest := e.Header; len(rest) > 0; {
		var ok bool
		if _, _, rest, ok = NextHeader(rest); !ok {
			return ErrHeader
		}
	}
	return nil
}

// Verify checks b as Decode does and also checks the body checksum. It does
// not allocate.
func Verify(b []byte) error {
	var e Entry
	if err := Decode(b, &e); err != nil {
		return err
	}
	if crc32.Checksum(e.Body, castagnoli) != binary.BigEndian.Uint32(b[offBodyCRC:]) {
		return ErrBodySum
	}
	return nil
}

// AppendHeader appends one header field to the header block block and
// returns the extended block. It does not allocate when block has room.
func AppendHeader(block []byte, name, value []byte) []byte {
	block = binary.AppendUvarint(block, uint64(len(name)))
	block = append(block, name...)
	block = binary.AppendUvarint(block, uint64(len(value)))
	return append(block, value...)
}

// NextHeader reads the first field of the header block block. It returns the
// field's name and value (aliasing block, capacity capped), the rest of the
// block, and ok; ok is false when block is empty or malformed. It does not
// allocate.
//
//	for name, value, rest, ok := entry.NextHeader(e.Header); ok; name, value, rest, ok = entry.NextHeader(rest) {
//		...
//	}
func NextHeader(block []byte) (name, value, rest []byte, ok bool) {
	name, rest, ok = field(block)
	if !ok {
		return nil, nil, nil, false
	}
	value, rest, ok = field(rest)
	if !ok {
		return nil, nil, nil, false
	}
	return name, value, rest, true
}

// field reads one uvarint-length-prefixed byte string.
func field(b []byte) (f, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	end := k + int(n)
	return b[k:end:end], b[end:], true
}

// Errors returned by Check, beside ErrStatus and ErrBodyLen.
var (
	// ErrField: a header name that is not a token, or a header, validator
	// or tags value with a control character (CR, LF, NUL...).
	ErrField = errors.New("entry: header field not valid")
	// ErrBounds: more header fields than allowed.
	ErrBounds = errors.New("entry: field out of bounds")
)

// Limits bound what Check accepts.
type Limits struct {
	// MaxBodyLen bounds BodyLen: the largest body the gateway stores.
	MaxBodyLen int64
	// MaxHeaders bounds the number of header fields.
	MaxHeaders int
}

// Check reports whether the decoded entry e is one the gateway could have
// stored, for entries read from outside the process (Redis): a final
// status (200..599), BodyLen within lim, at most
// lim.MaxHeaders header fields, each name a token (RFC 9110, Section
// 5.1) and each value, like the validators and tags, free of control
// characters other than HTAB (Section 5.5), so that nothing read can
// split or inject a header. It does not allocate.
func (e *Entry) Check(lim Limits) error {
	if e.Status < 200 || e.Status > 599 {
		return ErrStatus
	}
	if e.BodyLen > lim.MaxBodyLen {
		return ErrBodyLen
	}
	if !fieldValue(e.ETag) || !fieldValue(e.LastModified) || !fieldValue(e.Tags) {
		return ErrField
	}
	n := 0
	for name, value, rest, ok := NextHeader(e.Header); ok; name, value, rest, ok = NextHeader(rest) {
		if n++; n > lim.MaxHeaders {
			return ErrBounds
		}
		if !Token(name) || !fieldValue(value) {
			return ErrField
		}
	}
	return nil
}

// Token reports whether b is a non-empty RFC 9110 token (a field name): it
// is httplex.IsToken.
func Token(b []byte) bool { return httplex.IsToken(b) }

// fieldValue reports whether b holds no control character but HTAB
// (RFC 9110, Section 5.5: field-vchar, SP, HTAB, obs-text).
func fieldValue(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
