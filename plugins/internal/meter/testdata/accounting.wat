;; Fuel accounting across calls and every way out of a function with loops (which keeps its fuel
;; in a local): return, br_if and br_table to the function's label, tail call, host call; and the
;; charges of memory.grow, table.grow (G each) and bulk instructions (memory: size/64, table: size).
;; Build: wat2wasm --enable-tail-call accounting.wat -o accounting.wasm
(module
  (import "host" "charge" (func $charge (param i64)))
  (memory 1 2)
  (table $t 10 20 funcref)
  (elem $e func $leaf $leaf $leaf $leaf)
  (data $d "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
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
    (return_call $id (local.get $i)))

  ;; E + G
  (func (export "grow") (param i32) (drop (memory.grow (local.get 0))))
  ;; n failing memory.grow in a loop: E + (n+1)L + nG
  (func (export "growloop") (param $n i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (drop (memory.grow (i32.const 100)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))
  ;; E + G
  (func (export "tablegrow") (param i32) (drop (table.grow $t (ref.null func) (local.get 0))))
  ;; memory.fill 64n bytes, memory.copy 128n bytes, memory.init 64 bytes: E + n + 2n + 1
  (func (export "bulkmem") (param $n i32)
    (memory.fill (i32.const 0) (i32.const 7) (i32.shl (local.get $n) (i32.const 6)))
    (memory.copy (i32.const 0) (i32.const 1) (i32.shl (local.get $n) (i32.const 7)))
    (memory.init $d (i32.const 0) (i32.const 0) (i32.const 64)))
  ;; table.fill n, table.copy 2, table.init 4 elements: E + n + 2 + 4, in a function with a loop
  (func (export "bulktable") (param $n i32)
    (loop $once)
    (table.fill $t (i32.const 0) (ref.null func) (local.get $n))
    (table.copy $t $t (i32.const 0) (i32.const 5) (i32.const 2))
    (table.init $t $e (i32.const 0) (i32.const 0) (i32.const 4))))
