;; fsimport.wat: hostile policy: imports the WASI filesystem function path_open.
;; Build: wat2wasm fsimport.wat -o fsimport.wasm
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "flowcache_key") (param i32 i32) (result i64) (i64.const 0))
  (func (export "flowcache_decide") (param i32 i32) (result i64) (i64.const 0)))
