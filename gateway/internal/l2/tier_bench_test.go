package l2

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/flowcache/flowcache/gateway/internal/l2/redistest"
)

// BenchmarkTier_GetHit measures an L2 hit on a loopback redis-server: one
// round trip plus decoding. Compare with BenchmarkRedisGetRaw, the same
// GET through go-redis without the tier.
func BenchmarkTier_GetHit(b *testing.B) {
	r := redistest.Start(b)
	for _, size := range []int{1 << 10, 16 << 10, 128 << 10} {
		for _, codec := range []string{CompressionNone, CompressionS2, CompressionZstd} {
			b.Run(strconv.Itoa(size)+"/"+codec, func(b *testing.B) {
				tr := newTier(b, ModeStandalone, []string{r.Addr}, func(c *Config) {
					c.KeyPrefix = "bench-" + codec + strconv.Itoa(size) + ":"
					c.Compression = codec
					// The machine running benchmarks is busy: a timeout
					// would open the breaker and end the run.
					c.ReadTimeout, c.WriteTimeout = 5*time.Second, 5*time.Second
				}, Deps{})
				setSync(b, tr, "k", compressible(size), time.Hour, Index{})
				ctx := context.Background()
				key := []byte("k")
				b.Run("serial", func(b *testing.B) {
					buf := make([]byte, 0, size)
					b.ReportAllocs()
					b.SetBytes(int64(size))
					for b.Loop() {
						var err error
						if buf, err = tr.Get(ctx, key, buf[:0]); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run("parallel", func(b *testing.B) {
					b.ReportAllocs()
					b.SetBytes(int64(size))
					b.RunParallel(func(pb *testing.PB) {
						buf := make([]byte, 0, size)
						for pb.Next() {
							var err error
							if buf, err = tr.Get(ctx, key, buf[:0]); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
				// 64 callers at once, as a gateway under load has: the
				// reads share pipelines (getbatch.go).
				b.Run("callers64", func(b *testing.B) {
					b.ReportAllocs()
					b.SetBytes(int64(size))
					b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
					b.RunParallel(func(pb *testing.PB) {
						buf := make([]byte, 0, size)
						for pb.Next() {
							var err error
							if buf, err = tr.Get(ctx, key, buf[:0]); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			})
		}
	}
}

// BenchmarkRedisGetRaw is the baseline for BenchmarkTier_GetHit: a bare
// go-redis GET of the same stored value.
func BenchmarkRedisGetRaw(b *testing.B) {
	r := redistest.Start(b)
	tr := newTier(b, ModeStandalone, []string{r.Addr}, func(c *Config) { c.Compression = CompressionNone }, Deps{})
	setSync(b, tr, "k", compressible(1<<10), time.Hour, Index{})
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tr.client.Get(ctx, "fc:e:{}0:k").Bytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
	// 64 callers, one GET per round trip each: how Tier.Get read before
	// its reads were pipelined.
	b.Run("callers64", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := tr.client.Get(ctx, "fc:e:{}0:k").Bytes(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkTier_GetOpen is a Get with the breaker open: what a request pays
// for L2 while Redis is down.
func BenchmarkTier_GetOpen(b *testing.B) {
	r := redistest.Start(b)
	// A cooldown longer than the benchmark keeps the prober from closing
	// the breaker again.
	tr := newTier(b, ModeStandalone, []string{r.Addr}, func(c *Config) { c.BreakerCooldown = time.Hour }, Deps{})
	tr.br.trip()
	ctx := context.Background()
	key := []byte("k")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.Get(ctx, key, nil); err != ErrUnavailable { //nolint:errorlint // the bare sentinel is the contract here
			b.Fatal(err)
		}
	}
}

// BenchmarkTier_SetEnqueue measures Set as a request sees it: copying the
// key, value and index into a pooled item and a non-blocking send. A
// goroutine stands in for the writers and only releases the items, so the
// queue never fills; "full" measures a Set that finds the queue full.
func BenchmarkTier_SetEnqueue(b *testing.B) {
	value := []byte(compressible(4 << 10))
	ix := Index{Tags: []byte("a b c"), Host: []byte("example.com"), Path: []byte("/api/users/1")}
	key := []byte("example.com/api/users/1")
	newQueueTier := func(size int, drain bool) *Tier {
		tr := &Tier{cfg: DefaultConfig(), br: newBreaker(5), queue: make(chan *writeItem, size)}
		if drain {
			done := make(chan struct{})
			go func() {
				defer close(done)
				for it := range tr.queue {
					it.release()
				}
			}()
			b.Cleanup(func() { close(tr.queue); <-done })
		}
		return tr
	}
	b.Run("accepted", func(b *testing.B) {
		// Set, then take the item off the queue as a writer would: the
		// cost of an accepted write on the request path, plus one receive.
		tr := newQueueTier(1, false)
		b.ReportAllocs()
		for b.Loop() {
			if !tr.Set(key, value, time.Minute, ix) {
				b.Fatal("Set dropped")
			}
			(<-tr.queue).release()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		// Writers that only release items cannot keep up with 2 cores of
		// Set: most of these find the queue full (drops/op).
		tr := newQueueTier(4096, true)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				tr.Set(key, value, time.Minute, ix)
			}
		})
		b.ReportMetric(float64(tr.st.dropFull.Load())/float64(b.N), "drops/op")
	})
	b.Run("full", func(b *testing.B) {
		tr := newQueueTier(1, false)
		tr.Set(key, value, time.Minute, ix)
		b.ReportAllocs()
		for b.Loop() {
			if tr.Set(key, value, time.Minute, ix) {
				b.Fatal("Set on a full queue was accepted")
			}
		}
	})
}

// BenchmarkTier_WriteThroughput measures how many writes per second the
// writers get into Redis (batched pipelines, with indexes), by waiting for
// every queued write to land.
func BenchmarkTier_WriteThroughput(b *testing.B) {
	r := redistest.Start(b)
	for _, indexed := range []bool{false, true} {
		name := "plain"
		if indexed {
			name = "tags+host"
		}
		b.Run(name, func(b *testing.B) {
			tr := newTier(b, ModeStandalone, []string{r.Addr}, func(c *Config) {
				c.KeyPrefix = "bw" + name + ":"
				c.WriteQueue = 1 << 16
			}, Deps{})
			value := []byte(compressible(4 << 10))
			var ix Index
			if indexed {
				ix = Index{Tags: []byte("a b c"), Host: []byte("example.com"), Path: []byte("/api/users/1")}
			}
			key := []byte("key")
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				for !tr.Set(key, value, time.Minute, ix) {
					// Queue full: let the writers catch up (back-pressure in a
					// benchmark, not a wait for a condition).
					time.Sleep(100 * time.Microsecond)
				}
				n++
			}
			waitFor(b, "writes", func() bool { return tr.Stats().Written == uint64(n) })
		})
	}
}

// BenchmarkTier_EpochCheck is what a reconnection costs with the epoch
// check: one pipelined SETNX+MGET. Flushing instead costs the whole L1
// (see doc.go).
func BenchmarkTier_EpochCheck(b *testing.B) {
	r := redistest.Start(b)
	tr := newTier(b, ModeStandalone, []string{r.Addr}, nil, Deps{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.loadMeta(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
