package gateway

import (
	"sync"
	"time"
)

// fanoutLimiter bounds how often this node publishes the invalidation of
// one URL after unsafe requests: at most once per fanoutInterval. A repeat
// within the interval still invalidates this node's L1 and L2 (RFC 9111,
// Section 4.4 asks that of the cache the request went through); only the
// message to the other nodes is suppressed. Without the bound, a client
// repeating POST /x makes every node of the cluster drop /x on every
// request.
//
// URLs are remembered by hash in a fixed table, so memory does not grow with
// the URLs clients choose; two URLs sharing a slot only make the limiter
// forget one of them, which lets a publish through (the safe side).
type fanoutLimiter struct {
	mu    sync.Mutex
	slots [fanoutSlots]fanoutSlot
}

type fanoutSlot struct {
	url  uint64 // invalLog.urlHash of the URL; 0 = empty
	last int64  // unix ns of the last publish
}

const (
	fanoutSlots    = 4096
	fanoutInterval = time.Second
)

// allow reports whether the URL hashed to url may be published at now, and
// if so records it.
func (l *fanoutLimiter) allow(url uint64, now time.Time) bool {
	t := now.UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := &l.slots[url%fanoutSlots]
	if s.url == url && t-s.last < int64(fanoutInterval) && t >= s.last {
		return false
	}
	s.url, s.last = url, t
	return true
}
