// Package meter adds fuel metering to WebAssembly modules at load time, so that the host can stop a
// guest that loops or recurses forever without a goroutine or a context per call.
//
// [Instrument] decodes a binary module (WebAssembly 2.0 plus the proposals wazero v1.12 can run:
// threads, tail calls, extended constant expressions, exception handling, typed function
// references), appends two exported mutable i64 globals, the fuel ([GlobalName]) and the stop
// level ([StopName]), and splits every function body into segments of code that runs straight
// through: a function entry, a loop header, an arm of an if, the code after a block that a branch
// targets. At the start of each segment it inserts a charge: the weights of the segment's
// instructions are subtracted from the fuel, and if the result is below the stop level (0 unless
// the host stops the call) the guest traps with `unreachable`. Small optional segments are
// charged with the segment before them, which costs a skipped arm a few units but saves a charge.
// Instructions weigh about their time: 1 for most, more for multiplications, divisions, square
// roots, indirect calls and function entries; memory.grow and table.grow cost a fixed part plus
// their size, bulk memory and table instructions their size.
//
// [Inspect] decodes a module the same way without reading instructions or writing anything, and
// returns its imports, defined memories and exports: the host checks them before compiling, with
// the same decoder, so that the module has one reader.
//
// The host sets the fuel before each call. Every non-terminating execution either iterates a
// loop or nests calls without bound, so both an infinite loop and loop-free (even exponential)
// recursion run out of fuel, and every instruction is paid for before it runs (see
// instrumentBody).
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
// After a trap, a negative fuel means the budget ran out (the fuel is stored before the trap); a
// raised stop level means the host stopped the call; any other trap is the guest's own.
//
// # Cost
//
// A loop charge costs at most about 0.3 ns per iteration, an entry charge
// about 0.25 ns (BenchmarkInstrument_*); why metering rather than cancelling
// calls, and the measurements: see RATIONALE.md at the repository root
// ("Fuel metering").
package meter
