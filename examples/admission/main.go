//go:build wasip1

// Command admission is a Flow Cache policy module that keeps one-hit wonders
// and large objects out of the bounded in-process L1, the eviction side of a
// cache policy: a response is admitted to L1 only when its key has been
// requested at least min_hits times recently and its body is known and at
// most max_object_size bytes. Objects not admitted still go to L2 (Redis),
// so a second request is still a hit there, and is promoted to L1 once it
// has proved popular.
//
// Popularity is a count-min sketch (TinyLFU's frequency estimator) kept in
// the module's memory: every Key call counts the request, Decide estimates
// its count. Counters are bytes, updated conservatively (only those at the
// minimum grow), and halved every reset_after requests so that yesterday's
// hits fade (aging). Each instance (about one per core) has its own sketch:
// the estimate is per instance and approximate, which admission tolerates.
//
// Configuration, all optional:
//
//	config = { min_hits = 2, max_object_size = 1048576, width = 8192, reset_after = 81920 }
//
// The key is the default one (lower-cased host, path, query); Cookie and
// Authorization requests bypass the cache.
//
// Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o admission.wasm ./examples/admission
package main

import (
	"errors"
	"math/bits"

	"github.com/flowcache/flowcache/wasm/sdk"
)

func init() {
	sdk.Register(sdk.Policy{
		Init:    configure,
		Headers: []string{"cookie", "authorization"},
		Key:     key,
		Decide:  decide,
	})
}

const depth = 4 // rows of the sketch

var (
	minHits    = uint8(2)
	maxSize    = int64(1 << 20)
	width      = uint64(8192) // counters per row, a power of two
	resetAfter = uint64(81920)

	sketch  []uint8                // depth rows of width counters
	added   uint64                 // increments since the last halving
	scratch = make([]byte, 0, 256) // lower-cased host, for hashing
)

func configure(b []byte) error {
	c, err := sdk.ParseJSON(b)
	if err != nil {
		return err
	}
	if c.Kind != sdk.JSONObject {
		return errors.New("config: want an object")
	}
	var errs []error
	for i, k := range c.Keys {
		v := &c.Values[i]
		n := int64(v.Num)
		if v.Kind != sdk.JSONNumber || float64(n) != v.Num || n < 1 {
			errs = append(errs, errors.New(k+": want a positive integer"))
			continue
		}
		switch k {
		case "min_hits":
			if n > 255 {
				errs = append(errs, errors.New("min_hits: at most 255"))
			}
			minHits = uint8(min(n, 255))
		case "max_object_size":
			maxSize = n
		case "width":
			if n&(n-1) != 0 || n > 1<<22 {
				errs = append(errs, errors.New("width: want a power of two up to 4194304"))
				continue
			}
			width = uint64(n)
		case "reset_after":
			resetAfter = uint64(n)
		default:
			errs = append(errs, errors.New(k+": unknown key"))
		}
	}
	sketch = make([]uint8, depth*width)
	return errors.Join(errs...)
}

func key(r *sdk.Request, k *sdk.KeyBuilder) error {
	if r.Header("cookie") != nil || r.Header("authorization") != nil {
		k.Bypass()
		return nil
	}
	k.Default(r)
	touch(hash(r))
	return nil
}

func decide(r *sdk.Response, d *sdk.Decision) error {
	if !d.Store || !d.Admit {
		return nil
	}
	size := r.BodySize()
	d.Admit = size >= 0 && size <= maxSize && estimate(hash(r.Request())) >= minHits
	return nil
}

// hash identifies a request as its key does: lower-cased host, path, query.
func hash(r *sdk.Request) uint64 {
	scratch = sdk.AppendLower(scratch[:0], r.Host())
	h := sdk.Hash64(0, scratch)
	h = sdk.Hash64(h, r.Path())
	return sdk.Hash64(h, r.Query())
}

// slot returns the index of h's counter in row i: double hashing from the
// two halves of h.
func slot(h uint64, i uint64) uint64 {
	h1, h2 := h, bits.RotateLeft64(h, 32)|1
	return i*width + (h1+i*h2)&(width-1)
}

// estimate returns the smallest of h's counters.
func estimate(h uint64) uint8 {
	m := uint8(255)
	for i := range uint64(depth) {
		m = min(m, sketch[slot(h, i)])
	}
	return m
}

// touch counts one request for h: the counters at the minimum grow
// (conservative update), and every resetAfter requests all are halved.
func touch(h uint64) {
	m := estimate(h)
	if m < 255 {
		for i := range uint64(depth) {
			if s := slot(h, i); sketch[s] == m {
				sketch[s] = m + 1
			}
		}
	}
	if added++; added >= resetAfter {
		added = 0
		for i := range sketch {
			sketch[i] >>= 1
		}
	}
}

func main() {}
