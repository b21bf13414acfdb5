;; loop.wat: hostile policy: key and decide loop forever (stopped by the fuel budget).
;; Build: wat2wasm loop.wat -o loop.wasm
(module
  (memory (export "memory") 2)
  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "flowcache_key") (param i32 i32) (result i64) (loop $l (br $l)) (i64.const 0))
  (func (export "flowcache_decide") (param i32 i32) (result i64) (loop $l (br $l)) (i64.const 0)))
