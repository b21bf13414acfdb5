;; startloop.wat: hostile policy: its start function loops forever (stopped at load by the init budget).
;; Build: wat2wasm startloop.wat -o startloop.wasm
(module
  (memory (export "memory") 2)
  (func $start (loop $l (br $l)))
  (start $start)
  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "flowcache_key") (param i32 i32) (result i64) (i64.const 0))
  (func (export "flowcache_decide") (param i32 i32) (result i64) (i64.const 0)))
