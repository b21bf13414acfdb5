;; noexport.wat: invalid policy: no flowcache_decide export.
;; Build: wat2wasm noexport.wat -o noexport.wasm
(module
  (memory (export "memory") 2)
  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "flowcache_key") (param i32 i32) (result i64) (i64.const 0)))
