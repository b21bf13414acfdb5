;; mistyped.wat: invalid policy: flowcache_key has the wrong signature.
;; Build: wat2wasm mistyped.wat -o mistyped.wasm
(module
  (memory (export "memory") 2)
  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "flowcache_key") (param i32) (result i32) (i32.const 0))
  (func (export "flowcache_decide") (param i32 i32) (result i64) (i64.const 0)))
