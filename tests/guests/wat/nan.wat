;; Writes the bit patterns of NaNs produced by arithmetic to stdout. WebAssembly lets a NaN
;; result carry any payload; the engines make them canonical so that both give the same bytes.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    ;; sqrt(-1)
    (i32.store (i32.const 100) (i32.reinterpret_f32 (f32.sqrt (f32.const -1))))
    ;; a signalling NaN with a payload, plus one
    (i32.store (i32.const 104)
      (i32.reinterpret_f32 (f32.add (f32.reinterpret_i32 (i32.const 0x7fa00001)) (f32.const 1))))
    ;; 0 / 0 in double precision
    (i64.store (i32.const 108) (i64.reinterpret_f64 (f64.div (f64.const 0) (f64.const 0))))
    ;; a negative quiet NaN with a payload, times two
    (i64.store (i32.const 116)
      (i64.reinterpret_f64 (f64.mul (f64.reinterpret_i64 (i64.const 0xfff8000000000abc)) (f64.const 2))))
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 24))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))
