package l2

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync/atomic"
	"time"
)

// Errors of [Signer.Open]. Branch on them with errors.Is.
var (
	// ErrUnsigned: a secret is configured and the message carries no MAC.
	ErrUnsigned = errors.New("l2: message not signed")
	// ErrBadMAC: the message's MAC does not match the cluster secret.
	ErrBadMAC = errors.New("l2: message signature mismatch")
)

// Domains of [Signer]: one per kind of message, so that a MAC made for one
// kind is never accepted for another.
const (
	// DomainInvalidation signs the messages of the invalidation bus.
	DomainInvalidation = "flowcache/l2/invalidation/v1"
	// DomainPolicy signs the policy events shared through Redis.
	DomainPolicy = "flowcache/policy/event/v1"
	// DomainPrefetch signs the hints that an uploaded module is about to
	// be activated: the nodes compile it meanwhile.
	DomainPrefetch = "flowcache/policy/prefetch/v1"
)

// macHexLen is the length of a hex HMAC-SHA256.
const macHexLen = 2 * sha256.Size

// Signer authenticates what a node writes to Redis for the others to act
// on (invalidations, policy events) with HMAC-SHA256 under the cluster
// secret. A sealed message is the message, one space, and the hex MAC of
// the domain, a NUL byte and the message.
//
// A Signer with no secret seals nothing and opens anything: Redis is then
// trusted. It is immutable and safe for concurrent use; the zero value and
// a nil *Signer have no secret.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer for secret; an empty secret disables signing.
func NewSigner(secret string) *Signer {
	if secret == "" {
		return &Signer{}
	}
	return &Signer{key: []byte(secret)}
}

// Enabled reports whether a secret is configured.
func (s *Signer) Enabled() bool { return s != nil && len(s.key) > 0 }

func (s *Signer) mac(dst []byte, domain string, msg []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(domain)) //nolint:errcheck // hash.Hash.Write never fails
	h.Write([]byte{0})      //nolint:errcheck // as above
	h.Write(msg)            //nolint:errcheck // as above
	var sum [sha256.Size]byte
	return hex.AppendEncode(dst, h.Sum(sum[:0]))
}

// Seal appends msg, sealed for domain, to dst: msg itself without a
// secret, else msg, a space and its MAC. msg must not end in a space
// followed by 64 hex digits (JSON never does).
func (s *Signer) Seal(dst []byte, domain string, msg []byte) []byte {
	dst = append(dst, msg...)
	if !s.Enabled() {
		return dst
	}
	dst = append(dst, ' ')
	return s.mac(dst, domain, msg)
}

// Open returns the message sealed in b for domain. With a secret it fails
// with ErrUnsigned or ErrBadMAC unless the MAC matches (compared in
// constant time). Without one, a MAC is stripped unchecked, so that nodes
// still without the secret read what nodes with it send while the secret
// is being rolled out. The result aliases b.
func (s *Signer) Open(domain string, b []byte) ([]byte, error) {
	msg, mac, signed := splitMAC(b)
	if !s.Enabled() {
		return msg, nil
	}
	if !signed {
		return nil, ErrUnsigned
	}
	var buf [macHexLen]byte
	if !hmac.Equal(s.mac(buf[:0], domain, msg), mac) {
		return nil, ErrBadMAC
	}
	return msg, nil
}

// splitMAC splits "msg mac" where mac is 64 lower-case hex digits.
func splitMAC(b []byte) (msg, mac []byte, ok bool) {
	i := bytes.LastIndexByte(b, ' ')
	if i < 0 || len(b)-i-1 != macHexLen {
		return b, nil, false
	}
	for _, c := range b[i+1:] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return b, nil, false
		}
	}
	return b[:i], b[i+1:], true
}

// WarnLimiter lets through at most one warning per interval, counting
// those it holds back: a flood of forged or corrupt data must not flood
// the log (metrics count every one). The zero value is ready; safe for
// concurrent use.
type WarnLimiter struct {
	last       atomic.Int64 // unix ns of the last warning let through
	suppressed atomic.Uint64
}

// warnEvery is the least time between two warnings of one WarnLimiter.
const warnEvery = 10 * time.Second

// Allow reports whether a warning may be logged now, and how many were
// held back since the last one that was.
func (w *WarnLimiter) Allow(now time.Time) (ok bool, suppressed uint64) {
	n := now.UnixNano()
	last := w.last.Load()
	if last != 0 && n-last < int64(warnEvery) || !w.last.CompareAndSwap(last, n) {
		w.suppressed.Add(1)
		return false, 0
	}
	return true, w.suppressed.Swap(0)
}
