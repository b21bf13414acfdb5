package abi

import (
	"math"
	"strconv"
	"time"
)

// AppendRequest appends the fixed part and the fields of a request blob for r
// to dst and returns the extended buffer. The blob starts at len(dst) on
// entry; pass that offset to [AppendRequestHeader] to add header fields,
// which must follow immediately. It does not allocate when dst has room.
func AppendRequest(dst []byte, r *Request) []byte {
	start := len(dst)
	dst = append(dst, zeros[:RequestFixedSize]...)
	dst = appendField(dst, start, reqMethod, r.Method)
	dst = appendField(dst, start, reqScheme, r.Scheme)
	dst = appendField(dst, start, reqHost, r.Host)
	dst = appendField(dst, start, reqPath, r.Path)
	dst = appendField(dst, start, reqQuery, r.Query)
	dst = appendField(dst, start, reqRoute, r.Route)
	put32(dst, start+reqHeadersOff, ulen(len(dst)-start))
	return dst
}

func appendField(dst []byte, start, slot int, v []byte) []byte {
	put32(dst, start+slot, ulen(len(dst)-start))
	put32(dst, start+slot+4, ulen(len(v)))
	return append(dst, v...)
}

// AppendRequestHeader appends one header field to the request blob that
// starts at dst[start:] and must end at len(dst), and returns the extended
// buffer.
func AppendRequestHeader(dst []byte, start int, name, value []byte) []byte {
	dst = appendHeader(dst, name, value)
	put32(dst, start+reqHeaderCount, u32(dst, start+reqHeaderCount)+1)
	return dst
}

func appendHeader(dst, name, value []byte) []byte {
	dst = le.AppendUint32(dst, ulen(len(name)))
	dst = append(dst, name...)
	dst = le.AppendUint32(dst, ulen(len(value)))
	return append(dst, value...)
}

// AppendDecideInput appends the fixed part of a decide blob to dst: the
// default decision d (which the guest may return unchanged, modify in place
// or replace) and the fixed fields of resp. The blob starts at len(dst) on
// entry; pass that offset to [AppendResponseHeader] for each response header,
// then to [AppendDecideRequest] once. It does not allocate when dst has room.
func AppendDecideInput(dst []byte, resp *Response, d *Decision) []byte {
	start := len(dst)
	dst = append(dst, zeros[:DecideFixedSize]...)
	PutDecision(dst[start:], d)
	put32(dst, start+decStatus, uint32(resp.Status))             //nolint:gosec // a status code (100-999)
	le.PutUint64(dst[start+decBodySize:], uint64(resp.BodySize)) //nolint:gosec // the i64 field holds the bits of an int64
	le.PutUint64(dst[start+decNow:], uint64(resp.NowUnixMilli))  //nolint:gosec // the i64 field holds the bits of an int64
	put32(dst, start+decHeadersOff, DecideFixedSize)
	return dst
}

// AppendResponseHeader appends one response header field to the decide blob
// that starts at dst[start:] and returns the extended buffer. All response
// headers come before [AppendDecideRequest].
func AppendResponseHeader(dst []byte, start int, name, value []byte) []byte {
	dst = appendHeader(dst, name, value)
	put32(dst, start+decHeaderCount, u32(dst, start+decHeaderCount)+1)
	return dst
}

// AppendDecideRequest appends the request blob for r to the decide blob that
// starts at dst[start:], after its response headers, and returns the extended
// buffer. The request blob starts at len(dst) on entry: pass that offset to
// [AppendRequestHeader] for the request's header fields.
func AppendDecideRequest(dst []byte, start int, r *Request) []byte {
	put32(dst, start+decRequestOff, ulen(len(dst)-start))
	return AppendRequest(dst, r)
}

// MaxKeySize bounds host+target+variant in a key result (32KiB).
const MaxKeySize = 32 << 10

// DecodeKey checks a key result (the bytes a flowcache_key result points at)
// and fills k; k's slices alias b. It rejects, with a [*DecodeError], a
// result that is truncated or has trailing bytes, unknown flags, a bypass
// result carrying fields, a target that does not start with '/' or contains
// a control character, space or '#', a host with a control character,
// space, or one of "/?#@", and a key over [MaxKeySize]. These rules matter because the gateway sends the
// target to the upstream as the request URI.
func DecodeKey(b []byte, k *Key) error {
	const what = "key result"
	if len(b) < KeyHeaderSize {
		return derr(what, 0, "truncated: "+strconv.Itoa(len(b))+" bytes, want at least "+strconv.Itoa(KeyHeaderSize))
	}
	flags := u32(b, keyFlags)
	if flags&^KeyFlagBypass != 0 {
		return derr(what, keyFlags, "unknown flags 0x"+strconv.FormatUint(uint64(flags), 16))
	}
	hl, tl, vl := uint64(u32(b, keyHostLen)), uint64(u32(b, keyTargetLen)), uint64(u32(b, keyVariantLen))
	if want := KeyHeaderSize + hl + tl + vl; want != uint64(len(b)) {
		return derr(what, keyHostLen, "lengths "+strconv.FormatUint(hl, 10)+"+"+strconv.FormatUint(tl, 10)+"+"+
			strconv.FormatUint(vl, 10)+" need "+strconv.FormatUint(want, 10)+" bytes, result has "+strconv.Itoa(len(b)))
	}
	if hl+tl+vl > MaxKeySize {
		return derr(what, keyHostLen, "key of "+strconv.FormatUint(hl+tl+vl, 10)+" bytes exceeds "+strconv.Itoa(MaxKeySize))
	}
	k.Bypass = flags&KeyFlagBypass != 0
	if k.Bypass {
		if hl+tl+vl != 0 {
			return derr(what, keyHostLen, "bypass result carries key fields")
		}
		k.Host, k.Target, k.Variant = nil, nil, nil
		return nil
	}
	h := KeyHeaderSize + int(hl) //nolint:gosec // hl+tl+vl == len(b)-16, checked above
	t := h + int(tl)             //nolint:gosec // hl+tl+vl == len(b)-16, checked above
	k.Host, k.Target, k.Variant = b[KeyHeaderSize:h:h], b[h:t:t], b[t:]
	if i := indexBad(k.Host, &badHost); i >= 0 {
		return derr(what, KeyHeaderSize+i, "host has byte 0x"+strconv.FormatUint(uint64(k.Host[i]), 16))
	}
	if len(k.Target) == 0 || k.Target[0] != '/' {
		return derr(what, h, "target must start with '/'")
	}
	if i := indexBad(k.Target, &badTarget); i >= 0 {
		return derr(what, h+i, "target has byte 0x"+strconv.FormatUint(uint64(k.Target[i]), 16))
	}
	return nil
}

// Bytes refused in a key's host and target: controls, space, DEL, and the
// delimiters that would change what the upstream request means.
var badHost, badTarget = func() (h, t [256]bool) {
	for c := 0; c <= ' '; c++ {
		h[c], t[c] = true, true
	}
	h[0x7f], t[0x7f] = true, true
	h['/'], h['?'], h['#'], h['@'] = true, true, true, true
	t['#'] = true
	return h, t
}()

// indexBad returns the index of the first byte of b marked in bad, or -1.
// It first tests 8 bytes at a time, the last word overlapping the one
// before, for the bytes the table refuses (a test that may report a byte
// it does not refuse, never the reverse), then looks byte by byte only from
// the first word the test did not clear.
func indexBad(b []byte, bad *[256]bool) int {
	host := bad == &badHost
	i := 0
	if len(b) >= 8 {
		for ; i+8 <= len(b); i += 8 {
			if mayHaveBadByte(le.Uint64(b[i:]), host) {
				break
			}
		}
		if i+8 > len(b) && (i == len(b) || !mayHaveBadByte(le.Uint64(b[len(b)-8:]), host)) {
			return -1
		}
	}
	for ; i < len(b); i++ {
		if bad[b[i]] {
			return i
		}
	}
	return -1
}

// mayHaveBadByte reports whether one of the 8 bytes in x may be refused in
// a target (below 0x21, 0x7f or '#') or, if host, in a host (also '/', '?'
// and '@'). It never misses one.
func mayHaveBadByte(x uint64, host bool) bool {
	if host {
		return mayHaveBadTargetByte(x) || hasByte(x, '/')|hasByte(x, '?')|hasByte(x, '@') != 0
	}
	return mayHaveBadTargetByte(x)
}

// hasByte returns non-zero if some byte of x equals c.
func hasByte(x, c uint64) uint64 {
	y := x ^ ones*c
	return (y - ones) &^ y & highs
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// mayHaveBadTargetByte reports whether one of the 8 bytes in x is below
// 0x21, is 0x7f, or is '#'. It never misses one (false positives are
// resolved by the caller's byte loop). See "Bit Twiddling Hacks",
// "Determine if a word has a byte less than n" and "... equal to n".
func mayHaveBadTargetByte(x uint64) bool {
	less := (x - ones*0x21) & ^x & highs
	del := x ^ (ones * 0x7f)
	del = (del - ones) & ^del & highs
	hash := x ^ (ones * '#')
	hash = (hash - ones) & ^hash & highs
	return less|del|hash != 0
}

// DecodeDecision checks an encoded decision (exactly [DecisionSize] bytes)
// and fills d. It rejects, with a [*DecodeError], a wrong size, unknown
// flags, an unknown tier, and negative or overflowing durations.
func DecodeDecision(b []byte, d *Decision) error {
	const what = "decision"
	if len(b) != DecisionSize {
		return derr(what, 0, "size "+strconv.Itoa(len(b))+", want "+strconv.Itoa(DecisionSize))
	}
	flags := u32(b, dcnFlags)
	if flags&^decisionFlags != 0 {
		return derr(what, dcnFlags, "unknown flags 0x"+strconv.FormatUint(uint64(flags), 16))
	}
	tier := u32(b, dcnTier)
	if tier > uint32(TierL2) {
		return derr(what, dcnTier, "unknown tier "+strconv.FormatUint(uint64(tier), 10))
	}
	var durs [3]time.Duration
	for i, off := range [3]int{dcnTTL, dcnSWR, dcnSIE} {
		ms := int64(le.Uint64(b[off:])) //nolint:gosec // the i64 field holds the bits of an int64; negative values are refused below
		if ms < 0 {
			return derr(what, off, "negative duration "+strconv.FormatInt(ms, 10)+"ms")
		}
		if ms > math.MaxInt64/int64(time.Millisecond) {
			return derr(what, off, "duration "+strconv.FormatInt(ms, 10)+"ms overflows")
		}
		durs[i] = time.Duration(ms) * time.Millisecond
	}
	*d = Decision{
		Store:                flags&FlagStore != 0,
		Admit:                flags&FlagAdmit != 0,
		MustRevalidate:       flags&FlagMustRevalidate != 0,
		NoCache:              flags&FlagNoCache != 0,
		Tier:                 Tier(tier),
		TTL:                  durs[0],
		StaleWhileRevalidate: durs[1],
		StaleIfError:         durs[2],
	}
	return nil
}

// MaxHeaderNames bounds the names a module may declare with flowcache_headers.
const MaxHeaderNames = 64

// ParseHeaderNames reads the list returned by flowcache_headers: header
// names separated by commas and/or white space, matched case-insensitively.
// It returns the names lower-cased, or all=true if the list holds "*". An
// empty list means "no request headers". It allocates; the host calls it once
// per module.
func ParseHeaderNames(list []byte) (names []string, all bool, err error) {
	const what = "header names"
	for i := 0; i < len(list); {
		c := list[i]
		if c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		j := i
		for j < len(list) && list[j] != ',' && list[j] != ' ' && list[j] != '\t' && list[j] != '\n' && list[j] != '\r' {
			if !isTChar(list[j]) {
				return nil, false, derr(what, j, "byte 0x"+strconv.FormatUint(uint64(list[j]), 16)+" is not a field-name character")
			}
			j++
		}
		tok := list[i:j]
		switch {
		case len(tok) == 1 && tok[0] == '*':
			all = true
		default:
			name := make([]byte, len(tok))
			for k, c := range tok {
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				name[k] = c
			}
			dup := false
			for _, n := range names {
				dup = dup || n == string(name)
			}
			if !dup {
				if len(names) == MaxHeaderNames {
					return nil, false, derr(what, i, "more than "+strconv.Itoa(MaxHeaderNames)+" names")
				}
				names = append(names, string(name))
			}
		}
		i = j
	}
	if all {
		names = nil
	}
	return names, all, nil
}

// isTChar reports whether c may appear in a field name (RFC 9110, Section
// 5.6.2), or is '*'.
func isTChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
