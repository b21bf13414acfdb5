// Package normalizec holds src/normalize.c, the policy of examples/normalize
// written in C with the header-only SDK wasm/c/flowcache.h, and its tests.
// They build it with clang (build.sh, into a temporary directory), run the
// golden vectors of examples/normalize through the gateway's host, and
// require the same keys as the Go module on random requests.
package normalizec
