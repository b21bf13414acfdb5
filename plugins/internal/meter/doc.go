// Package meter adds fuel metering to WebAssembly modules at load time, so that the host can stop a
// guest that loops or recurses forever without a goroutine or a context per call.
//
// [Instrument] decodes a binary module (WebAssembly 2.0 plus the proposals wazero v1.12 can run:
// threads, tail calls, extended constant expressions, exception handling, typed function
// references), appends an exported mutable i64 global named [GlobalName], and inserts a charge at
// the entry of every function and at the header of every loop:
//
//	global.get $fuel  i64.const cost  i64.sub  global.set $fuel
//	global.get $fuel  i64.const 0  i64.lt_s  if  unreachable  end
//
// The host sets the global before each call; once the fuel goes below zero the guest traps with
// `unreachable`. Every non-terminating execution either iterates a loop or nests calls without
// bound, so both an infinite loop and loop-free (even exponential) recursion run out of fuel.
// Deep recursion may also hit the runtime's call stack limit first, which traps as well.
//
// # Notes
//
//   - Function, table, memory, global and tag indices are unchanged: the new global is appended
//     after every imported and defined global, so the name section and all exports stay valid.
//   - The instrumented module keeps every custom section. Sections that hold code offsets (DWARF,
//     branch hints) are kept verbatim and therefore describe the original code.
//   - Instrument only decodes; it does not type-check. Run the result through the runtime's
//     validation (wazero's CompileModule) as usual: if the input was valid, so is the output.
//
// # Why a global and not a local?
//
// Keeping the fuel in a local would let loops count in a register, but every call, return, branch
// out of the function and trap would then have to spill it to the global and reload it. The global
// keeps the rewrite local to two points (entry and loop header), which is easy to show correct, and
// it lets the host tell "out of fuel" from the guest's own traps: the global is written before the
// check, so it is negative after a fuel trap and never negative otherwise.
package meter
