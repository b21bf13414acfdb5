;; clock.wat: flowcache_key reads the WASI clocks and returns what they said
;; in the key's variant: realtime (clock 0) and monotonic (clock 1)
;; readings, then their resolutions, as four little-endian u64. The key is
;; host "h", target "/". Pins the clocks of ABI.md, section 12.
;;
;;   wat2wasm clock.wat -o clock.wasm
(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $time (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_res_get" (func $res (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_alloc") (param $n i32) (result i32)
    (if (result i32) (i32.le_u (local.get $n) (i32.const 65536))
      (then (i32.const 65536)) (else (i32.const 0))))
  (func (export "flowcache_key") (param i32 i32) (result i64)
    ;; the result at 1024: 16 bytes of lengths, "h", "/", 32 bytes of variant
    (drop (call $time (i32.const 0) (i64.const 1) (i32.const 1042)))
    (drop (call $time (i32.const 1) (i64.const 1) (i32.const 1050)))
    (drop (call $res (i32.const 0) (i32.const 1058)))
    (drop (call $res (i32.const 1) (i32.const 1066)))
    (i32.store (i32.const 1024) (i32.const 0))
    (i32.store (i32.const 1028) (i32.const 1))
    (i32.store (i32.const 1032) (i32.const 1))
    (i32.store (i32.const 1036) (i32.const 32))
    (i32.store8 (i32.const 1040) (i32.const 104))
    (i32.store8 (i32.const 1041) (i32.const 47))
    (i64.const 0x40000000032))
  (func (export "flowcache_decide") (param i32 i32) (result i64) (i64.const 0)))
