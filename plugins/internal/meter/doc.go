// Package meter adds fuel metering to WebAssembly modules at load time, so that the host can stop a
// guest that loops or recurses forever without a goroutine or a context per call.
//
// [Instrument] decodes a binary module (WebAssembly 2.0 plus the proposals wazero v1.12 can run:
// threads, tail calls, extended constant expressions, exception handling, typed function
// references), appends an exported mutable i64 global named [GlobalName], and inserts a charge at
// the entry of every function and at the header of every loop: the cost is subtracted from the
// fuel, and if the result is negative the guest traps with `unreachable`. Instructions whose time
// does not depend on the instruction count are charged more: memory.grow and table.grow a fixed
// cost, bulk memory and table instructions by their size.
//
// The host sets the global before each call. Every non-terminating execution either iterates a
// loop or nests calls without bound, so both an infinite loop and loop-free (even exponential)
// recursion run out of fuel.
// Deep recursion may also hit the runtime's call stack limit first, which traps as well.
//
// # Notes
//
//   - Function, table, memory, global, tag and local indices are unchanged: the new global comes
//     after every imported and defined global, and a function's new local after its own locals,
//     so the name section and all exports stay valid.
//   - The instrumented module keeps every custom section. Sections that hold code offsets (DWARF,
//     branch hints) are kept verbatim and therefore describe the original code.
//   - A function with more than 50000 parameters and locals is refused, as in the JavaScript
//     embedding: wazero v1.12 allocates a byte per declared local before validating the module.
//   - Tables are bounded to 10,000,000 elements per module: minimums above are refused, and each
//     defined table's maximum is lowered to its share (wazero lets a table without a maximum grow
//     to 32 GB, outside the memory limit). A guest sees table.grow fail past its share.
//   - Instrument only decodes; it does not type-check. Run the result through the runtime's
//     validation (wazero's CompileModule) as usual: if the input was valid, so is the output.
//
// # Where is the fuel?
//
// Between calls, in the global: the host sets it before a call and reads it after. A function
// without loops charges the global directly at entry (a load, a subtraction, a store). A function
// with loops loads the global into a new local at entry, so that a loop iteration costs a
// register subtraction and a branch that is not taken; it stores the local back to the global
// before each call, return, branch out of the function and fuel trap, and reloads it after each
// call. The global is therefore exact whenever another function or the host can see it: a host
// function may charge for its own work by lowering it. Functions that use exception handling keep
// the fuel in the global, since an exception leaves a frame without its store.
//
// After a trap, a negative fuel means the budget ran out (the fuel is stored before the trap);
// any other trap is the guest's own.
//
// # Cost
//
// Measured as the calling thread's CPU time, with wazero v1.12's optimizing compiler on amd64
// (BenchmarkInstrument_*, medians of 6): a loop charge costs from nothing to 0.3 ns per
// iteration, within the spread that code placement alone gives a plain loop (1e6 iterations, ns
// per iteration, plain then metered: counting 0.60 and 0.33, summing memory 0.91 and 1.16, nested
// 1.16 and 1.12); entry charges do not show on a 70 ns call of fact(20); Go runtime code (a sieve
// making 160000 calls) runs 2% slower, 5% with the fuel always in the global. Instrumenting a
// 1.9 MB Go module takes about 5.5 ms of CPU (330 MB/s).
package meter
