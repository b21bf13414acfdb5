package gateway

import (
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// kvMetrics are one namespace's series, labelled namespace="NAME":
//
//	flowcache_kv_hits_total, flowcache_kv_misses_total   reads
//	flowcache_kv_writes_total, flowcache_kv_deletes_total
//	flowcache_kv_leases_total                            leases given
//	flowcache_kv_entries, flowcache_kv_bytes             values in this node's L1
//
// entries and bytes follow what this node stores in and removes from its
// L1 (writes, reads from L2, deletes, other nodes' writes); values that
// freecache evicts or expires, or that a purge removes, are not
// subtracted until they are written or deleted again.
type kvMetrics struct {
	hits, misses, writes, deletes, leases *metrics.Counter
	entries, bytes                        atomic.Int64
}

func newKVMetrics(set *metrics.Set, ns string) *kvMetrics {
	l := `{namespace=` + strconv.Quote(ns) + `}`
	m := &kvMetrics{
		hits:    set.NewCounter("flowcache_kv_hits_total" + l),
		misses:  set.NewCounter("flowcache_kv_misses_total" + l),
		writes:  set.NewCounter("flowcache_kv_writes_total" + l),
		deletes: set.NewCounter("flowcache_kv_deletes_total" + l),
		leases:  set.NewCounter("flowcache_kv_leases_total" + l),
	}
	set.NewGauge("flowcache_kv_entries"+l, func() float64 { return float64(max(0, m.entries.Load())) })
	set.NewGauge("flowcache_kv_bytes"+l, func() float64 { return float64(max(0, m.bytes.Load())) })
	return m
}

// stored accounts a value of n bytes stored in L1 over one of old bytes
// (-1: none).
func (m *kvMetrics) stored(old, n int) {
	if old < 0 {
		m.entries.Add(1)
		old = 0
	}
	m.bytes.Add(int64(n - old))
}

// removed accounts a value of old bytes (-1: unknown) removed from L1.
func (m *kvMetrics) removed(old int) {
	m.entries.Add(-1)
	m.bytes.Add(-int64(max(old, 0)))
}

// KVNamespaceStats is one look-aside namespace as the admin page shows it.
type KVNamespaceStats struct {
	Name    string  `json:"name"`
	Tier    string  `json:"tier"`
	Entries int64   `json:"entries"`
	Bytes   int64   `json:"bytes"`
	Hits    uint64  `json:"hits"`
	Misses  uint64  `json:"misses"`
	Ratio   float64 `json:"hit_ratio"`
	Writes  uint64  `json:"writes"`
	Deletes uint64  `json:"deletes"`
}

// KVStats returns the look-aside namespaces, sorted by name; nil when the
// API is off.
func (g *Gateway) KVStats() []KVNamespaceStats {
	if g.kv == nil {
		return nil
	}
	out := make([]KVNamespaceStats, 0, len(g.kv.ns))
	for _, ns := range g.kv.ns {
		st := KVNamespaceStats{
			Name: ns.name, Entries: max(0, ns.m.entries.Load()), Bytes: max(0, ns.m.bytes.Load()),
			Hits: ns.m.hits.Get(), Misses: ns.m.misses.Get(), Writes: ns.m.writes.Get(), Deletes: ns.m.deletes.Get(),
		}
		switch {
		case ns.l1 && ns.l2:
			st.Tier = "both"
		case ns.l2:
			st.Tier = "l2"
		default:
			st.Tier = "l1"
		}
		if n := st.Hits + st.Misses; n > 0 {
			st.Ratio = float64(st.Hits) / float64(n)
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b KVNamespaceStats) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}
