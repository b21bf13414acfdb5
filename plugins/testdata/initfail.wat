;; initfail.wat: invalid policy: flowcache_init rejects every configuration (returns 3).
;; Build: wat2wasm initfail.wat -o initfail.wasm
(module
  (memory (export "memory") 2)
  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_init") (param i32 i32) (result i32) (i32.const 3))
  (func (export "flowcache_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "flowcache_key") (param i32 i32) (result i64) (i64.const 0))
  (func (export "flowcache_decide") (param i32 i32) (result i64) (i64.const 0)))
