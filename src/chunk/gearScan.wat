;; The gear-hash scan of the content-defined chunker (cutPoint.ts), in WebAssembly: the same cuts as the
;; JavaScript loop in gearScan.ts, ~1.6-2.5x the bytes per second (docs/performance.md).
;;
;; Memory layout (one memory, exported, 5 pages): the gear table as 256 little-endian i32 at byte 0, then a
;; window of up to 256 KiB + 32 bytes at byte 1024 that the caller copies data into.
;;
;; The build also assembles this module with that memory line replaced by an imported shared memory
;; (scripts/build-wasm.mjs, GEAR_SCAN_SHARED_WASM): the gear table at byte 0 again, and after it a buffer the
;; caller reads a file into and the staging worker reads chunks from, scanned where it lies.
;;
;; scan(from, end, mask, gear) -> the index just past the first byte in [from, end) at which the gear hash has
;; every `mask` bit clear, or -1. The hash is warmed over the 32 bytes before `from` (each step shifts one bit out
;; of 32, so the hash at a position depends only on the 32 bytes ending there).
;;
;; Assembled into gearScanWasm.ts by scripts/build-wasm.mjs; test/unit/chunk/gearScan.test.ts checks that the
;; bytes there are this file's.
(module
  (memory (export "memory") 5)
  (func (export "scan") (param $from i32) (param $end i32) (param $mask i32) (param $gear i32) (result i32)
    (local $h i32) (local $i i32) (local $stop i32)
    (local.set $i (i32.sub (local.get $from) (i32.const 32)))
    (block $warmed
      (loop $warm
        (br_if $warmed (i32.ge_u (local.get $i) (local.get $from)))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
          (i32.load (i32.add (local.get $gear) (i32.shl (i32.load8_u (local.get $i)) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $warm)))
    ;; Four bytes per turn while four remain (from >= 32, so end - 3 cannot wrap).
    (local.set $stop (i32.sub (local.get $end) (i32.const 3)))
    (block $done4
      (loop $quad
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $stop)))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
          (i32.load (i32.add (local.get $gear) (i32.shl (i32.load8_u (local.get $i)) (i32.const 2))))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $mask))) (then (return (i32.add (local.get $i) (i32.const 1)))))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
          (i32.load (i32.add (local.get $gear) (i32.shl (i32.load8_u offset=1 (local.get $i)) (i32.const 2))))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $mask))) (then (return (i32.add (local.get $i) (i32.const 2)))))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
          (i32.load (i32.add (local.get $gear) (i32.shl (i32.load8_u offset=2 (local.get $i)) (i32.const 2))))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $mask))) (then (return (i32.add (local.get $i) (i32.const 3)))))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
          (i32.load (i32.add (local.get $gear) (i32.shl (i32.load8_u offset=3 (local.get $i)) (i32.const 2))))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $mask))) (then (return (i32.add (local.get $i) (i32.const 4)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $quad)))
    ;; The last up to three bytes.
    (block $done
      (loop $one
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
          (i32.load (i32.add (local.get $gear) (i32.shl (i32.load8_u (local.get $i)) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $h) (local.get $mask))) (then (return (local.get $i))))
        (br $one)))
    (i32.const -1))
)
