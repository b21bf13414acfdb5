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
// every instruction costs its weight (1 for most, more for multiplication,
// division, square root, indirect calls and function entries), charged by
// segments of straight-line code at function entries, loop headers, the
// arms of an if and the joins after branch targets; bulk memory costs by
// its length, memory.grow by the memory it asks for; running out traps.
// It stops infinite loops and loop-free exponential recursion alike,
// costs no goroutine or context per call, and never freezes the process
// for long: a Go stop-the-world, which cannot preempt compiled guest code,
// waits at most one call's budget, about a millisecond by default
// (BenchmarkModule_Hostile measures hostile shapes). A wall-clock backstop
// ([Config].CallTimeout) stops what fuel does not see: one watchdog
// goroutine per Runtime, and per call an atomic store when it begins and an
// atomic swap when it ends (see watchdog.go).
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
// # Why sync.Pool?
//
// Instances are not safe for concurrent use, and a policy runs on every
// request on every core: a pool per P (sync.Pool) scales where a mutex or
// channel pool does not. But sync.Pool drops items left idle through a GC,
// and a Go guest costs milliseconds and megabytes to instantiate again, so
// a second level keeps instances across GCs: one slot per P (GOMAXPROCS at
// load), holding the pre-warmed instances at first. Each pooled instance
// carries a runtime.AddCleanup; when the pool drops it, the cleanup receives
// the instance's state (not the pooled wrapper, which is never
// resurrected) and, if the module is open and was called within the last
// minute, parks it in a new wrapper in a free slot; otherwise, or when
// every slot is taken, it closes it (wazero keeps every instance until
// Close). Calls take from the pool first and from the slots only when the
// pool is empty; a finished call refills the first slot when it is empty,
// else the pool. So the hot path touches no shared memory but a read-only
// slot, and the slots see writes only after GCs.
//
// A GC tick (a cleanup re-armed at every GC) notes whether the module was
// called since the previous GC, and closes the parked instances once it has
// had no call for a minute: an idle module is back to no instance within a
// minute plus the time to the next GC (at most two minutes, the runtime
// forces one). Memory is bounded by the instances in use or idle for less
// than a GC cycle, at most the peak concurrency of the calls, plus one
// parked instance per P.
//
// # Why one wazero runtime per policy?
//
// wazero sets the memory limit per runtime (RuntimeConfig), not per module;
// a runtime per policy gives each its own max_memory. The compiled code is
// shared through one CompilationCache per [Runtime], so this costs nothing
// at run time.
//
// # Why a private temporary compilation cache by default?
//
// The cache holds native code that wazero maps executable: a directory other
// users can write to would let them run code in the gateway. A fixed path
// under the system temp directory is such a directory, so the default is a
// fresh 0700 directory removed by Close; set [Options.CacheDir] to a private
// path to keep compiled modules across restarts.
//
// # Why no deadline per call?
//
// The context given to guest calls has no deadline, and wazero's
// WithCloseOnContextDone is off: it would cost a goroutine per call. The
// fuel bounds every call, and the watchdog's backstop raises the guest's
// stop global, which every fuel charge reads.
package plugins
