;; growfill.wat: hostile policy: flowcache_key grows a 2-page memory a page at a time (until
;; memory.grow fails) and fills all of it after each grow, forever, when the request path starts
;; with "/spin" (hostile.wat's shape 7 starts from 16MiB, where one grow is over the budget).
;; Build: wat2wasm growfill.wat -o growfill.wasm
(module
  (memory (export "memory") 2)
  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "flowcache_decide") (param i32 i32) (result i64) (i64.const 0))
  (func (export "flowcache_key") (param $p i32) (param $n i32) (result i64)
    (if (i32.lt_u (i32.load offset=28 (local.get $p)) (i32.const 4)) (then (return (i64.const 0))))
    (if (i32.ne (i32.load (i32.add (local.get $p) (i32.load offset=24 (local.get $p))))
                (i32.const 0x6970732f)) ;; "/spi"
      (then (return (i64.const 0))))
    (loop $l
      (drop (memory.grow (i32.const 1)))
      (memory.fill (i32.const 0) (i32.const 0xaa) (i32.shl (memory.size) (i32.const 16)))
      (br $l))
    (i64.const 0)))
