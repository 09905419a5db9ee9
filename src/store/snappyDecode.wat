;; Snappy's raw block format decoded in WebAssembly (snappyDecoder.ts): the same contents as the snappy package's
;; uncompressSync, ~20% more bytes per second on a database's 8 KiB pages, whose ~1,200 elements each (literals
;; of ~6 bytes, copies of ~7) make the work per element what counts, and no native call or output allocation per
;; object (docs/performance.md).
;;
;; Memory layout (one memory, exported, grown by the caller): at byte 0 a table of 256 little-endian i16, one per
;; tag byte: bits 0-7 the element's length (a literal's length less the bytes that follow the tag for it, or 1),
;; bits 8-10 a 1-byte-offset copy's high offset bits, bits 11-13 how many bytes follow the tag (0-4). At byte 512
;; five i32 masks keeping the low 0, 8, 16, 24 or 32 bits. From byte 1024 on: the block's elements (after its length
;; varint), 16 bytes of slack, the output, 16 bytes of slack. The fast paths read and write 8 or 16 bytes at once,
;; past an element's end into the slack or into bytes a later element overwrites.
;;
;; decode(ip, inEnd, op0, outEnd) -> outEnd - op0 when the elements in [ip, inEnd) produce exactly [op0, outEnd),
;; else -1: a literal or a tag's trailing bytes past the input, output past outEnd, a copy from offset 0 or from
;; before op0, or output that stops short. Nothing is read or written outside the memory whatever the input.
;;
;; Assembled into snappyDecodeWasm.ts by scripts/build-wasm.mjs; test/unit/store/snappyDecoder.test.ts checks that
;; the bytes there are this file's.
(module
  (memory (export "memory") 1)
  (func (export "decode") (param $ip i32) (param $inEnd i32) (param $op0 i32) (param $outEnd i32) (result i32)
    (local $op i32) (local $tag i32) (local $entry i32) (local $extra i32) (local $trailer i32)
    (local $len i32) (local $off i32) (local $src i32) (local $end i32)
    (local.set $op (local.get $op0))
    (block $fail
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $ip) (local.get $inEnd)))
          (local.set $tag (i32.load8_u (local.get $ip)))
          (local.set $entry (i32.load16_u (i32.shl (local.get $tag) (i32.const 1))))
          (local.set $extra (i32.shr_u (local.get $entry) (i32.const 11)))
          ;; The 0-4 bytes after the tag as a little-endian number (the load may reach into the slack).
          (local.set $trailer (i32.and (i32.load offset=1 (local.get $ip))
                                       (i32.load offset=512 (i32.shl (local.get $extra) (i32.const 2)))))
          (local.set $ip (i32.add (i32.add (local.get $ip) (i32.const 1)) (local.get $extra)))
          (br_if $fail (i32.gt_u (local.get $ip) (local.get $inEnd)))
          (if (i32.eqz (i32.and (local.get $tag) (i32.const 3)))
            (then
              ;; A literal: `len` bytes copied from the input.
              (local.set $len (i32.add (i32.and (local.get $entry) (i32.const 255)) (local.get $trailer)))
              (br_if $fail (i32.lt_u (local.get $len) (local.get $trailer))) ;; 1 + 0xffffffff wrapped
              (br_if $fail (i32.gt_u (local.get $len) (i32.sub (local.get $inEnd) (local.get $ip))))
              (br_if $fail (i32.gt_u (local.get $len) (i32.sub (local.get $outEnd) (local.get $op))))
              (if (i32.le_u (local.get $len) (i32.const 16))
                (then (v128.store (local.get $op) (v128.load (local.get $ip))))
                (else (memory.copy (local.get $op) (local.get $ip) (local.get $len))))
              (local.set $ip (i32.add (local.get $ip) (local.get $len)))
              (local.set $op (i32.add (local.get $op) (local.get $len)))
              (br $next)))
          ;; A copy: `len` bytes from `off` bytes back in the output, byte by byte in effect (they may overlap).
          (local.set $len (i32.and (local.get $entry) (i32.const 255)))
          (local.set $off (i32.add (i32.and (local.get $entry) (i32.const 0x700)) (local.get $trailer)))
          (br_if $fail (i32.eqz (local.get $off)))
          (br_if $fail (i32.gt_u (local.get $off) (i32.sub (local.get $op) (local.get $op0))))
          (br_if $fail (i32.gt_u (local.get $len) (i32.sub (local.get $outEnd) (local.get $op))))
          (local.set $src (i32.sub (local.get $op) (local.get $off)))
          (local.set $end (i32.add (local.get $op) (local.get $len)))
          (if (i32.ge_u (local.get $off) (i32.const 16))
            (then
              ;; 16 bytes at a time: each read lies wholly before what it writes.
              (loop $wide
                (v128.store (local.get $op) (v128.load (local.get $src)))
                (local.set $op (i32.add (local.get $op) (i32.const 16)))
                (local.set $src (i32.add (local.get $src) (i32.const 16)))
                (br_if $wide (i32.lt_u (local.get $op) (local.get $end)))))
            (else
              ;; A pattern shorter than 8 bytes: each 8-byte store makes op - src bytes of it (a whole number of
              ;; periods), so the gap doubles until it is 8 or more; then 8 bytes at a time as above.
              (block $wideEnough
                (loop $widen
                  (br_if $wideEnough (i32.ge_u (i32.sub (local.get $op) (local.get $src)) (i32.const 8)))
                  (i64.store (local.get $op) (i64.load (local.get $src)))
                  (local.set $op (i32.add (local.get $op) (i32.sub (local.get $op) (local.get $src))))
                  (br_if $widen (i32.lt_u (local.get $op) (local.get $end)))))
              (if (i32.lt_u (local.get $op) (local.get $end))
                (then
                  (loop $narrow
                    (i64.store (local.get $op) (i64.load (local.get $src)))
                    (local.set $op (i32.add (local.get $op) (i32.const 8)))
                    (local.set $src (i32.add (local.get $src) (i32.const 8)))
                    (br_if $narrow (i32.lt_u (local.get $op) (local.get $end))))))))
          (local.set $op (local.get $end))
          (br $next)))
      (br_if $fail (i32.ne (local.get $op) (local.get $outEnd)))
      (return (i32.sub (local.get $op) (local.get $op0))))
    (i32.const -1)))
