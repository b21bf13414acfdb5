package gateway

import "testing"

// BenchmarkGateway_SizedHitChunked is BenchmarkGateway_SizedHit with the
// large-object tier off: bodies above 256 KiB are chunked in freecache.
func BenchmarkGateway_SizedHitChunked(b *testing.B) {
	benchSizedHit(b, func(cfg *Config) { cfg.Cache.LargeMinSize = cfg.Cache.MaxObjectSize + 1 })
}
