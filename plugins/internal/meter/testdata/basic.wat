;; Ordinary functions whose results must not change when instrumented: recursion, loops, br_table,
;; multi-value blocks (type-index block types), call_indirect, reference types, bulk memory, imported
;; and defined globals, saturating truncation, sign extension, typed select.
;; Build: wat2wasm --debug-names basic.wat -o basic.wasm
(module
  (type $binop (func (param i32 i32) (result i32)))
  (type $pair (func (param i32) (result i32 i32)))
  (import "env" "g" (global $imported (mut i32)))
  (import "env" "k" (global $k i64))
  (memory (export "memory") 1)
  (global $counter (mut i32) (i32.const 0))
  (global $base i64 (global.get $k))
  (table $t 4 funcref)
  (table $refs 2 externref)
  (elem (table $t) (i32.const 0) func $add $sub $mul)
  (elem $passive func $add)
  (elem declare func $sub)
  (data $hello "hello, world")
  (data (i32.const 64) "\01\02\03\04")

  (func $add (type $binop) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))
  (func $mul (type $binop) (i32.mul (local.get 0) (local.get 1)))

  ;; factorial, recursive
  (func $fact (export "fact") (param i64) (result i64)
    (if (result i64) (i64.le_s (local.get 0) (i64.const 1))
      (then (i64.const 1))
      (else (i64.mul (local.get 0) (call $fact (i64.sub (local.get 0) (i64.const 1)))))))

  ;; sum 1..n with a loop, plus the imported and derived globals
  (func (export "sum") (param $n i32) (result i64)
    (local $i i32) (local $acc i64)
    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
    (block $done
      (loop $next
        (br_if $done (i32.gt_s (local.get $i) (local.get $n)))
        (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_s (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i64.add (local.get $acc)
      (i64.add (global.get $base) (i64.extend_i32_s (global.get $imported)))))

  ;; nested loops with a loop that has a parameter and a result
  (func (export "nested") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $acc i32)
    (loop $outer
      (local.set $j (i32.const 0))
      (loop $inner
        (local.set $acc (i32.add (local.get $acc) (i32.const 1)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $inner (i32.lt_s (local.get $j) (local.get $n))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $outer (i32.lt_s (local.get $i) (local.get $n))))
    (i32.const 0)
    (loop $count (param i32) (result i32)
      (i32.add (i32.const 1))
      (local.tee $i)
      (br_if $count (i32.lt_s (local.get $i) (i32.const 10))))
    (i32.add (local.get $acc)))

  ;; br_table dispatch
  (func (export "switch") (param i32) (result i32)
    (block $d (block $c (block $b (block $a
      (br_table $a $b $c $d (local.get 0)))
      (return (i32.const 10)))
      (return (i32.const 20)))
      (return (i32.const 30)))
    (i32.const 40))

  ;; multi-value: a block with parameters and two results (a type-index block type)
  (func (export "divmod") (param i32 i32) (result i32)
    (local.get 0)
    (block (type $pair) (param i32) (result i32 i32)
      (local.get 1) (i32.div_u)
      (local.get 0) (local.get 1) (i32.rem_u))
    (i32.mul (i32.const 1000))
    (i32.add))

  ;; call_indirect through the table
  (func (export "apply") (param $op i32) (param i32 i32) (result i32)
    (call_indirect $t (type $binop) (local.get 1) (local.get 2) (local.get $op)))

  ;; reference types: ref.func, table.set, table.get, ref.is_null, table.size, table.grow
  (func (export "refs") (result i32)
    (table.set $t (i32.const 3) (ref.func $sub))
    (i32.add
      (call_indirect $t (type $binop) (i32.const 9) (i32.const 4) (i32.const 3))
      (i32.add
        (ref.is_null (table.get $refs (i32.const 0)))
        (i32.add (table.size $t) (table.grow $refs (ref.null extern) (i32.const 1))))))

  ;; bulk memory: memory.init, data.drop, memory.copy, memory.fill, table.init, elem.drop
  (func (export "bulk") (result i32)
    (memory.init $hello (i32.const 0) (i32.const 0) (i32.const 12))
    (data.drop $hello)
    (memory.copy (i32.const 100) (i32.const 7) (i32.const 5))
    (memory.fill (i32.const 105) (i32.const 33) (i32.const 3))
    (table.init $t $passive (i32.const 2) (i32.const 0) (i32.const 1))
    (elem.drop $passive)
    (i32.add
      (i32.add (i32.load8_u (i32.const 100)) (i32.load8_u (i32.const 107)))
      (i32.add (i32.load offset=64 (i32.const 0))
        (call_indirect $t (type $binop) (i32.const 1) (i32.const 2) (i32.const 2)))))

  ;; saturating truncation, sign extension, typed select
  (func (export "misc") (param f64) (result i64)
    (i64.add
      (i64.extend_i32_s (i32.trunc_sat_f64_s (local.get 0)))
      (i64.add
        (i64.extend8_s (i64.const 0xff))
        (select (result i64) (i64.const 5) (i64.const 6) (i32.const 0)))))

  (func (export "counter") (result i32) (global.get $counter)))
