;; A table without a maximum: instrumented, it may not grow past the module's table budget.
;; Build: wat2wasm tables.wat -o tables.wasm
(module
  (table $t 0 funcref)
  (table $u 1 100 externref)
  (func (export "grow") (param i32) (result i32)
    (table.grow $t (ref.null func) (local.get 0)))
  (func (export "growu") (param i32) (result i32)
    (table.grow $u (ref.null extern) (local.get 0))))
