;; badresult.wat: buggy policy: key returns the request blob's fixed part as a key result (unknown flags), decide a range outside memory.
;; Build: wat2wasm badresult.wat -o badresult.wasm
(module
  (memory (export "memory") 2)
  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "flowcache_key") (param $p i32) (param i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.const 16)))
  (func (export "flowcache_decide") (param i32 i32) (result i64) (i64.const 0x7fff000000000020)))
