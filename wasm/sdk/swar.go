package sdk

import "math/bits"

// Word-at-a-time byte tests ("SIMD within a register"). Go compiles every
// branch of a function that calls others into a jump through a dispatch
// table when it targets WebAssembly, so a loop testing bytes one by one costs
// several nanoseconds per byte; these test or transform eight bytes with a
// few arithmetic operations and no branch. See "Bit Twiddling Hacks",
// "Determine if a word has a zero byte" and "has a byte less than n": the
// results are exact as to whether some byte matches.

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// hasLess returns non-zero if some byte of x is less than n (n <= 128).
func hasLess(x uint64, n uint64) uint64 { return (x - ones*n) &^ x & highs }

// hasByte returns non-zero if some byte of x equals c.
func hasByte(x uint64, c uint64) uint64 {
	y := x ^ ones*c
	return (y - ones) &^ y & highs
}

// lowerWord lower-cases the ASCII upper-case letters among the bytes of x.
func lowerWord(x uint64) uint64 {
	h := x &^ highs                    // each byte's low 7 bits
	gtZ := h + ones*(0x7f-'Z')         // high bit set where h > 'Z'
	geA := h + ones*(0x80-'A')         // high bit set where h >= 'A'
	upper := (geA &^ gtZ) &^ x & highs // 'A' <= byte <= 'Z'
	return x | upper>>2                // set 0x20 there
}

// badTargetWord returns non-zero if some byte of x cannot appear in a
// request target: a control character, space, DEL or '#'.
func badTargetWord(x uint64) uint64 {
	return hasLess(x, 0x21) | hasByte(x, 0x7f) | hasByte(x, '#')
}

// badHostWord returns non-zero if some byte of x cannot appear in a key
// host: what a target refuses, and '/', '?' and '@'.
func badHostWord(x uint64) uint64 {
	return badTargetWord(x) | hasByte(x, '/') | hasByte(x, '?') | hasByte(x, '@')
}

// validTargetGo reports whether t starts with '/' and holds no control
// character, space, DEL or '#' (the host refuses such a target). It is
// validTarget where the assembly of fast_wasm.s is not used.
func validTargetGo(t []byte) bool {
	if len(t) == 0 || t[0] != '/' {
		return false
	}
	if len(t) < 8 {
		w := [8]byte{'/', '/', '/', '/', '/', '/', '/', '/'}
		copy(w[:], t)
		return badTargetWord(load64(w[:])) == 0
	}
	var bad uint64
	for i := 0; i+8 <= len(t); i += 8 {
		bad |= badTargetWord(load64(t[i:]))
	}
	// The last, possibly overlapping, word covers the tail.
	return bad|badTargetWord(load64(t[len(t)-8:])) == 0
}

// lowerHostGo lower-cases b in place and reports whether it holds only
// bytes a key host may hold. It is lowerHost where the assembly of
// fast_wasm.s is not used.
func lowerHostGo(b []byte) bool {
	if len(b) < 8 {
		w := [8]byte{'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'}
		copy(w[:], b)
		x := load64(w[:])
		store64(w[:], lowerWord(x))
		copy(b, w[:])
		return badHostWord(x) == 0
	}
	var bad uint64
	for i := 0; ; i += 8 {
		if i+8 > len(b) {
			i = len(b) - 8 // the last word overlaps: lower-casing twice is harmless
		}
		x := load64(b[i:])
		del, hash, slash, qm, at := x^(ones*0x7f), x^(ones*'#'), x^(ones*'/'), x^(ones*'?'), x^(ones*'@')
		bad |= (x-ones*0x21)&^x | (del-ones)&^del | (hash-ones)&^hash | (slash-ones)&^slash | (qm-ones)&^qm | (at-ones)&^at
		h := x &^ highs
		upper := (h + ones*(0x80-'A')) &^ (h + ones*(0x7f-'Z')) &^ x & highs
		store64(b[i:], x|upper>>2)
		if i+8 == len(b) {
			return bad&highs == 0
		}
	}
}

// AppendLower appends b to dst with ASCII upper-case letters lower-cased
// (other bytes unchanged) and returns the extended buffer. It works eight
// bytes at a time and does not allocate when dst has room.
func AppendLower(dst, b []byte) []byte {
	start := len(dst)
	dst = append(dst, b...)
	out := dst[start:]
	if len(out) < 8 {
		for i, c := range out {
			out[i] = lower(c)
		}
		return dst
	}
	for i := 0; i+8 <= len(out); i += 8 {
		store64(out[i:], lowerWord(load64(out[i:])))
	}
	tail := out[len(out)-8:]
	store64(tail, lowerWord(load64(tail)))
	return dst
}

// Hash64 returns a 64-bit hash of b, continuing from h (a seed, or the hash
// of the previous piece: Hash64(Hash64(0, host), path)). It reads eight bytes
// at a time and does not allocate. It is fast and well mixed, for sketches
// and tables inside a policy; it is not a cryptographic hash.
func Hash64(h uint64, b []byte) uint64 {
	const m = 0x9e3779b97f4a7c15 // 2^64 / golden ratio
	h ^= uint64(len(b)) * m
	for len(b) >= 8 {
		h = (h ^ load64(b)) * m
		h ^= h >> 32
		b = b[8:]
	}
	if len(b) > 0 {
		var w [8]byte
		copy(w[:], b)
		h = (h ^ load64(w[:])) * m
		h ^= h >> 32
	}
	// MurmurHash3's 64-bit finaliser.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// firstByte returns the index of the lowest byte flagged in m, a result of
// hasByte or hasLess (whose lowest flag is always exact).
func firstByte(m uint64) int { return bits.TrailingZeros64(m) >> 3 }

// nextParam returns the end of the parameter at the start of q (the index
// of the first '&', or len(q)) and the index of its first '=' (or -1). It
// scans eight bytes at a time without calling anything.
func nextParam(q []byte) (end, eq int) {
	end, eq = len(q), -1
	i := 0
	for ; i+8 <= len(q); i += 8 {
		x := load64(q[i:])
		amp, equ := hasByte(x, '&'), hasByte(x, '=')
		if eq < 0 && equ != 0 {
			eq = i + firstByte(equ)
		}
		if amp != 0 {
			end = i + firstByte(amp)
			if eq >= end {
				eq = -1
			}
			return end, eq
		}
	}
	if i == len(q) {
		return end, eq
	}
	// The last 1 to 7 bytes: load the final word of q, or a padded copy when
	// q is shorter than a word, and drop the bytes already scanned.
	var x uint64
	if len(q) >= 8 {
		shift := 8 - (len(q) - i)
		x = load64(q[len(q)-8:]) >> (8 * shift)
	} else {
		var w [8]byte
		copy(w[:], q)
		x = load64(w[:]) | ^uint64(0)<<(8*len(q)) // pad with 0xff: neither '&' nor '='
	}
	amp, equ := hasByte(x, '&'), hasByte(x, '=')
	if eq < 0 && equ != 0 {
		eq = i + firstByte(equ)
	}
	if amp != 0 {
		end = i + firstByte(amp)
		if eq >= end {
			eq = -1
		}
	}
	return end, eq
}
