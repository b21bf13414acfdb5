// Package gateway is the caching reverse proxy: the fasthttp server, routing,
// the cache tiers (L1 in-process, L2 Redis), RFC 9111 freshness and
// validation, request coalescing, upstream connections, purge and
// invalidation, the admin API and metrics.
//
// File names follow the request path: server.go accepts and routes,
// lookup.go finds a cached answer, coalesce.go joins concurrent misses,
// upstream.go fetches, store.go keeps, purge.go forgets.
package gateway
