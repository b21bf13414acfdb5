;; A module that provides imports for basic.wat.
;; Build: wat2wasm env.wat -o env.wasm
(module
  (global (export "g") (mut i32) (i32.const 100))
  (global (export "k") i64 (i64.const 7)))
