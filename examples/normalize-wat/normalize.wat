;; normalize.wat: the key normalisation of examples/normalize, written in
;; WebAssembly text from wasm/abi/ABI.md alone, to show that the policy ABI
;; is language-neutral. The key is the host lower-cased (a trailing dot
;; dropped), the path, and the query parameters without utm_*, fbclid and
;; gclid, sorted by name (stable insertion sort, names compared byte-wise).
;; Requests with Cookie or Authorization bypass the cache; flowcache_decide
;; keeps the host's default decision.
;;
;; Speed: the host, the query and the target are scanned 16 bytes at a time
;; with SIMD (v128; WebAssembly 2.0, which the ABI allows): the query gives
;; bit masks of its '&' and '=' per chunk, walked with ctz; short copies are
;; 16-byte loads and stores. Every loop iteration also costs fuel, so fewer
;; iterations matter twice.
;;
;; Build (wabt):
;;
;;   wat2wasm -o normalize.wasm normalize.wat   (wabt; bulk memory is on by default)
;;
;; Memory map (the module's only memory, exported, 4 pages to start):
;;   0     header list returned by flowcache_headers
;;   1024  parameter spans: 64 x 16 bytes (offset, length, name length) of the
;;         kept parameters, relative to the memory start
;;   65536 the input buffer handed out by flowcache_alloc (128 KiB), replaced
;;         by a larger one at the end of memory when the host asks for more
;; The key result is written right after the input blob, 8-byte aligned;
;; the 16-byte stores may write up to 15 bytes past it, and loads may read
;; up to 15 bytes past a field: flowcache_key grows memory to keep both
;; inside it.
(module
  (memory (export "memory") 4)

  (data (i32.const 0) "cookie, authorization")
  (global $headers_len i32 (i32.const 21))

  (global $spans i32 (i32.const 1024))
  (global $max_spans i32 (i32.const 64))
  (global $buf (mut i32) (i32.const 65536))
  (global $buf_size (mut i32) (i32.const 131072))

  (func (export "flowcache_abi_version") (result i32) (i32.const 1))

  ;; flowcache_headers: the two request headers this module reads. The host
  ;; encodes only those, so a non-empty header list means one is present.
  (func (export "flowcache_headers") (result i64)
    (i64.extend_i32_u (global.get $headers_len)))   ;; ptr 0 << 32 | len

  ;; flowcache_alloc: the static 128 KiB buffer, or a new buffer of whole
  ;; pages grown at the end of memory; 0 if memory cannot grow.
  (func (export "flowcache_alloc") (param $n i32) (result i32)
    (local $pages i32) (local $old i32)
    (if (i32.le_u (local.get $n) (global.get $buf_size))
      (then (return (global.get $buf))))
    (local.set $pages (i32.shr_u (i32.add (local.get $n) (i32.const 65535)) (i32.const 16)))
    (local.set $old (memory.grow (local.get $pages)))
    (if (i32.eq (local.get $old) (i32.const -1)) (then (return (i32.const 0))))
    (global.set $buf (i32.shl (local.get $old) (i32.const 16)))
    (global.set $buf_size (i32.shl (local.get $pages) (i32.const 16)))
    (global.get $buf))

  ;; flowcache_decide: keep the default decision.
  (func (export "flowcache_decide") (param i32 i32) (result i64) (i64.const 0))

  ;; $param records the query parameter [$s, $e) whose name is $nl bytes
  ;; long (-1: no '=', the whole parameter) as span number $count, unless it
  ;; is empty or a tracking parameter (utm_*, fbclid, gclid). It returns the
  ;; new count, or -1 when the table is full.
  (func $param (param $count i32) (param $s i32) (param $e i32) (param $nl i32) (result i32)
    (local $at i32)
    (if (i32.eq (local.get $e) (local.get $s)) (then (return (local.get $count))))
    (if (i32.lt_s (local.get $nl) (i32.const 0))
      (then (local.set $nl (i32.sub (local.get $e) (local.get $s)))))
    (if (i32.ge_u (local.get $nl) (i32.const 4))
      (then (if (i32.eq (i32.load (local.get $s)) (i32.const 0x5f6d7475)) ;; "utm_"
        (then (return (local.get $count))))))
    (if (i32.eq (local.get $nl) (i32.const 6))
      (then (if (i32.and
          (i32.eq (i32.load (local.get $s)) (i32.const 0x6c636266))                ;; "fbcl"
          (i32.eq (i32.load16_u offset=4 (local.get $s)) (i32.const 0x6469)))      ;; "id"
        (then (return (local.get $count))))))
    (if (i32.eq (local.get $nl) (i32.const 5))
      (then (if (i32.and
          (i32.eq (i32.load (local.get $s)) (i32.const 0x696c6367))                ;; "gcli"
          (i32.eq (i32.load8_u offset=4 (local.get $s)) (i32.const 0x64)))         ;; "d"
        (then (return (local.get $count))))))
    (if (i32.ge_u (local.get $count) (global.get $max_spans)) (then (return (i32.const -1))))
    (local.set $at (i32.add (global.get $spans) (i32.shl (local.get $count) (i32.const 4))))
    (i32.store offset=0 (local.get $at) (local.get $s))
    (i32.store offset=4 (local.get $at) (i32.sub (local.get $e) (local.get $s)))
    (i32.store offset=8 (local.get $at) (local.get $nl))
    (i32.add (local.get $count) (i32.const 1)))

  ;; $less reports whether name a sorts strictly before name b (byte-wise,
  ;; a proper prefix first).
  (func $less (param $a i32) (param $an i32) (param $b i32) (param $bn i32) (result i32)
    (local $i i32) (local $n i32) (local $ca i32) (local $cb i32)
    (local.set $n (select (local.get $an) (local.get $bn) (i32.lt_u (local.get $an) (local.get $bn))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $ca (i32.load8_u (i32.add (local.get $a) (local.get $i))))
        (local.set $cb (i32.load8_u (i32.add (local.get $b) (local.get $i))))
        (if (i32.ne (local.get $ca) (local.get $cb))
          (then (return (i32.lt_u (local.get $ca) (local.get $cb)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.lt_u (local.get $an) (local.get $bn)))

  ;; $copy copies $n > 0 bytes from $src to $dst 16 at a time: it may write
  ;; up to 15 bytes past $dst + $n (and read past $src + $n), which the key
  ;; builder overwrites or leaves beyond the result.
  (func $copy (param $dst i32) (param $src i32) (param $n i32)
    (local $i i32)
    (loop $next
      (v128.store (i32.add (local.get $dst) (local.get $i)) (v128.load (i32.add (local.get $src) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $next (i32.lt_u (local.get $i) (local.get $n)))))

  ;; $lanes returns the bit mask of the lanes of a 16-byte chunk that hold
  ;; data when $rem bytes are left from the chunk's start.
  (func $lanes (param $rem i32) (result i32)
    (if (result i32) (i32.ge_u (local.get $rem) (i32.const 16))
      (then (i32.const 0xffff))
      (else (i32.sub (i32.shl (i32.const 1) (local.get $rem)) (i32.const 1)))))

  ;; $sort sorts the $count spans by name: stable insertion sort.
  (func $sort (param $count i32)
    (local $i i32) (local $j i32) (local $cur i32) (local $prev i32)
    (local $s i64) (local $nl i32) (local $s_off i32)
    (local.set $i (i32.const 1))
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $cur (i32.add (global.get $spans) (i32.shl (local.get $i) (i32.const 4))))
        (local.set $s (i64.load (local.get $cur)))              ;; offset, length
        (local.set $nl (i32.load offset=8 (local.get $cur)))
        (local.set $s_off (i32.load (local.get $cur)))
        (local.set $j (local.get $i))
        (block $placed
          (loop $inner
            (br_if $placed (i32.eqz (local.get $j)))
            (local.set $prev (i32.sub (i32.add (global.get $spans) (i32.shl (local.get $j) (i32.const 4))) (i32.const 16)))
            (br_if $placed (i32.eqz (call $less
              (local.get $s_off) (local.get $nl)
              (i32.load (local.get $prev)) (i32.load offset=8 (local.get $prev)))))
            (i64.store offset=16 (local.get $prev) (i64.load (local.get $prev)))
            (i32.store offset=24 (local.get $prev) (i32.load offset=8 (local.get $prev)))
            (local.set $j (i32.sub (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $cur (i32.add (global.get $spans) (i32.shl (local.get $j) (i32.const 4))))
        (i64.store (local.get $cur) (local.get $s))
        (i32.store offset=8 (local.get $cur) (local.get $nl))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer))))

  ;; flowcache_key: see the header comment. Returns 0 (bypass), -1 (error:
  ;; the host uses its fallback policy) or the packed key result. The host,
  ;; the query and the target are scanned 16 bytes at a time (SIMD).
  (func (export "flowcache_key") (param $p i32) (param $n i32) (result i64)
    (local $out i32) (local $w i32) (local $i i32) (local $need i32)
    (local $src i32) (local $len i32) (local $hl i32) (local $ts i32)
    (local $q i32) (local $qe i32) (local $s i32) (local $e i32) (local $nl i32)
    (local $count i32) (local $at i32) (local $base i32)
    (local $ma i32) (local $me i32) (local $bit i32) (local $v v128)

    ;; Declared headers present: Cookie or Authorization.
    (if (i32.ne (i32.load offset=48 (local.get $p)) (i32.const 0))
      (then (return (i64.const 0))))

    ;; The result goes after the input; it is at most 16 + n bytes, plus up
    ;; to 15 bytes written past its end by the 16-byte stores.
    (local.set $out (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (local.set $need (i32.add (local.get $out) (i32.add (local.get $n) (i32.const 48))))
    (if (i32.gt_u (local.get $need) (i32.shl (memory.size) (i32.const 16)))
      (then (if (i32.eq (memory.grow (i32.shr_u
                  (i32.add (i32.sub (local.get $need) (i32.shl (memory.size) (i32.const 16))) (i32.const 65535))
                  (i32.const 16)))
                (i32.const -1))
        (then (return (i64.const -1))))))
    (local.set $w (i32.add (local.get $out) (i32.const 16)))

    ;; Host: lower-cased, without a trailing dot, checked.
    (local.set $src (i32.add (local.get $p) (i32.load offset=16 (local.get $p))))
    (local.set $len (i32.load offset=20 (local.get $p)))
    (if (i32.and (i32.ne (local.get $len) (i32.const 0))
                 (i32.eq (i32.load8_u (i32.sub (i32.add (local.get $src) (local.get $len)) (i32.const 1))) (i32.const 0x2e)))
      (then (local.set $len (i32.sub (local.get $len) (i32.const 1)))))
    (block $host_done
      (loop $host
        (br_if $host_done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $v (v128.load (i32.add (local.get $src) (local.get $i))))
        ;; control bytes, space, DEL, '/', '?', '#', '@'
        (if (i32.and (call $lanes (i32.sub (local.get $len) (local.get $i)))
              (i8x16.bitmask (v128.or (v128.or (v128.or
                (i8x16.le_u (local.get $v) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))
                (i8x16.eq (local.get $v) (v128.const i8x16 127 127 127 127 127 127 127 127 127 127 127 127 127 127 127 127)))
                (v128.or (i8x16.eq (local.get $v) (v128.const i8x16 47 47 47 47 47 47 47 47 47 47 47 47 47 47 47 47)) (i8x16.eq (local.get $v) (v128.const i8x16 63 63 63 63 63 63 63 63 63 63 63 63 63 63 63 63))))
                (v128.or (i8x16.eq (local.get $v) (v128.const i8x16 35 35 35 35 35 35 35 35 35 35 35 35 35 35 35 35)) (i8x16.eq (local.get $v) (v128.const i8x16 64 64 64 64 64 64 64 64 64 64 64 64 64 64 64 64))))))
          (then (return (i64.const -1))))
        ;; 'A'..'Z' | 0x20 (bytes past the host are overwritten by the path)
        (v128.store (i32.add (local.get $w) (local.get $i))
          (v128.or (local.get $v)
            (v128.and (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32) (v128.and (i8x16.ge_u (local.get $v) (v128.const i8x16 65 65 65 65 65 65 65 65 65 65 65 65 65 65 65 65)) (i8x16.le_u (local.get $v) (v128.const i8x16 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $host)))
    (local.set $hl (local.get $len))
    (local.set $w (i32.add (local.get $w) (local.get $hl)))
    (local.set $ts (local.get $w))

    ;; Path: as received; "/" when empty.
    (local.set $len (i32.load offset=28 (local.get $p)))
    (if (i32.eqz (local.get $len))
      (then
        (i32.store8 (local.get $w) (i32.const 0x2f))
        (local.set $w (i32.add (local.get $w) (i32.const 1))))
      (else
        (call $copy (local.get $w) (i32.add (local.get $p) (i32.load offset=24 (local.get $p))) (local.get $len))
        (local.set $w (i32.add (local.get $w) (local.get $len)))))

    ;; Query: split at '&', record the spans of the parameters kept. Each
    ;; 16-byte chunk gives the bit masks of its '&' ($ma) and '=' ($me).
    (local.set $q (i32.add (local.get $p) (i32.load offset=32 (local.get $p))))
    (local.set $qe (i32.add (local.get $q) (i32.load offset=36 (local.get $p))))
    (local.set $s (local.get $q))
    (local.set $nl (i32.const -1))
    (local.set $base (local.get $q))
    (block $query_done
      (loop $chunk
        (br_if $query_done (i32.ge_u (local.get $base) (local.get $qe)))
        (local.set $v (v128.load (local.get $base)))
        (local.set $bit (call $lanes (i32.sub (local.get $qe) (local.get $base))))
        (local.set $ma (i32.and (local.get $bit) (i8x16.bitmask (i8x16.eq (local.get $v) (v128.const i8x16 38 38 38 38 38 38 38 38 38 38 38 38 38 38 38 38)))))
        (local.set $me (i32.and (local.get $bit) (i8x16.bitmask (i8x16.eq (local.get $v) (v128.const i8x16 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61)))))
        (block $chunk_done
          (loop $amp
            ;; The parameter's first '=', if it comes before the next '&'
            ;; (ctz of an empty mask is 32).
            (if (i32.and (i32.lt_s (local.get $nl) (i32.const 0))
                         (i32.lt_u (i32.ctz (local.get $me)) (i32.ctz (local.get $ma))))
              (then (local.set $nl (i32.sub (i32.add (local.get $base) (i32.ctz (local.get $me))) (local.get $s)))))
            (br_if $chunk_done (i32.eqz (local.get $ma)))
            (local.set $bit (i32.ctz (local.get $ma)))
            (local.set $e (i32.add (local.get $base) (local.get $bit)))
            (local.set $count (call $param (local.get $count) (local.get $s) (local.get $e) (local.get $nl)))
            (if (i32.lt_s (local.get $count) (i32.const 0)) (then (return (i64.const -1))))  ;; more than 64
            (local.set $s (i32.add (local.get $e) (i32.const 1)))
            (local.set $nl (i32.const -1))
            ;; Drop the bits up to this '&'.
            (local.set $bit (i32.shl (i32.const -2) (local.get $bit)))
            (local.set $ma (i32.and (local.get $ma) (local.get $bit)))
            (local.set $me (i32.and (local.get $me) (local.get $bit)))
            (br $amp)))
        (local.set $base (i32.add (local.get $base) (i32.const 16)))
        (br $chunk)))
    (if (i32.lt_u (local.get $s) (local.get $qe))
      (then
        (local.set $count (call $param (local.get $count) (local.get $s) (local.get $qe) (local.get $nl)))
        (if (i32.lt_s (local.get $count) (i32.const 0)) (then (return (i64.const -1))))))
    (call $sort (local.get $count))

    ;; Emit "?" and the parameters joined by "&".
    (local.set $i (i32.const 0))
    (block $emit_done
      (loop $emit
        (br_if $emit_done (i32.ge_u (local.get $i) (local.get $count)))
        (i32.store8 (local.get $w) (select (i32.const 0x3f) (i32.const 0x26) (i32.eqz (local.get $i))))
        (local.set $at (i32.add (global.get $spans) (i32.shl (local.get $i) (i32.const 4))))
        (local.set $len (i32.load offset=4 (local.get $at)))
        (call $copy (i32.add (local.get $w) (i32.const 1)) (i32.load (local.get $at)) (local.get $len))
        (local.set $w (i32.add (local.get $w) (i32.add (local.get $len) (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $emit)))

    ;; The target must start with '/' and hold no control byte, space, DEL or '#'.
    (if (i32.ne (i32.load8_u (local.get $ts)) (i32.const 0x2f)) (then (return (i64.const -1))))
    (local.set $i (local.get $ts))
    (block $checked
      (loop $check
        (br_if $checked (i32.ge_u (local.get $i) (local.get $w)))
        (local.set $v (v128.load (local.get $i)))
        (if (i32.and (call $lanes (i32.sub (local.get $w) (local.get $i)))
              (i8x16.bitmask (v128.or (v128.or
                (i8x16.le_u (local.get $v) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))
                (i8x16.eq (local.get $v) (v128.const i8x16 127 127 127 127 127 127 127 127 127 127 127 127 127 127 127 127)))
                (i8x16.eq (local.get $v) (v128.const i8x16 35 35 35 35 35 35 35 35 35 35 35 35 35 35 35 35)))))
          (then (return (i64.const -1))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $check)))

    ;; Key result header: flags 0, host, target and variant lengths.
    (i32.store offset=0 (local.get $out) (i32.const 0))
    (i32.store offset=4 (local.get $out) (local.get $hl))
    (i32.store offset=8 (local.get $out) (i32.sub (local.get $w) (local.get $ts)))
    (i32.store offset=12 (local.get $out) (i32.const 0))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
            (i64.extend_i32_u (i32.sub (local.get $w) (local.get $out)))))
)
