;; minimal.wat: a small valid policy (ABI v1) used by the plugins tests and benchmarks.
;; Build: wat2wasm minimal.wat -o minimal.wasm
;;
;; key:    bypass unless the method starts with 'G' or 'H'; the error result (-1) for paths
;;         starting "/!"; otherwise host lower-cased, target = path[?query], and variant = the
;;         value of the only declared header, x-device.
;; decide: status 200 -> store, admit, ttl 60s, the rest of the default kept (modified in
;;         place); any other status -> keep the default.
;; init:   the configuration must be a JSON object.
(module
  (memory (export "memory") 2)
  (data (i32.const 0) "x-device")
  (global $heap (mut i32) (i32.const 65536))
  (global $out i32 (i32.const 1024))

  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_headers") (result i64) (i64.const 8)) ;; ptr 0, len 8
  (func (export "flowcache_init") (param $p i32) (param $n i32) (result i32)
    (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 123)) (then (return (i32.const 1))))
    (i32.const 0))

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
    (local $c i32) (local $ho i32) (local $hl i32) (local $po i32) (local $pl i32)
    (local $qo i32) (local $ql i32) (local $tl i32) (local $vo i32) (local $vl i32)
    (local $o i32) (local $i i32) (local $h i32)
    (if (i32.eqz (i32.load offset=4 (local.get $p))) (then (return (i64.const 0))))
    (local.set $c (i32.load8_u (i32.add (local.get $p) (i32.load (local.get $p)))))
    (if (i32.and (i32.ne (local.get $c) (i32.const 71)) (i32.ne (local.get $c) (i32.const 72)))
      (then (return (i64.const 0))))
    (local.set $ho (i32.add (local.get $p) (i32.load offset=16 (local.get $p))))
    (local.set $hl (i32.load offset=20 (local.get $p)))
    (local.set $po (i32.add (local.get $p) (i32.load offset=24 (local.get $p))))
    (local.set $pl (i32.load offset=28 (local.get $p)))
    (local.set $qo (i32.add (local.get $p) (i32.load offset=32 (local.get $p))))
    (local.set $ql (i32.load offset=36 (local.get $p)))
    (if (i32.ge_u (local.get $pl) (i32.const 2))
      (then (if (i32.eq (i32.load8_u offset=1 (local.get $po)) (i32.const 33))
        (then (return (i64.const -1))))))
    ;; variant: the first header's value (the host sends only x-device)
    (if (i32.load offset=48 (local.get $p))
      (then
        (local.set $h (i32.add (local.get $p) (i32.load offset=52 (local.get $p))))
        (local.set $h (i32.add (local.get $h) (i32.add (i32.const 4) (i32.load (local.get $h)))))
        (local.set $vl (i32.load (local.get $h)))
        (local.set $vo (i32.add (local.get $h) (i32.const 4)))))
    (local.set $tl (local.get $pl))
    (if (local.get $ql)
      (then (local.set $tl (i32.add (local.get $tl) (i32.add (local.get $ql) (i32.const 1))))))
    (if (i32.gt_u (i32.add (i32.add (local.get $hl) (local.get $tl)) (local.get $vl)) (i32.const 64000))
      (then (return (i64.const -1))))
    (local.set $o (global.get $out))
    (i32.store (local.get $o) (i32.const 0))
    (i32.store offset=4 (local.get $o) (local.get $hl))
    (i32.store offset=8 (local.get $o) (local.get $tl))
    (i32.store offset=12 (local.get $o) (local.get $vl))
    (local.set $o (i32.add (local.get $o) (i32.const 16)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $hl)))
        (local.set $c (i32.load8_u (i32.add (local.get $ho) (local.get $i))))
        (if (i32.lt_u (i32.sub (local.get $c) (i32.const 65)) (i32.const 26))
          (then (local.set $c (i32.or (local.get $c) (i32.const 32)))))
        (i32.store8 (i32.add (local.get $o) (local.get $i)) (local.get $c))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.set $o (i32.add (local.get $o) (local.get $hl)))
    (memory.copy (local.get $o) (local.get $po) (local.get $pl))
    (local.set $o (i32.add (local.get $o) (local.get $pl)))
    (if (local.get $ql)
      (then
        (i32.store8 (local.get $o) (i32.const 63))
        (memory.copy (i32.add (local.get $o) (i32.const 1)) (local.get $qo) (local.get $ql))
        (local.set $o (i32.add (local.get $o) (i32.add (local.get $ql) (i32.const 1))))))
    (memory.copy (local.get $o) (local.get $vo) (local.get $vl))
    (i64.or (i64.shl (i64.extend_i32_u (global.get $out)) (i64.const 32))
            (i64.extend_i32_u (i32.add (i32.const 16)
                                       (i32.add (local.get $hl) (i32.add (local.get $tl) (local.get $vl)))))))

  (func (export "flowcache_decide") (param $p i32) (param $n i32) (result i64)
    (if (i32.ne (i32.load offset=32 (local.get $p)) (i32.const 200)) (then (return (i64.const 0))))
    (i32.store (local.get $p) (i32.or (i32.load (local.get $p)) (i32.const 3))) ;; store | admit
    (i64.store offset=8 (local.get $p) (i64.const 60000))                       ;; ttl 60s
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.const 32))))
