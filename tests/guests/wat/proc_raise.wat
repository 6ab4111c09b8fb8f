;; proc_raise stops the program with a trap.
(module
  (import "wasi_snapshot_preview1" "proc_raise" (func $raise (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $raise (i32.const 6)))))
