;; Guests that never stop: an infinite loop, exponential recursion, infinite recursion, loops of
;; large memory.fill and of failing memory.grow.
;; Build: wat2wasm runaway.wat -o runaway.wasm
(module
  (memory 16 16)
  (func (export "fillbomb")
    (loop $l (memory.fill (i32.const 0) (i32.const 1) (i32.const 0x100000)) (br $l)))
  (func (export "growbomb")
    (loop $l (drop (memory.grow (i32.const 1))) (br $l)))
  (func (export "spin")
    (loop $l (br $l)))
  ;; 2^n calls, no loop
  (func $boom (export "boom") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 1))
      (else (i32.add
        (call $boom (i32.sub (local.get 0) (i32.const 1)))
        (call $boom (i32.sub (local.get 0) (i32.const 1)))))))
  (func $deep (export "deep") (param i32) (result i32)
    (call $deep (i32.add (local.get 0) (i32.const 1))))
  ;; a loop that runs n times, to count the fuel it takes
  (func (export "count") (param $n i32) (result i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $i)))
