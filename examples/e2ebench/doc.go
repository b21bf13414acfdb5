// E2ebench is Flow Cache's end-to-end load benchmark: it starts the example
// origin, flowcache, and nginx (proxy_cache) and Varnish when they are
// installed, each on a free loopback port, then drives every server with the
// same keep-alive HTTP/1.1 load and prints one Markdown table per workload.
//
// Usage (make bench-e2e builds the binaries and runs it):
//
//	e2ebench [-targets limit,flowcache,nginx,varnish] [-workloads hot,uniform,zipf,miss,big]
//	         [-duration 3s] [-rounds 3] [-conns 64] [-pin] [-target NAME=COMMAND] [-out FILE]
//
// Workloads: hot (one URL, 1 KiB), uniform (10,000 URLs of 4 KiB, after a
// pass that fetches each once), zipf (s=0.99 over 100,000 URLs of 4 KiB,
// after the same 50,000-request fill pass for every target), miss (every
// request a new URL; the origin adds -origin-delay to each answer) and big
// (one URL, 1 MiB).
//
// The baseline, "limit", is a bare fasthttp server answering from memory:
// the most a Go HTTP/1.1 server can do here. Each target is reported as
// requests/s, p50 and p99 latency, the CPU its process tree spent per
// request (from /proc/PID/stat), its hit ratio (from the origin's request
// count), and the ratio of its requests/s to the limit's (to the origin
// straight for miss) in the same round. Rounds interleave the targets and
// the report gives medians. With -pin (the default on two CPUs or more) the
// servers run on CPU 0 with one core's worth of threads, the client and the
// origin on CPU 1; the client's own CPU per request is reported, since a
// client slower than a server hides the server's speed. Quote ratios from
// one run: absolute numbers move with the machine's load.
//
// Every run is bounded (-duration, -warm, -fill-max), every server is
// started by the benchmark and stopped by it (its process group), and only
// loopback addresses are used. -target adds any other server: COMMAND runs
// under bash -c with $ADDR, $PORT and $ORIGIN set, and must listen on $ADDR
// and proxy to $ORIGIN.
package main
