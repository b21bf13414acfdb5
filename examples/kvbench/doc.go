// Kvbench is a load client for Flow Cache's look-aside API: it fills a
// namespace with keys, then sends single-key GETs (or _mget batches) over
// HTTP/1.1 keep-alive connections for a bounded time and prints
// requests/s, keys/s and latency percentiles.
//
// Usage:
//
//	kvbench [-url http://127.0.0.1:7070] [-ns bench] [-mode get|mget]
//	        [-conns 50] [-duration 10s] [-keys 1000] [-value 100] [-batch 100]
//
// The namespace's token, if it needs one, is read from $FLOWCACHE_KV_TOKEN.
// Every run is bounded by -duration (and -requests when set); point it at
// loopback only.
package main
