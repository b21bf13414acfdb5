;; Post-2.0 proposals wazero v1.12 runs: tail calls and threads (atomics on shared memory).
;; Build: wat2wasm --enable-tail-call --enable-threads features.wat -o features.wasm
(module
  (memory 1 1 shared)
  ;; counts down n by tail calls; a loop-free infinite tail recursion must also run out of fuel
  (func $down (export "down") (param i32 i64) (result i64)
    (if (result i64) (i32.eqz (local.get 0))
      (then (local.get 1))
      (else (return_call $down (i32.sub (local.get 0) (i32.const 1))
        (i64.add (local.get 1) (i64.const 1))))))
  (func $forever (export "forever") (param i32) (result i32)
    (return_call $forever (local.get 0)))
  (func (export "atomics") (result i32)
    (local $i i32)
    (loop $l
      (drop (i32.atomic.rmw.add offset=8 (i32.const 0) (i32.const 3)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 4))))
    (atomic.fence)
    (i32.atomic.store16 (i32.const 16) (i32.const 7))
    (i32.add (i32.atomic.load offset=8 (i32.const 0))
      (i32.atomic.rmw16.cmpxchg_u (i32.const 16) (i32.const 7) (i32.const 9)))))
