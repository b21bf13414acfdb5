;; hugemem.wat: hostile policy: a minimum memory of 40000 pages (2.4GiB), over any sane max_memory.
;; Build: wat2wasm hugemem.wat -o hugemem.wasm
(module
  (memory (export "memory") 40000)
  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "flowcache_key") (param i32 i32) (result i64) (i64.const 0))
  (func (export "flowcache_decide") (param i32 i32) (result i64) (i64.const 0)))
