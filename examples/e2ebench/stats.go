package main

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// histogram records latencies in log-linear buckets: 32 sub-buckets per
// power of two of microseconds, so a percentile is within 1/32 (3%) of the
// true value, whatever the run's length, in a fixed 8 KiB. Not safe for
// concurrent use: each connection keeps its own and they are merged.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
}

const (
	histSub     = 32 // sub-buckets per power of two
	histSubBits = 5
	histBuckets = (64 - histSubBits + 1) * histSub
)

// bucketOf returns the bucket of a latency of us microseconds.
func bucketOf(us uint64) int {
	if us < histSub {
		return int(us)
	}
	exp := bits.Len64(us) - histSubBits - 1 // us >> exp is in [histSub, 2*histSub)
	return (exp+1)*histSub + int(us>>uint(exp)) - histSub
}

// bucketLow returns the smallest latency (µs) of bucket b.
func bucketLow(b int) uint64 {
	if b < histSub {
		return uint64(b)
	}
	exp := b/histSub - 1
	return uint64(b%histSub+histSub) << uint(exp)
}

// record adds one latency.
func (h *histogram) record(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h.counts[bucketOf(uint64(us))]++
	h.n++
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// percentile returns the latency (µs, the low edge of its bucket) below
// which a fraction p of the recorded latencies lie; 0 when empty.
func (h *histogram) percentile(p float64) uint64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			return bucketLow(b)
		}
	}
	return bucketLow(histBuckets - 1)
}

// median returns the median of xs (the mean of the middle two for an even
// count); NaN when xs is empty. xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// zipf draws object ids 1..n with probability proportional to 1/rank^s
// (any s > 0, unlike math/rand's Zipf, which needs s > 1), ranks scattered
// over the ids so that the hot objects are not 1, 2, 3...
type zipf struct {
	cdf []float64
}

// newZipf builds the cumulative distribution of n ranks with exponent s.
func newZipf(n int, s float64) *zipf {
	cdf := make([]float64, n)
	var sum float64
	for k := 1; k <= n; k++ {
		sum += 1 / math.Pow(float64(k), s)
	}
	var acc float64
	for k := 1; k <= n; k++ {
		acc += 1 / math.Pow(float64(k), s) / sum
		cdf[k-1] = acc
	}
	cdf[n-1] = 1
	return &zipf{cdf: cdf}
}

// rank returns the 1-based rank for a uniform u in [0, 1).
func (z *zipf) rank(u float64) int {
	i, _ := slices.BinarySearch(z.cdf, u)
	return min(i, len(z.cdf)-1) + 1
}

// id maps a rank to an object id in 1..n (a bijection when n is not a
// multiple of 7919).
func (z *zipf) id(rank int) int {
	n := len(z.cdf)
	return (rank*7919)%n + 1
}
