;; recursion.wat: hostile policy: loop-free exponential recursion, 2^60 calls at depth 60 (no stack overflow; stopped by the fuel budget).
;; Build: wat2wasm recursion.wat -o recursion.wasm
(module
  (memory (export "memory") 2)
  (func $f (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 1))
      (else (i32.add (call $f (i32.sub (local.get $n) (i32.const 1)))
                     (call $f (i32.sub (local.get $n) (i32.const 1)))))))
  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "flowcache_key") (param i32 i32) (result i64) (drop (call $f (i32.const 60))) (i64.const 0))
  (func (export "flowcache_decide") (param i32 i32) (result i64) (drop (call $f (i32.const 60))) (i64.const 0)))
