;; Fuel accounting across calls and every way out of a function with loops (which keeps its fuel
;; in a local): return, br_if and br_table to the function's label, tail call, host call.
;; Build: wat2wasm --enable-tail-call accounting.wat -o accounting.wasm
(module
  (import "host" "charge" (func $charge (param i64)))
  (func $leaf)
  (func $id (param i32) (result i32) (local.get 0))

  ;; n iterations calling $leaf: E + (n+1)L + nE
  (func (export "calls") (param $n i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (call $leaf)
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  ;; n iterations calling the host, which charges 100 itself: E + (n+1)L + 100n
  (func (export "host") (param $n i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (call $charge (i64.const 100))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  ;; return from inside the loop: E + (n+1)L
  (func (export "early") (param $n i32) (result i32)
    (local $i i32)
    (loop $next
      (if (i32.ge_s (local.get $i) (local.get $n)) (then (return (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))
    unreachable)

  ;; br_if to the function's label: E + (n+1)L
  (func (export "brout") (param $n i32) (result i32)
    (local $i i32)
    (loop $next
      (br_if 1 (local.get $i) (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))
    unreachable)

  ;; br_table to the function's label: E + (n+1)L
  (func (export "tableout") (param $n i32)
    (local $i i32)
    (loop $next
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_table 0 1 (i32.gt_s (local.get $i) (local.get $n)))))

  ;; a tail call after n iterations (n >= 1): E + nL + E
  (func (export "tail") (param $n i32) (result i32)
    (local $i i32)
    (loop $next
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_s (local.get $i) (local.get $n))))
    (return_call $id (local.get $i))))
