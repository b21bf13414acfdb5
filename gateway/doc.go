// Package gateway is the caching reverse proxy: the fasthttp server, routing,
// the cache tiers (L1 in-process, L2 Redis), RFC 9111 freshness and
// validation, request coalescing, upstream connections, purge and
// invalidation, the admin API and metrics.
//
// File names follow the request path:
//
//   - server.go accepts, checks framing, recovers panics and dispatches;
//   - host.go validates the Host and brings host and path to the one
//     normal form that routing, the key and the upstream request share;
//     client.go says who the client is (trusted_proxies);
//   - router.go matches host and path prefix to a route;
//   - lookup.go derives the policy key and finds a stored answer (l1.go is
//     the in-process tier: freecache, and for large bodies the immutable
//     records of package internal/blob, served without a copy; l2.go the
//     Redis tier of package internal/l2 behind a small seam, and an L2 hit
//     is promoted to L1);
//   - respond.go writes a stored answer with Age, X-Cache and Cache-Status;
//   - coalesce.go joins concurrent misses for one key;
//   - upstream.go talks to the route's targets (round-robin, passive
//     health, hop-by-hop and forwarding headers);
//   - fetch.go is the miss path: coalescing, the upstream request,
//     stale-if-error; revalidate.go refreshes a stale entry (a 304, or in
//     the background under stale-while-revalidate); relay.go decides
//     (policy.Default, then the route's policy) and answers the client
//     from the upstream response, streaming what is too large to store;
//     store.go writes entries and variant records to the tiers, in the
//     layout record.go describes;
//   - forward.go proxies what the cache does not take part in;
//   - purge.go forgets: PURGE (URL, soft, Surrogate-Key) and invalidation
//     after unsafe methods; purge_admin.go POST /purge (tags, prefix, all);
//     invalidate.go applies purges to L1 (its tag/prefix index, soft
//     purge-all) for this node and for those other nodes publish through
//     Redis pub/sub;
//   - admin.go and metrics.go serve /metrics, /healthz and /readyz
//     (promtext.go adds HELP and TYPE to every family; observe.go times
//     each request by route and outcome), and
//     admin.go checks every admin request (token or loopback, then the
//     same-origin and JSON rule of state changes, before the body);
//   - the operator console on the admin listener: accesslog.go writes the
//     access log, audit.go records every change (GET /audit), hotkeys.go
//     ranks the hottest URLs (GET /cache/hot), inspect.go answers what is
//     cached for a URL (GET /cache/lookup), session.go logs browsers in,
//     pprof.go serves /debug/pprof;
//   - policyadmin.go serves the policy API (/policies: upload, list,
//     rollback, delete) over a plugins.Store, policyrollout.go its rollouts
//     (shadow, canary, promote, discard) and the per-request choice of a
//     canary's side, policysync.go shares every change through Redis, and
//     reload.go POST /reload (the routes and policies, swapped as one value);
//   - errors.go maps every error to one HTTP answer.
//
// # Keys and records
//
// A URL's record lives at "space \x00 host \x00 target" (the policy key),
// where space is the route's name, followed by \x01 and the policy
// version's namespace when a WebAssembly policy version keyed it
// (PolicyLease): a new version (or a rollback) starts with no entries.
// It is the stored entry itself, or, when the response varies (Vary) or
// the policy set a Key.Variant, a variant record listing the Vary field
// names and the variants stored; each variant is an entry under the
// record's key, its generation and the request's normalised Vary values.
// PURGE of a URL therefore finds and removes every variant. L2 holds each
// entry whole; in L1, bodies larger than a freecache entry (1/1024 of
// l1_size) are stored in chunks (record.go).
//
// Design choices and the measurements behind them (L1 and L2, coalescing,
// purge, policies, security and failure rules): see RATIONALE.md at the
// repository root.
package gateway
