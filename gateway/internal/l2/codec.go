package l2

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Stored value layout (the envelope):
//
//	byte 0     flags: bits 5-7 format version (1), bit 2 invalidated (soft
//	           purge), bits 0-1 codec (0 none, 1 s2, 2 zstd)
//	bytes 1-4  soft generation at write time, big endian; the value is
//	           invalidated if it is older than the current soft generation
//	bytes 5-   payload, compressed by the codec
//
// The soft-purge bit sits in byte 0 so that a server-side script can set it
// with SETRANGE, keeping the TTL, without reading the value.
const (
	envVersion      = 1 << 5
	envVersionMask  = 0xe0
	envCodecMask    = 0x03
	envInvalidated  = 0x04
	envHeaderLen    = 5
	codecNone       = 0
	codecS2         = 1
	codecZstd       = 2
	minSavingDivide = 8 // keep compression only if it saves >= 1/8
)

// defaultCompressMinSize is the measured break-even (see RATIONALE.md and
// BenchmarkCompression): below it the codecs save too little to repay their
// CPU time and header.
const defaultCompressMinSize = 512

// errCorrupt reports a stored value this version cannot read.
var errCorrupt = errors.New("l2: corrupt value")

// codec encodes and decodes envelopes. Safe for concurrent use.
type codec struct {
	kind    uint8
	minSize int
	maxSize int
	zenc    *zstd.Encoder
	zdec    *zstd.Decoder
}

func newCodec(name string, minSize, maxSize int) (*codec, error) {
	c := &codec{minSize: minSize, maxSize: maxSize}
	switch name {
	case CompressionNone:
		c.kind = codecNone
	case CompressionS2:
		c.kind = codecS2
	case CompressionZstd:
		c.kind = codecZstd
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("l2: zstd encoder: %w", err)
		}
		c.zenc = enc
	default:
		return nil, fmt.Errorf("l2: unknown compression %q", name)
	}
	// The decoder is always there: values written by a node with another
	// setting must stay readable.
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(uint64(maxSize)))
	if err != nil {
		return nil, fmt.Errorf("l2: zstd decoder: %w", err)
	}
	c.zdec = dec
	return c, nil
}

func (c *codec) close() {
	if c.zenc != nil {
		// Close only releases the encoder's goroutines; its error is for
		// streams, which EncodeAll does not use.
		_ = c.zenc.Close()
	}
	c.zdec.Close()
}

// appendEncode appends the envelope of value to dst. It reports whether the
// payload is compressed.
func (c *codec) appendEncode(dst, value []byte, softGen uint32) ([]byte, bool) {
	start := len(dst)
	dst = append(dst, envVersion|codecNone, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(dst[start+1:], softGen)
	if c.kind != codecNone && len(value) >= c.minSize {
		body := len(dst)
		switch c.kind {
		case codecS2:
			need := s2.MaxEncodedLen(len(value))
			if need > 0 {
				dst = grow(dst, need)
				enc := s2.Encode(dst[body:body+need], value)
				dst = dst[:body+len(enc)]
			}
		case codecZstd:
			dst = c.zenc.EncodeAll(value, dst)
		}
		if n := len(dst) - body; n > 0 && n <= len(value)-len(value)/minSavingDivide {
			dst[start] = envVersion | c.kind
			return dst, true
		}
		dst = dst[:body]
	}
	return append(dst, value...), false
}

// grow makes room for n more bytes after len(b).
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}

// envelope is a decoded header.
type envelope struct {
	invalidated bool
	softGen     uint32
}

// decode appends the value stored in stored (an envelope) to dst.
func (c *codec) decode(dst, stored []byte) ([]byte, envelope, error) {
	if len(stored) < envHeaderLen || stored[0]&envVersionMask != envVersion {
		return dst, envelope{}, errCorrupt
	}
	env := envelope{
		invalidated: stored[0]&envInvalidated != 0,
		softGen:     binary.BigEndian.Uint32(stored[1:5]),
	}
	payload := stored[envHeaderLen:]
	switch stored[0] & envCodecMask {
	case codecNone:
		if len(payload) > c.maxSize {
			return dst, env, errCorrupt
		}
		return append(dst, payload...), env, nil
	case codecS2:
		n, err := s2.DecodedLen(payload)
		if err != nil || n > c.maxSize {
			return dst, env, errCorrupt
		}
		start := len(dst)
		dst = grow(dst, n)
		out, err := s2.Decode(dst[start:start+n], payload)
		if err != nil {
			return dst, env, errCorrupt
		}
		return dst[:start+len(out)], env, nil
	case codecZstd:
		out, err := c.zdec.DecodeAll(payload, dst)
		if err != nil {
			return dst, env, errCorrupt
		}
		return out, env, nil
	default:
		return dst, env, errCorrupt
	}
}
