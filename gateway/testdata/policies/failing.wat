;; failing.wat: tagged.wat that traps on every key call for a path starting
;; "/z" (no request of the upload's dry run has one), for the canary tests.
;; Tests patch the 8 bytes "v0000000" as for tagged.wasm.
;; Build: wat2wasm failing.wat -o failing.wasm
(module
  (memory (export "memory") 2)
  (data (i32.const 16) "?tag=v0000000")
  (global $heap (mut i32) (i32.const 65536))
  (global $out i32 (i32.const 1024))

  (func (export "flowcache_abi_version") (result i32) (i32.const 1))

  ;; Bump allocator from 64KiB up, growing memory as needed; never frees.
  (func (export "flowcache_alloc") (param $n i32) (result i32)
    (local $p i32) (local $end i32) (local $have i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (local.set $have (i32.shl (memory.size) (i32.const 16)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 65535))
                                            (i32.const 16)))
                    (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $heap (i32.and (i32.add (local.get $end) (i32.const 7)) (i32.const -8)))
    (local.get $p))

  (func (export "flowcache_key") (param $p i32) (param $n i32) (result i64)
    (local $ho i32) (local $hl i32) (local $po i32) (local $pl i32) (local $tl i32) (local $o i32)
    (local.set $ho (i32.add (local.get $p) (i32.load offset=16 (local.get $p))))
    (local.set $hl (i32.load offset=20 (local.get $p)))
    (local.set $po (i32.add (local.get $p) (i32.load offset=24 (local.get $p))))
    (local.set $pl (i32.load offset=28 (local.get $p)))
    (if (i32.ge_u (local.get $pl) (i32.const 2))
      (then (if (i32.eq (i32.load8_u offset=1 (local.get $po)) (i32.const 122)) ;; 'z'
        (then unreachable))))
    (if (i32.gt_u (i32.add (local.get $hl) (local.get $pl)) (i32.const 60000))
      (then (return (i64.const -1))))
    (local.set $tl (i32.add (local.get $pl) (i32.const 13)))
    (local.set $o (global.get $out))
    (i32.store (local.get $o) (i32.const 0))
    (i32.store offset=4 (local.get $o) (local.get $hl))
    (i32.store offset=8 (local.get $o) (local.get $tl))
    (i32.store offset=12 (local.get $o) (i32.const 0))
    (local.set $o (i32.add (local.get $o) (i32.const 16)))
    (memory.copy (local.get $o) (local.get $ho) (local.get $hl))
    (local.set $o (i32.add (local.get $o) (local.get $hl)))
    (memory.copy (local.get $o) (local.get $po) (local.get $pl))
    (local.set $o (i32.add (local.get $o) (local.get $pl)))
    (memory.copy (local.get $o) (i32.const 16) (i32.const 13))
    (i64.or (i64.shl (i64.extend_i32_u (global.get $out)) (i64.const 32))
            (i64.extend_i32_u (i32.add (i32.const 16) (i32.add (local.get $hl) (local.get $tl))))))

  (func (export "flowcache_decide") (param $p i32) (param $n i32) (result i64)
    (if (i32.ne (i32.load offset=32 (local.get $p)) (i32.const 200)) (then (return (i64.const 0))))
    (i32.store (local.get $p) (i32.or (i32.load (local.get $p)) (i32.const 3))) ;; store | admit
    (i64.store offset=8 (local.get $p) (i64.const 60000))                       ;; ttl 60s
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.const 32))))
