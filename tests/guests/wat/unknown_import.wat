;; Imports a function from a module the engine does not provide.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (import "env" "steal_secrets" (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")))
