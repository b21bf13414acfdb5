;; cloak.wat: hostile policy that behaves only on the request of a fixed dry run: its key call
;; bypasses a request whose path is /flowcache/dry-run, and loops forever on any other.
;; Build: wat2wasm cloak.wat -o cloak.wasm
(module
  (memory (export "memory") 2)
  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "flowcache_decide") (param i32 i32) (result i64) (i64.const 0))
  (func (export "flowcache_key") (param $p i32) (param $n i32) (result i64)
    (local $path i32)
    (local.set $path (i32.add (local.get $p) (i32.load offset=24 (local.get $p))))
    (if (i32.and (i32.eq (i32.load offset=28 (local.get $p)) (i32.const 18))   ;; len("/flowcache/dry-run")
                 (i64.eq (i64.load offset=10 (local.get $path)) (i64.const 0x6e75722d7972642f))) ;; "/dry-run"
      (then (return (i64.const 0))))
    (loop $l (br $l))
    (i64.const 0)))
