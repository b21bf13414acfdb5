;; Already exports the fuel global's name: Instrument must refuse it.
;; Build: wat2wasm taken.wat -o taken.wasm
(module
  (func (export "flowcache_fuel")))
