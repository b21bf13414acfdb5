;; SIMD instructions with every kind of immediate: memarg, v128.const, shuffle lanes, lane indices,
;; load/store lane. Build: wat2wasm simd.wat -o simd.wasm
(module
  (memory 1)
  (data (i32.const 0) "\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f")
  (func (export "simd") (result i64)
    (local $v v128) (local $i i32)
    (local.set $v (v128.load offset=0 align=16 (i32.const 0)))
    (loop $l
      (local.set $v (i32x4.add (local.get $v) (v128.const i32x4 1 2 3 4)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 3))))
    (local.set $v (i8x16.shuffle 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0 (local.get $v) (local.get $v)))
    (local.set $v (i32x4.replace_lane 1 (local.get $v) (i32.const 1000)))
    (v128.store offset=32 (i32.const 0) (local.get $v))
    (v128.store8_lane 3 (i32.const 48) (local.get $v))
    (local.set $v (v128.load32_lane 0 (i32.const 48) (local.get $v)))
    (local.set $v (v128.load64_zero (i32.const 32)))
    (i64.add
      (i64.extend_i32_u (i32x4.extract_lane 1 (local.get $v)))
      (i64.add (i64x2.extract_lane 0 (local.get $v))
        (i64.extend_i32_u (i8x16.extract_lane_u 15 (i8x16.splat (i32.const 200))))))))
