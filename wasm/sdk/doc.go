// Package sdk is the Go guest SDK of Flow Cache's policy ABI: it turns two
// plain Go functions into a WebAssembly cache-policy module, built with the
// standard toolchain.
//
//	//go:build wasip1
//
//	// Command mypolicy keys requests on a lower-cased host and sorted query.
//	package main
//
//	import "github.com/flowcache/flowcache/wasm/sdk"
//
//	func init() {
//		sdk.Register(sdk.Policy{
//			Key: func(r *sdk.Request, k *sdk.KeyBuilder) error {
//				k.Host(r.Host())
//				k.Path(r.Path())
//				k.Query(r.Query(), sdk.TrackingParams) // drop utm_*, fbclid, gclid
//				k.SortParams()
//				return nil
//			},
//		})
//	}
//
//	func main() {}
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o mypolicy.wasm .
//
// The SDK declares the module's exports (flowcache_key, flowcache_decide,
// flowcache_alloc, flowcache_init, flowcache_headers, flowcache_abi_version)
// with //go:wasmexport; the toolchain exports them from any linked package,
// so main only registers the policy, in an init function: a c-shared module
// runs package initialisation (the host calls _initialize) but never main.
//
// A module whose main package forgets to call Register (or calls it from
// main, which never runs) is refused at load: flowcache_init returns 3. When
// Init returns an error, flowcache_init returns 1 and the host refuses the
// module ("init returned 1").
//
// # Configuration
//
// Init receives the policy's configuration as JSON. Parse it with
// [ParseJSON], not encoding/json: encoding/json links package os, whose
// file-reading imports (fd_read) the host refuses, so a module built with it
// does not load. The same holds for fmt and os: use strconv and errors.
//
// # Zero allocation
//
// Idiomatic allocating Go is 7-14x slower in a guest than the same code
// written not to allocate, and brings garbage-collection pauses into the
// request path. Everything the SDK hands a policy therefore works without
// allocating: [Request] and [Response] accessors return slices of the
// host's input; [SplitQuery] iterates over query parameters; [KeyBuilder]
// appends the host (lower-cased), the path, the kept and sorted parameters
// and a variant into buffers allocated once; [Decision] is a plain struct
// filled in place. Policies should keep to that style: compare with
// string(b) == "x" (the compiler does not allocate for it), use
// [EqualFold], [HasPrefixFold], [ContainsFold], [HasToken], [AppendLower]
// and [Hash64], and keep state in package variables sized in Init.
//
// # Speed
//
// Go compiles every jump of a function to WebAssembly as a branch through a
// dispatch table, and every call of a Go function costs tens of
// nanoseconds, so guest code is fast when it makes few calls and few
// byte-by-byte loops. The SDK's key path is written for that: the host and
// the path go straight into the key result (no scratch copies); a request
// whose declared headers are absent is not parsed further; and the loops
// (the query scan and filter, the parameter sort and copy, the host's
// lower-casing and the target check) are WebAssembly assembly (fast_wasm.s),
// working eight bytes at a time, with one call for the scan and one to
// finish the key. On other platforms, where the package's tests run, the
// same steps are Go (fast.go); internal/wasmtest runs the tests inside a
// guest too, so both are held to the same cases. Prefer the SDK's helpers
// to hand-written byte loops.
//
// # Lifetimes and concurrency
//
// A module instance runs one call at a time; the host runs about one
// instance per CPU core, and instances share nothing, so state a policy keeps
// in package variables (a counter, a sketch) needs no locking and is per
// instance. Slices obtained from a [Request] or [Response] are valid only
// during the call.
//
// # Errors
//
// Key and Decide return an error to make the host answer that request with
// the route's fallback policy (the native default policy); the instance is
// kept. A panic is not recovered (a deferred recover costs on every call):
// the Go runtime exits, and the host discards the instance and uses the
// fallback, as it does when a module traps or runs out of its CPU budget.
//
// The package imports only the standard library and wasm/abi. Its logic is
// ordinary Go, tested on the host, but for the exports (wasip1) and the
// assembly (GOARCH=wasm) described under Speed.
package sdk
