;; exit.wat: hostile policy: key calls WASI proc_exit(3), decide proc_exit(0).
;; Build: wat2wasm exit.wat -o exit.wasm
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 2)
  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "flowcache_key") (param i32 i32) (result i64) (call $exit (i32.const 3)) (i64.const 0))
  (func (export "flowcache_decide") (param i32 i32) (result i64) (call $exit (i32.const 0)) (i64.const 0)))
