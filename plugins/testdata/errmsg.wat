;; errmsg.wat: a policy that explains its failures through flowcache_error (ABI.md, section 11).
;; Build: wat2wasm errmsg.wat -o errmsg.wasm
;;
;; init:   any configuration but {} fails with code 7 and a two-line message.
;; key:    the error result (-1) with a message, for every request.
;; decide: the error result (-1) without a message (flowcache_error answers 0).
(module
  (memory (export "memory") 2)
  (data (i32.const 0) "rules[0].ttl: \"1 minute\" is not a duration\nrules[2]: unknown key \"tll\"")
  (data (i32.const 128) "Key: no route for this host")
  (global $msg (mut i64) (i64.const 0))
  (func (export "flowcache_abi_version") (result i32) (i32.const 1))
  (func (export "flowcache_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "flowcache_init") (param $p i32) (param $n i32) (result i32)
    (if (i32.gt_u (local.get $n) (i32.const 2))
      (then
        (global.set $msg (i64.const 70)) ;; ptr 0, len 70
        (return (i32.const 7))))
    (i32.const 0))
  (func (export "flowcache_key") (param i32 i32) (result i64)
    (global.set $msg (i64.or (i64.shl (i64.const 128) (i64.const 32)) (i64.const 27)))
    (i64.const -1))
  (func (export "flowcache_decide") (param i32 i32) (result i64)
    (global.set $msg (i64.const 0))
    (i64.const -1))
  (func (export "flowcache_error") (result i64) (global.get $msg)))
