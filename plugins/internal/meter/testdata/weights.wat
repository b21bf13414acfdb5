;; Instruction weights and charge placement: loops of four i64.div_u or four i64.add, an if whose
;; then-arm is charged only when it runs, and a loop that a host call starts (the stop global).
;; Build: wat2wasm weights.wat -o weights.wasm
(module
  (import "host" "started" (func $started))

  ;; n iterations of four x = x / 3: E + 1 + (n+1)(L + 9 + 4*13)
  (func (export "divs") (param $n i32) (result i64)
    (local $i i32) (local $x i64)
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $x (i64.div_u (local.get $x) (i64.const 3)))
        (local.set $x (i64.div_u (local.get $x) (i64.const 3)))
        (local.set $x (i64.div_u (local.get $x) (i64.const 3)))
        (local.set $x (i64.div_u (local.get $x) (i64.const 3)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $x))

  ;; the same with x = x + 3: E + 1 + (n+1)(L + 9 + 4*4)
  (func (export "adds") (param $n i32) (result i64)
    (local $i i32) (local $x i64)
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $x (i64.add (local.get $x) (i64.const 3)))
        (local.set $x (i64.add (local.get $x) (i64.const 3)))
        (local.set $x (i64.add (local.get $x) (i64.const 3)))
        (local.set $x (i64.add (local.get $x) (i64.const 3)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $x))

  ;; E + 3 (local.get, if, the final local.get), and 20 more when c is not 0
  (func (export "arms") (param $c i32) (result i64)
    (local $x i64)
    (if (local.get $c)
      (then
          (local.set $x (i64.add (local.get $x) (i64.const 1)))
          (local.set $x (i64.add (local.get $x) (i64.const 1)))
          (local.set $x (i64.add (local.get $x) (i64.const 1)))
          (local.set $x (i64.add (local.get $x) (i64.const 1)))
          (local.set $x (i64.add (local.get $x) (i64.const 1)))))
    (local.get $x))

  ;; calls the host, then loops forever
  (func (export "spin")
    (call $started)
    (loop $l (br $l))))
