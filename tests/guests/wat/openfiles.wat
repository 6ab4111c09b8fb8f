;; Opens /in/data.txt (pre-open 3 is /in) again and again without closing it.
;; Exits with the errno if an open fails, which the open-file limit must prevent by stopping it.
(module
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "data.txt")
  (func (export "_start")
    (local $errno i32)
    (loop $l
      (local.set $errno
        (call $path_open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 8) (i32.const 0)
          (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 16)))
      (br_if $l (i32.eqz (local.get $errno))))
    (call $proc_exit (local.get $errno))))
