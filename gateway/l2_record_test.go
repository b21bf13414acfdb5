package gateway_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
	"github.com/flowcache/flowcache/gateway/internal/entry"
)

// TestL2_HostileRecord: a record in Redis that the gateway could not have
// written (a huge body length, a header that would inject another, a
// status out of range, a broken variant record, garbage) is a miss for
// the node that reads it, counted, and answered from the origin: never a
// panic, a 5xx or an injected header.
func TestL2_HostileRecord(t *testing.T) {
	t.Parallel()
	r := gatewaytest.StartRedis(t)
	o := startVersionedOrigin(t)
	cfg := l2Config(o.URL, "standalone", "hostile:", []string{r.Addr})
	cfg.Redis.Compression = "none" // the test edits stored values in place
	a := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	b := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	waitL2Ready(t, a)
	waitL2Ready(t, b)
	raw := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = raw.Close() }) // the test is over
	ctx := context.Background()

	entryWith := func(mutate func(e *entry.Entry)) func(rec []byte) []byte {
		return func(rec []byte) []byte {
			var e entry.Entry
			if err := entry.Decode(rec[10:], &e); err != nil {
				t.Fatalf("stored entry: %v", err)
			}
			mutate(&e)
			return e.AppendEncode(append([]byte(nil), rec[:10]...))
		}
	}
	tests := []struct {
		name   string
		mutate func(rec []byte) []byte
	}{
		{"body_len_huge", entryWith(func(e *entry.Entry) { e.BodyLen, e.Flags = 1<<40, e.Flags|entry.FlagBodyChunked })},
		{"name_injection", entryWith(func(e *entry.Entry) {
			e.Header = entry.AppendHeader(e.Header, []byte("X-Evil\r\nSet-Cookie"), []byte("a=b"))
		})},
		{"value_injection", entryWith(func(e *entry.Entry) {
			e.Header = entry.AppendHeader(e.Header, []byte("X-Evil"), []byte("a\r\nSet-Cookie: a=b"))
		})},
		{"status_999", entryWith(func(e *entry.Entry) { e.Status = 999 })},
		{"status_0", entryWith(func(e *entry.Entry) { e.Status = 0 })},
		{"unknown_flags", func(rec []byte) []byte { rec[1] |= 0x80; return rec }},
		{"variant_count", func(rec []byte) []byte {
			v := append(append([]byte(nil), 'V', 0), rec[2:10]...)
			v = binary.BigEndian.AppendUint16(v, 1)
			v = append(v, 'a')
			return binary.BigEndian.AppendUint16(v, 60000) // 60000 variants, none listed
		}},
		{"garbage", func(rec []byte) []byte { return append(rec[:10:10], "garbage"...) }},
	}
	for i, tc := range tests {
		path := "/hostile/" + tc.name
		if resp := a.Do(t, "GET", path); resp.Status != 200 {
			t.Fatalf("A GET %s = %d", path, resp.Status)
		}
		waitL2Writes(t, a, float64(i+1))
		keys, _, err := raw.Scan(ctx, 0, "hostile:e:*"+path, 1000).Result()
		if err != nil || len(keys) != 1 {
			t.Fatalf("SCAN for %s = %q, %v; want one key", path, keys, err)
		}
		v, err := raw.Get(ctx, keys[0]).Bytes()
		if err != nil || len(v) < 15 || v[0] != 0x20 {
			t.Fatalf("GET %s = %x, %v; want an uncompressed envelope", keys[0], v, err)
		}
		forged := append(v[:5:5], tc.mutate(append([]byte(nil), v[5:]...))...)
		if err := raw.Set(ctx, keys[0], forged, redis.KeepTTL).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
		before := b.Metric(t, "flowcache_l2_invalid_records_total")
		resp := b.Do(t, "GET", path)
		if resp.Status != 200 || resp.Get("X-Cache") == "HIT-L2" || resp.Get("Set-Cookie") != "" || resp.Get("X-Evil") != "" {
			t.Errorf("%s: B GET = %d, X-Cache %q, Set-Cookie %q, X-Evil %q; want 200 from the origin, no injected field",
				tc.name, resp.Status, resp.Get("X-Cache"), resp.Get("Set-Cookie"), resp.Get("X-Evil"))
		}
		// Counted at each read: the lookup, and its re-check in the flight.
		if after := b.Metric(t, "flowcache_l2_invalid_records_total"); after <= before {
			t.Errorf("%s: flowcache_l2_invalid_records_total %v -> %v, want it counted", tc.name, before, after)
		}
	}
}
