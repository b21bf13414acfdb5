;; trap.wat: hostile policy: key and decide trap (unreachable) on every call.
;; Build: wat2wasm trap.wat -o trap.wasm
(module
  (memory (export "memory") 2)
  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "flowcache_key") (param i32 i32) (result i64) unreachable)
  (func (export "flowcache_decide") (param i32 i32) (result i64) unreachable))
