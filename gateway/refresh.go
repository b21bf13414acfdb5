package gateway

import (
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/l2"
)

// Refresh after a soft purge: POST /purge {..., "soft": true, "refresh":
// true} marks the entries stale as any soft purge does, then revalidates
// the hot ones in the background, so that the next clients get fresh
// answers without a stampede on the origin. The hot entries are the purged
// URLs this node's L1 still holds, the most recently stored first, at most
// maxRefreshURLs. They are requested through the data plane as a warming
// job (warm.go) with refreshConcurrency requests in flight: a soft-purged
// entry is revalidated as for a client (a conditional request; a 304
// refreshes it), coalesced with clients asking for it at the same time,
// and written to L2 for the other nodes.

const (
	maxRefreshURLs     = 10000
	refreshConcurrency = 4
)

// refreshAfterPurge starts the refresh of plan (a soft purge just applied)
// and returns body, the purge's JSON answer, with "refresh": {"id": job,
// "urls": N} added (no id when there is nothing to refresh).
func (g *Gateway) refreshAfterPurge(ctx *fasthttp.RequestCtx, plan *purgePlan, body []byte) []byte {
	j := &warmJob{reason: "refresh", concurrency: refreshConcurrency}
	j.urls = append(j.urls, plan.urls[:min(len(plan.urls), maxRefreshURLs)]...)
	routes := g.st.Load().router
	for i := range plan.invs {
		for _, u := range g.inv.ix.hotURLs(&plan.invs[i], maxRefreshURLs-len(j.urls)) {
			path, query, _ := strings.Cut(u[1], "?")
			t := purgeURLTarget{scheme: schemeHTTP, host: []byte(u[0]), path: []byte(path), query: []byte(query)}
			if t.rt = routes.matchNormal(t.host, t.path); t.rt != nil {
				j.urls = append(j.urls, t)
			}
		}
	}
	out := strings.TrimSuffix(string(body), "}\n") + `,"refresh":{`
	if len(j.urls) > 0 {
		if err := g.launchWarm(j); err != nil {
			g.log.LogAttrs(ctx, warnLevel, "refresh_not_started", errAttr(err))
			return append([]byte(out+`"urls":0,"error":`+strconv.Quote(err.Error())), "}}\n"...)
		}
		out += `"id":"` + j.id + `",`
	}
	return append([]byte(out+`"urls":`+strconv.Itoa(len(j.urls))), "}}\n"...)
}

// hotURLs returns the URLs (key host, key target) of the L1 index that inv
// names, newest first, at most limit.
func (ix *l1Index) hotURLs(inv *l2.Invalidation, limit int) [][2]string {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var out [][2]string
	for m := ix.tail; m != nil && len(out) < limit; m = m.prev {
		if ixMatches(m, inv) {
			out = append(out, [2]string{m.host.name, m.target})
		}
	}
	return out
}

func ixMatches(m *ixMember, inv *l2.Invalidation) bool {
	switch inv.Kind {
	case l2.KindAll:
		return true
	case l2.KindURL:
		return m.host.name == inv.Host && m.target == inv.Path
	case l2.KindPrefix:
		return m.host.name == inv.Host && strings.HasPrefix(m.target, inv.Path)
	case l2.KindTag:
		for _, ts := range m.tags {
			for _, t := range inv.Tags {
				if ts.name == t {
					return true
				}
			}
		}
	}
	return false
}
