;; No global, export or data count section: Instrument creates the first two in order. The start
;; function loops forever, so instantiation must run out of the initial fuel.
;; Build: wat2wasm bare.wat -o bare.wasm
(module
  (memory 1)
  (func $start (loop $l (br $l)))
  (start $start)
  (data (i32.const 0) "x"))
