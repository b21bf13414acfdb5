// Package normalizeas holds assembly/index.ts, the policy of
// examples/normalize written in AssemblyScript with the SDK @flowcache/sdk
// (wasm/assemblyscript), and its tests. They build it with build.sh (npm ci
// of the pinned compiler, then asc, into a temporary directory), run the
// golden vectors of examples/normalize through the gateway's host, and
// require the same keys as the Go module on random requests.
package normalizeas
