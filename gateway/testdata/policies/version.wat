;; version.wat: invalid policy: flowcache_abi_version returns 2.
;; Build: wat2wasm version.wat -o version.wasm
(module
  (memory (export "memory") 2)
  (func (export "flowcache_abi_version") (result i32) (i32.const 2))
  (func (export "flowcache_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "flowcache_key") (param i32 i32) (result i64) (i64.const 0))
  (func (export "flowcache_decide") (param i32 i32) (result i64) (i64.const 0)))
