;; membomb.wat: hostile policy: key grows memory until memory.grow fails, then returns a key whose 4-byte variant is memory.size in pages (the host's limit holds); decide grows forever.
;; Build: wat2wasm membomb.wat -o membomb.wasm
(module
  (memory (export "memory") 2)
  ;; key result at 0: flags 0, host_len 0, target_len 1, variant_len 4, "/", pages (u32)
  (data (i32.const 0) "\00\00\00\00\00\00\00\00\01\00\00\00\04\00\00\00/")
  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "flowcache_key") (param i32 i32) (result i64)
    (loop $l (br_if $l (i32.ne (memory.grow (i32.const 64)) (i32.const -1))))
    (i32.store offset=17 (i32.const 0) (memory.size))
    (i64.const 21)) ;; ptr 0, len 21
  (func (export "flowcache_decide") (param i32 i32) (result i64)
    (loop $l (drop (memory.grow (i32.const 1))) (br $l)) (i64.const 0)))
