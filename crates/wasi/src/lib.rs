//! All `wasi_snapshot_preview1` functions, implemented once over the Veracruz in-memory VFS
//! and shared by every engine.
//!
//! # Interface for engines
//!
//! Build a [`WasiCtx`] with [`WasiCtx::new`]`(`[`WasiConfig`]`, handle)`, where `handle` is a
//! [`veracruz_vfs::Handle`] whose capability map is the program's. Every WASI function is a
//! method
//!
//! ```text
//! pub fn NAME(&mut self, mem: &mut [u8], <params>) -> Result<i32, HostError>
//! ```
//!
//! where `mem` is the guest's whole linear memory and the parameters are exactly the function's
//! core wasm signature, in order, as `i32`/`i64` (e.g. `fd_write(mem, fd, iovs, iovs_len,
//! nwritten)`). `Ok(errno)` is the function's result (0 = success). `Err` stops the program:
//! [`HostError::Exit`] from `proc_exit`, [`HostError::Trap`] from `proc_raise`,
//! [`HostError::Limit`] when `max_output_bytes`, `max_open_files` or `max_poll_sleep` would be
//! exceeded. [`FUNCTIONS`] lists every function with its wasm parameter and result types (all
//! return one `i32` except `proc_exit`, which returns nothing) so an engine can check a module's
//! imports and link generically; [`is_supported`] answers for one import. The list has 46
//! entries: the 45 functions of the original snapshot plus `sock_accept`, added to preview 1
//! later and imported by current wasi-libc.
//!
//! After a run, [`WasiCtx::paths_read`], [`WasiCtx::paths_written`], [`WasiCtx::stdout`] and
//! [`WasiCtx::stderr`] tell the runtime what the program touched and printed.
//!
//! # Confinement
//!
//! The program sees only its pre-opened directories (see [`WasiCtx`] for how they follow from
//! the capability map) and the three streams. Paths are resolved by
//! [`veracruz_vfs::Fs::resolve`], which treats the directory descriptor as a root: `..` above
//! it, absolute paths and absolute symbolic link targets fail with `ENOTCAPABLE` (as in
//! capability-based runtimes such as wasmtime), link chains are bounded (`ELOOP`), and every
//! entry is looked up only if the capability map grants something at or beneath its canonical
//! path, so nothing outside the capabilities can be read, written, listed, stat-ed or even
//! probed for existence. Then each call checks the map on the exact canonical path it touches:
//!
//! - reading a file needs `r`; writing, truncating, resizing, setting times, creating
//!   directories, links and symbolic links, removing and renaming need `w`; creating a file
//!   needs `w` or `a`; a file with only `a` opens for writing only in append mode, and its
//!   descriptor can neither leave append mode nor `fd_pwrite`;
//! - listing a directory and reading a symbolic link need `r`;
//! - `path_rename` and `path_link` also refuse (`ENOTCAPABLE`) to widen rights: every existing
//!   entry moved or linked must have at its new path no right it lacks at its old path. Moving
//!   an input the program may only read into a writable output would otherwise let it modify
//!   (through a hard link, the original) data it was only allowed to read, or moving data out
//!   of a write-only place into a readable one would let it read it.
//!
//! WASI descriptor rights are derived from the map (an upper bound per descriptor, see
//! [`types::rights`]) and enforced on every call; `fd_fdstat_set_rights` and `path_open` can
//! only narrow them.
//!
//! # Other choices
//!
//! - Clocks answer `EACCES` unless [`WasiConfig::enable_clock`]; the CPU-time clocks report
//!   the wall time since the run started. File timestamps come from the VFS's own clock.
//! - `sock_*`: `EBADF` if the descriptor is not open, else `ENOTSUP`.
//! - Reads and writes move bytes directly between guest memory and the VFS; every pointer and
//!   length is checked first (`EFAULT`) so a hostile guest cannot panic the host.

mod calls;
mod ctx;
mod mem;
pub mod types;

pub use calls::FUNCTIONS;
pub use ctx::{preopen_dirs, vfs_errno, WasiConfig, WasiCtx};
pub use veracruz_vfs::VfsError;

/// The module name every WASI preview 1 import uses.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// A wasm value type in a WASI signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValKind {
    I32,
    I64,
}

/// Why a program must stop.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// `proc_exit` was called with this code.
    #[error("the program exited with code {0}")]
    Exit(i32),
    /// `proc_raise`, or a fault the program cannot recover from.
    #[error("the program trapped: {0}")]
    Trap(String),
    /// A limit of the run was reached.
    #[error("limit `{limit}` exceeded: {detail}")]
    Limit { limit: &'static str, detail: String },
    /// The VFS refused to set up the run (e.g. a pre-opened directory could not be created).
    #[error("file system: {0}")]
    Vfs(#[from] VfsError),
}

/// Is `module.name` a function this crate implements?
pub fn is_supported(module: &str, name: &str) -> bool {
    module == MODULE && FUNCTIONS.iter().any(|(n, _, _)| *n == name)
}

#[cfg(test)]
mod tests;
