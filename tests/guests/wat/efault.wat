;; Host functions given pointers outside linear memory fail with EFAULT (21) and never read or
;; write outside it; lengths are bounded by guest memory, never by a host allocation.
;; Exits with the number of the first failed check, 0 if all pass.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $fd_prestat_dir_name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "x")

  (func $check (param $n i32) (param $got i32) (param $want i32)
    (if (i32.ne (local.get $got) (local.get $want))
      (then (call $proc_exit (local.get $n)))))

  (func (export "_start")
    ;; iovec array itself out of bounds
    (call $check (i32.const 1) (call $fd_write (i32.const 1) (i32.const 70000) (i32.const 1) (i32.const 16)) (i32.const 21))
    ;; iovec whose buffer runs past the end of memory
    (i32.store (i32.const 0) (i32.const 65530))
    (i32.store (i32.const 4) (i32.const 100))
    (call $check (i32.const 2) (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)) (i32.const 21))
    ;; a huge iovec count
    (call $check (i32.const 3) (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0x10000000) (i32.const 16)) (i32.const 21))
    ;; result pointer out of bounds
    (call $check (i32.const 4) (call $args_sizes_get (i32.const 65534) (i32.const 0)) (i32.const 21))
    (call $check (i32.const 5) (call $args_get (i32.const -1) (i32.const 0)) (i32.const 21))
    ;; buffer out of bounds
    (call $check (i32.const 6) (call $random_get (i32.const 65500) (i32.const 100)) (i32.const 21))
    (call $check (i32.const 7) (call $random_get (i32.const 0) (i32.const -1)) (i32.const 21))
    ;; a read into a buffer past the end of memory
    (i32.store (i32.const 0) (i32.const 65000))
    (i32.store (i32.const 4) (i32.const 100000))
    (call $check (i32.const 8) (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)) (i32.const 21))
    ;; path out of bounds
    (call $check (i32.const 9)
      (call $path_open (i32.const 3) (i32.const 0) (i32.const 65530) (i32.const 100) (i32.const 0)
        (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 16))
      (i32.const 21))
    (call $check (i32.const 10) (call $fd_prestat_dir_name (i32.const 3) (i32.const 65535) (i32.const 100)) (i32.const 21))
    ;; memory is intact and a valid call still works
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 1))
    (call $check (i32.const 11) (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)) (i32.const 0))
    (call $check (i32.const 12) (i32.load (i32.const 16)) (i32.const 1))
    (call $proc_exit (i32.const 0))))
