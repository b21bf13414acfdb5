// Package plugins runs WebAssembly cache policies: it loads a module written
// against the policy ABI (package wasm/abi, spec in wasm/abi/ABI.md),
// validates it, compiles it once with wazero's optimizing compiler (with an
// on-disk compilation cache), and serves [policy.Policy] calls from a pool of
// instances.
//
// The gateway builds one [Runtime] per process and one [Module] per
// `[policies.NAME]` section:
//
//	rt, err := plugins.NewRuntime(plugins.Options{Logger: logger, CacheDir: dir})
//	m, err := rt.Load(ctx, "normalise", &cfg) // cfg validated, see Config
//	err = m.Key(req, &key)                    // any error: answer with policy.Default
//
// A [Store] holds the versions of every named policy, activates them
// (upload, rollback, config), stages candidates beside the active version
// (shadow or canary, see rollout.go), rolls a failing one back by itself,
// and shares every change with the other nodes as an [Event] (see
// store_sync.go).
//
// # Limits
//
// A policy cannot escape three limits, all set per policy in [Config]: the
// module size, the linear memory of each instance (a module whose minimum is
// above it is refused; memory.grow past it fails), and the CPU spent per
// call. The CPU budget is load-time fuel metering (plugins/internal/meter):
// every instruction costs its weight, charged at function entries, loop
// headers and branch joins, and running out traps; it stops infinite loops
// and loop-free recursion alike, with no goroutine or context per call. A
// wall-clock backstop ([Config].CallTimeout) stops what fuel does not see:
// one watchdog goroutine per Runtime (see watchdog.go).
//
// # Failures
//
// Any trap, exit, fuel exhaustion, backstop or malformed result makes Key
// or Decide return a [*CallError]; after a trap, exit, fuel exhaustion or
// backstop the instance it ran on is closed and never reused.
// [Module.LastFailure] keeps the last one for the admin API.
// Failures are counted ([Module.Stats]) and logged at most once per minute per
// policy. Load failures are [*LoadError]s that wrap one of the sentinel errors
// ([ErrTooLarge], [ErrMalformed], [ErrImport], [ErrExport], [ErrABIVersion],
// [ErrMemory], [ErrInit], [ErrConfig]) so that the admin API can map them to
// HTTP statuses with errors.Is.
//
// # Key memo
//
// With [Config.MemoizeKey] (`memoize_key = N`), a Module remembers up to N
// flowcache_key results, keyed by the encoded request blob the guest would
// receive (method, scheme, host, path, query, route and the headers the
// module declared in flowcache_headers). A request encoded byte for byte as
// an earlier one gets the earlier key without a guest call and without an
// instance: a hash (hash/maphash, seeded per Module) picks a set of two
// slots, each an atomic pointer to an immutable entry holding a copy of the
// blob, compared bytewise (a hash collision is never a hit), and the result.
// A hit takes no lock and allocates nothing; a miss calls the guest and
// stores a new entry, replacing one of its set. Errors are never
// remembered, nor requests whose blob and key exceed 4KiB. Each entry costs
// the size of the blob plus the key plus about 100 bytes. The memo belongs
// to the Module, so an upload, rollback or reload starts empty. It pays
// off only when requests repeat as encoded: a module that declares every
// header, or one that varies per request (a request id), misses every time
// and pays an extra allocation per call.
//
// It is only correct when the module's key derivation is deterministic and
// stateless: the same encoded request must always give the same key (no
// counters, randomness, time or configuration changed behind the host's
// back). The example policies normalize, normalize-wat, device and
// ttlrules are; the host cannot check it, so it is off by default.
//
// # Instances
//
// Instances are not safe for concurrent use: each call takes one from a
// sync.Pool, backed by one parked instance per P (GOMAXPROCS at load) that
// survives GCs; the load makes one, and calls that find none free make the
// others. An instance the pool drops is parked
// again if the module was called within the last minute, else closed; a
// module idle for a minute closes its parked instances. Each policy has its
// own wazero runtime (its own memory limit) and all share one compilation
// cache, by default a private temporary directory removed by Close
// ([Options.CacheDir] keeps compiled modules across restarts).
//
// Why fuel metering rather than cancelling calls, the weights, the
// backstop's ticks, sync.Pool with parked instances, one runtime per policy
// and a private compilation cache, with the measurements behind each: see
// RATIONALE.md at the repository root ("WebAssembly policies", "Fuel
// metering" and "Pooled instances").
package plugins
