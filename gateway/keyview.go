package gateway

import (
	"sync"

	"github.com/flowcache/flowcache/policy"
)

// keyView is what deriving a cache key takes: the route, the policy
// version leased for it, the request as the policy sees it, the key the
// policy made, and the key space and primary key that follow from them.
//
// An exchange embeds the keyView of its own request. Purges and
// invalidations, which derive the keys of other URLs (a PURGE's target, a
// POST's Location, every route's key space for a message from another
// node), take a keyView of their own from acquireKeyView, so that no
// request's exchange is rewritten to stand for another URL.
type keyView struct {
	g     *Gateway
	rt    *route
	pol   policy.Policy
	req   policy.Request
	key   policy.Key
	space []byte // key space: route name [\x01 policy version namespace]
	pkey  []byte // primary key: space \0 host \0 target
}

var keyViewPool sync.Pool

// acquireKeyView returns an empty keyView of g; releaseKeyView gives it
// back.
func acquireKeyView(g *Gateway) *keyView {
	k, _ := keyViewPool.Get().(*keyView)
	if k == nil {
		k = new(keyView)
	}
	k.g = g
	return k
}

func releaseKeyView(k *keyView) {
	k.reset()
	keyViewPool.Put(k)
}

// reset releases the policy lease and empties the view, keeping its
// buffers.
func (x *keyView) reset() {
	x.releasePolicy()
	x.g, x.rt = nil, nil
	x.req.Reset()
	x.key.Reset()
	x.space, x.pkey = x.space[:0], x.pkey[:0]
}

// policyKey runs the route's policy Key; an error selects the default
// policy for this request. It sets x.space, the key space of the policy
// that made the key.
func (x *keyView) policyKey() {
	x.setPolicy(x.g.policyForRequest(x.rt, x.req.Host, x.req.Path)) // a canary picks by host and path
	x.key.Reset()
	if err := x.pol.Key(&x.req, &x.key); err != nil {
		x.rt.m.policyFallbacks.Inc()
		x.setPolicy(&x.rt.def)
		x.key.Reset()
		// The default policy never fails; a failure would leave Bypass
		// set or the key empty, both handled as a bypass below.
		if err := x.pol.Key(&x.req, &x.key); err != nil {
			x.key.Bypass = true
		}
	}
	if !x.key.Bypass && len(x.key.Target) == 0 {
		x.key.Bypass = true
	}
}

// setPolicy makes p the exchange's policy, releasing the lease it held,
// and sets x.space: the route's name, followed by \x01 and the lease's
// namespace when p is a version of a policy (see PolicyLease). Entries of
// the native default policy (and of fallbacks to it) live in the route's
// own space.
func (x *keyView) setPolicy(p policy.Policy) {
	if l, ok := x.pol.(PolicyLease); ok {
		l.Release()
	}
	x.pol = p
	x.space = append(x.space[:0], x.rt.name...)
	if l, ok := p.(PolicyLease); ok {
		x.space = append(x.space, 1)
		x.space = append(x.space, l.Namespace()...)
	}
}

// releasePolicy drops the exchange's lease on its policy, if any.
func (x *keyView) releasePolicy() {
	if l, ok := x.pol.(PolicyLease); ok {
		l.Release()
	}
	x.pol = nil
}

// urlKey derives x.pkey for a GET of host, path and query on rt with the
// route's policy, as a cache lookup would. from, when not nil, gives the
// scheme and the header fields the policy sees, less Cookie and
// Authorization: the URL's record (and with it every variant) does not
// depend on them. It reports false if the policy bypasses the URL.
func (x *keyView) urlKey(rt *route, from *policy.Request, host, path, query []byte) bool {
	x.rt = rt
	x.req.Method = methodGET
	x.req.Host, x.req.Path, x.req.Query, x.req.Route = host, path, query, rt.name
	x.req.Headers = x.req.Headers[:0]
	if from != nil {
		x.req.Scheme = from.Scheme
		for _, h := range from.Headers {
			if equalFold(h.Name, "cookie") || equalFold(h.Name, "authorization") {
				continue
			}
			x.req.Headers = append(x.req.Headers, h)
		}
	}
	x.policyKey()
	if x.key.Bypass {
		return false
	}
	x.pkey = appendPrimaryKey(x.pkey[:0], x.space, &x.key)
	return true
}

var methodGET = []byte("GET")
