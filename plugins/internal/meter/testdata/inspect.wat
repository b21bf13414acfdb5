;; Imports of every kind but memory, a memory with limits, exports: what Inspect reports.
;; Build: wat2wasm inspect.wat -o inspect.wasm
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (import "env" "t" (table 1 8 funcref))
  (import "env" "g" (global i32))
  (memory (export "memory") 2 10)
  (func (export "f") (result i32) (global.get 0))
  (global (export "h") i64 (i64.const 1)))
