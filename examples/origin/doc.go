// Origin is the example upstream of the quick start and of the tests: a small
// HTTP server whose endpoints send the caching headers a cache in front of it
// must understand (max-age, s-maxage, stale-while-revalidate, no-store,
// private, no-cache with an ETag, Vary, Set-Cookie, Expires,
// CDN-Cache-Control, Surrogate-Control with Surrogate-Key), plus a slow
// endpoint, any status code, large bodies and a clock; /obj and /stats serve
// load tests (examples/e2ebench).
//
// Usage:
//
//	origin [-addr 127.0.0.1:9000] [-obj-delay 0s]
//
// GET / lists the endpoints. Every response carries X-Origin-Count, the
// number of requests this origin has answered for that path, so a client can
// tell a cached answer from a fresh one. Requests with a method other than
// GET or HEAD are answered 204 with Cache-Control: no-store.
package main
