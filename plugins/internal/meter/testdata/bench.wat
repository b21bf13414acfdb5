;; Loops for the runtime benchmarks: a counting loop, a loop summing memory, and nested loops.
;; Build: wat2wasm bench.wat -o bench.wasm
(module
  (memory 16)
  ;; n iterations of i++
  (func (export "count") (param $n i32) (result i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $i))
  ;; n iterations summing the first 1 MiB of memory as i32, over and over
  (func (export "sum") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i32.add (local.get $acc)
          (i32.load (i32.and (i32.shl (local.get $i) (i32.const 2)) (i32.const 0xffffc)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc))
  ;; n/100 outer iterations of a 100-iteration inner loop
  (func (export "nested") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $acc i32)
    (loop $outer
      (local.set $j (i32.const 0))
      (loop $inner
        (local.set $acc (i32.xor (i32.mul (local.get $acc) (i32.const 31)) (local.get $j)))
        (br_if $inner (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (i32.const 100))))
      (br_if $outer (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 100))) (local.get $n))))
    (local.get $acc)))
