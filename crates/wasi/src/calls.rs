//! The `wasi_snapshot_preview1` functions.
//!
//! Each public method takes the guest's whole linear memory and the function's core wasm
//! parameters in order; it returns the errno (0 on success) or a [`HostError`] that stops the
//! program. Output pointers are checked before anything changes, so a call that fails with
//! `EFAULT` has no side effect.

// The signatures mirror the WASI functions', some of which take many parameters.
#![allow(clippy::too_many_arguments)]

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use veracruz_policy::{Rights, Stream};
use veracruz_vfs::{display_path, FileType, Fs, Ino, Metadata, MAX_PATH_LEN};

use crate::ctx::{wasi_filetype, Fail, FdEntry, FdKind, Res, WasiCtx};
use crate::mem;
use crate::types::{
    clockid, errno, eventrwflags, eventtype, fdflags, fstflags, layout, lookupflags, oflags,
    rights, subclockflags, whence, ADVICE_MAX, SIGNAL_MAX,
};
use crate::{HostError, ValKind};

/// Maps a parameter type of the generated methods to its wasm value type.
trait WasmTy {
    const KIND: ValKind;
    fn from_i64(v: i64) -> Self;
}

impl WasmTy for i32 {
    const KIND: ValKind = ValKind::I32;
    /// An i32 argument carried in an i64: its low 32 bits, as wasm would pass it.
    fn from_i64(v: i64) -> i32 {
        v as i32
    }
}

impl WasmTy for i64 {
    const KIND: ValKind = ValKind::I64;
    fn from_i64(v: i64) -> i64 {
        v
    }
}

/// Generates, from one list, the public methods (which convert the outcome and trace the call)
/// and the [`FUNCTIONS`] table, so the two can never disagree.
macro_rules! wasi_functions {
    ($( $(#[$doc:meta])* $name:ident => $imp:ident ( $($arg:ident : $ty:ty),* ) -> [$($res:ident),*]; )*) => {
        /// Every `wasi_snapshot_preview1` function: name, parameter types, result types.
        pub const FUNCTIONS: &[(&str, &[ValKind], &[ValKind])] = &[
            $( (stringify!($name), &[$(<$ty as WasmTy>::KIND),*], &[$(ValKind::$res),*]), )*
        ];

        impl WasiCtx {
            /// Calls the WASI function `name` with its core wasm arguments (each `i32` argument
            /// passed as an `i64` holding its value), for engines that link generically. An
            /// unknown name or a wrong number of arguments is a [`HostError::Trap`] naming it.
            pub fn dispatch(&mut self, mem: &mut [u8], name: &str, args: &[i64]) -> Result<i32, HostError> {
                match name {
                    $(
                        stringify!($name) => {
                            const ARITY: usize = <[&str]>::len(&[$(stringify!($arg)),*]);
                            if args.len() != ARITY {
                                return Err(HostError::Trap(format!(
                                    "{} takes {} arguments, {} given", name, ARITY, args.len()
                                )));
                            }
                            let mut _next = args.iter();
                            self.$name(mem $(, <$ty as WasmTy>::from_i64(*_next.next().unwrap_or(&0)))*)
                        }
                    )*
                    _ => Err(HostError::Trap(format!("{name} is not a wasi_snapshot_preview1 function"))),
                }
            }

            $(
                $(#[$doc])*
                            pub fn $name(&mut self, mem: &mut [u8] $(, $arg: $ty)*) -> Result<i32, HostError> {
                    let result = self.$imp(mem $(, $arg)*);
                    self.finish(stringify!($name), &[$(i64::from($arg)),*], result)
                }
            )*
        }
    };
}

wasi_functions! {
    /// Writes pointers to NUL-terminated arguments into `argv` and the strings into `argv_buf`.
    args_get => args_get_(argv: i32, argv_buf: i32) -> [I32];
    /// Number of arguments and the bytes their strings need.
    args_sizes_get => args_sizes_get_(argc: i32, argv_buf_size: i32) -> [I32];
    /// As `args_get`, for `KEY=VALUE` environment strings.
    environ_get => environ_get_(environ: i32, environ_buf: i32) -> [I32];
    /// As `args_sizes_get`, for the environment.
    environ_sizes_get => environ_sizes_get_(count: i32, buf_size: i32) -> [I32];
    /// Resolution of a clock; `EACCES` unless the clock is enabled.
    clock_res_get => clock_res_get_(id: i32, resolution: i32) -> [I32];
    /// Time of a clock in nanoseconds; `EACCES` unless the clock is enabled.
    clock_time_get => clock_time_get_(id: i32, precision: i64, time: i32) -> [I32];
    fd_advise => fd_advise_(fd: i32, offset: i64, len: i64, advice: i32) -> [I32];
    fd_allocate => fd_allocate_(fd: i32, offset: i64, len: i64) -> [I32];
    fd_close => fd_close_(fd: i32) -> [I32];
    fd_datasync => fd_datasync_(fd: i32) -> [I32];
    fd_fdstat_get => fd_fdstat_get_(fd: i32, stat: i32) -> [I32];
    fd_fdstat_set_flags => fd_fdstat_set_flags_(fd: i32, flags: i32) -> [I32];
    fd_fdstat_set_rights => fd_fdstat_set_rights_(fd: i32, base: i64, inheriting: i64) -> [I32];
    fd_filestat_get => fd_filestat_get_(fd: i32, stat: i32) -> [I32];
    fd_filestat_set_size => fd_filestat_set_size_(fd: i32, size: i64) -> [I32];
    fd_filestat_set_times => fd_filestat_set_times_(fd: i32, atim: i64, mtim: i64, fst_flags: i32) -> [I32];
    fd_pread => fd_pread_(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nread: i32) -> [I32];
    fd_prestat_get => fd_prestat_get_(fd: i32, prestat: i32) -> [I32];
    fd_prestat_dir_name => fd_prestat_dir_name_(fd: i32, path: i32, path_len: i32) -> [I32];
    fd_pwrite => fd_pwrite_(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nwritten: i32) -> [I32];
    fd_read => fd_read_(fd: i32, iovs: i32, iovs_len: i32, nread: i32) -> [I32];
    fd_readdir => fd_readdir_(fd: i32, buf: i32, buf_len: i32, cookie: i64, bufused: i32) -> [I32];
    fd_renumber => fd_renumber_(fd: i32, to: i32) -> [I32];
    fd_seek => fd_seek_(fd: i32, offset: i64, whence: i32, newoffset: i32) -> [I32];
    fd_sync => fd_sync_(fd: i32) -> [I32];
    fd_tell => fd_tell_(fd: i32, offset: i32) -> [I32];
    fd_write => fd_write_(fd: i32, iovs: i32, iovs_len: i32, nwritten: i32) -> [I32];
    path_create_directory => path_create_directory_(fd: i32, path: i32, path_len: i32) -> [I32];
    path_filestat_get => path_filestat_get_(fd: i32, flags: i32, path: i32, path_len: i32, stat: i32) -> [I32];
    path_filestat_set_times => path_filestat_set_times_(fd: i32, flags: i32, path: i32, path_len: i32, atim: i64, mtim: i64, fst_flags: i32) -> [I32];
    path_link => path_link_(old_fd: i32, old_flags: i32, old_path: i32, old_path_len: i32, new_fd: i32, new_path: i32, new_path_len: i32) -> [I32];
    path_open => path_open_(fd: i32, dirflags: i32, path: i32, path_len: i32, oflags: i32, fs_rights_base: i64, fs_rights_inheriting: i64, fdflags: i32, opened_fd: i32) -> [I32];
    path_readlink => path_readlink_(fd: i32, path: i32, path_len: i32, buf: i32, buf_len: i32, bufused: i32) -> [I32];
    path_remove_directory => path_remove_directory_(fd: i32, path: i32, path_len: i32) -> [I32];
    path_rename => path_rename_(fd: i32, old_path: i32, old_path_len: i32, new_fd: i32, new_path: i32, new_path_len: i32) -> [I32];
    path_symlink => path_symlink_(old_path: i32, old_path_len: i32, fd: i32, new_path: i32, new_path_len: i32) -> [I32];
    path_unlink_file => path_unlink_file_(fd: i32, path: i32, path_len: i32) -> [I32];
    /// Clock subscriptions (only with the clock enabled; otherwise each reports `EACCES` in its
    /// event) and fd read/write subscriptions, which are always ready in an in-memory VFS.
    poll_oneoff => poll_oneoff_(subscriptions: i32, events: i32, nsubscriptions: i32, nevents: i32) -> [I32];
    /// Always returns `Err(HostError::Exit(code))`.
    proc_exit => proc_exit_(code: i32) -> [];
    /// Always returns `Err(HostError::Trap(..))` naming the signal (`EINVAL` for a number that
    /// is not a signal).
    proc_raise => proc_raise_(signal: i32) -> [I32];
    sched_yield => sched_yield_() -> [I32];
    /// Fills the buffer from the operating system's secure random source.
    random_get => random_get_(buf: i32, buf_len: i32) -> [I32];
    /// Sockets: `EBADF` for a descriptor that is not open, else `ENOTSUP` (there are no sockets).
    sock_accept => sock_accept_(fd: i32, flags: i32, opened_fd: i32) -> [I32];
    sock_recv => sock_recv_(fd: i32, ri_data: i32, ri_data_len: i32, ri_flags: i32, ro_datalen: i32, ro_flags: i32) -> [I32];
    sock_send => sock_send_(fd: i32, si_data: i32, si_data_len: i32, si_flags: i32, so_datalen: i32) -> [I32];
    sock_shutdown => sock_shutdown_(fd: i32, how: i32) -> [I32];
}

/// Guest pointers and lengths are unsigned 32-bit values passed as `i32`.
fn u(x: i32) -> u32 {
    x as u32
}

/// A u64 quantity passed as `i64` (offsets, sizes, timestamps).
fn u64_of(x: i64) -> u64 {
    x as u64
}

fn monotonic_anchor() -> Instant {
    static ANCHOR: OnceLock<Instant> = OnceLock::new();
    *ANCHOR.get_or_init(Instant::now)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn write_filestat(mem: &mut [u8], at: u32, m: &Metadata) -> Res {
    let mut b = [0u8; layout::FILESTAT as usize];
    // st_dev stays 0: the whole VFS is one device.
    b[8..16].copy_from_slice(&m.ino.to_le_bytes());
    b[16] = wasi_filetype(m.file_type);
    b[24..32].copy_from_slice(&m.nlink.to_le_bytes());
    b[32..40].copy_from_slice(&m.size.to_le_bytes());
    b[40..48].copy_from_slice(&m.atim.to_le_bytes());
    b[48..56].copy_from_slice(&m.mtim.to_le_bytes());
    b[56..64].copy_from_slice(&m.ctim.to_le_bytes());
    Ok(mem::put(mem, at, &b)?)
}

/// Decodes `fst_flags` into the new (atime, mtime), `None` meaning unchanged.
fn set_times_args(flags: i32, atim: i64, mtim: i64, now: u64) -> Res<(Option<u64>, Option<u64>)> {
    let flags = u16::try_from(flags).map_err(|_| errno::INVAL)?;
    if flags & !fstflags::ALL != 0
        || (flags & fstflags::ATIM != 0 && flags & fstflags::ATIM_NOW != 0)
        || (flags & fstflags::MTIM != 0 && flags & fstflags::MTIM_NOW != 0)
    {
        return Err(errno::INVAL.into());
    }
    let pick = |set: u16, set_now: u16, value: i64| {
        if flags & set != 0 {
            Some(u64_of(value))
        } else if flags & set_now != 0 {
            Some(now)
        } else {
            None
        }
    };
    Ok((
        pick(fstflags::ATIM, fstflags::ATIM_NOW, atim),
        pick(fstflags::MTIM, fstflags::MTIM_NOW, mtim),
    ))
}

impl WasiCtx {
    fn finish(&self, name: &'static str, args: &[i64], result: Res) -> Result<i32, HostError> {
        let outcome = match result {
            Ok(()) => Ok(0),
            Err(Fail::Errno(e)) => Ok(i32::from(e)),
            Err(Fail::Host(h)) => Err(h),
        };
        if self.config.trace {
            let args = args
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            match &outcome {
                Ok(e) => tracing::info!(
                    target: "wasi",
                    "{name}({args}) -> {e} ({})",
                    errno::name(u16::try_from(*e).unwrap_or(u16::MAX))
                ),
                Err(h) => tracing::info!(target: "wasi", "{name}({args}) -> stops: {h}"),
            }
        }
        outcome
    }

    fn strings(&self, env: bool) -> Vec<String> {
        if env {
            self.config
                .env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect()
        } else {
            self.config.args.clone()
        }
    }

    fn put_strings(&self, mem: &mut [u8], env: bool, ptrs: i32, buf: i32) -> Res {
        let strings = self.strings(env);
        let total: u64 = strings.iter().map(|s| s.len() as u64 + 1).sum();
        mem::check_array(mem, u(ptrs), strings.len() as u32, 4)?;
        mem::range(mem, u(buf), total)?;
        let mut at = u(buf);
        for (i, s) in strings.iter().enumerate() {
            mem::put_u32(mem, u(ptrs) + 4 * i as u32, at)?;
            mem::put(mem, at, s.as_bytes())?;
            mem::put(mem, at + s.len() as u32, &[0])?;
            at += s.len() as u32 + 1;
        }
        Ok(())
    }

    fn put_sizes(&self, mem: &mut [u8], env: bool, count: i32, size: i32) -> Res {
        let strings = self.strings(env);
        let total: usize = strings.iter().map(|s| s.len() + 1).sum();
        let total = u32::try_from(total).map_err(|_| errno::OVERFLOW)?;
        mem::range(mem, u(count), 4)?;
        mem::range(mem, u(size), 4)?;
        mem::put_u32(mem, u(count), strings.len() as u32)?;
        mem::put_u32(mem, u(size), total)?;
        Ok(())
    }

    fn args_get_(&mut self, mem: &mut [u8], argv: i32, argv_buf: i32) -> Res {
        self.put_strings(mem, false, argv, argv_buf)
    }

    fn args_sizes_get_(&mut self, mem: &mut [u8], argc: i32, size: i32) -> Res {
        self.put_sizes(mem, false, argc, size)
    }

    fn environ_get_(&mut self, mem: &mut [u8], environ: i32, buf: i32) -> Res {
        self.put_strings(mem, true, environ, buf)
    }

    fn environ_sizes_get_(&mut self, mem: &mut [u8], count: i32, size: i32) -> Res {
        self.put_sizes(mem, true, count, size)
    }

    /// The current time of a clock, checking that it exists and is enabled.
    fn clock_now(&self, id: u32) -> Result<u64, u16> {
        if id > clockid::THREAD_CPUTIME_ID {
            return Err(errno::INVAL);
        }
        if !self.config.enable_clock {
            return Err(errno::ACCES);
        }
        Ok(match id {
            clockid::REALTIME => nanos(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default(),
            ),
            clockid::MONOTONIC => nanos(monotonic_anchor().elapsed()),
            // A wasm program runs on one thread, so the wall time since the run started bounds
            // its CPU time; that is what the CPU-time clocks report.
            _ => nanos(self.started.elapsed()),
        })
    }

    fn clock_res_get_(&mut self, mem: &mut [u8], id: i32, resolution: i32) -> Res {
        mem::range(mem, u(resolution), 8)?;
        self.clock_now(u(id))?;
        Ok(mem::put_u64(mem, u(resolution), 1)?)
    }

    fn clock_time_get_(&mut self, mem: &mut [u8], id: i32, _precision: i64, time: i32) -> Res {
        mem::range(mem, u(time), 8)?;
        let now = self.clock_now(u(id))?;
        Ok(mem::put_u64(mem, u(time), now)?)
    }

    /// The open regular file behind `fd` (with `needed` rights): `EISDIR` for directories,
    /// `ESPIPE` for streams.
    fn file_fd(&self, fd: i32, needed: u64) -> Res<(Ino, FdEntry)> {
        let e = self.require(fd, needed)?;
        match e.kind {
            FdKind::File { ino, .. } => Ok((ino, e.clone())),
            FdKind::Dir { .. } => Err(errno::ISDIR.into()),
            FdKind::Stream(_) => Err(errno::SPIPE.into()),
        }
    }

    fn fd_advise_(&mut self, _mem: &mut [u8], fd: i32, offset: i64, len: i64, advice: i32) -> Res {
        self.file_fd(fd, rights::FD_ADVISE)?;
        if offset < 0 || len < 0 || !(0..=i32::from(ADVICE_MAX)).contains(&advice) {
            return Err(errno::INVAL.into());
        }
        // Advice is only a hint; an in-memory file has nothing to prefetch or drop.
        Ok(())
    }

    /// Grows a file to at least `size`, counting growth against the output limit.
    fn grow_to(&mut self, ino: Ino, path: &str, size: u64, shrink: bool) -> Res {
        let vfs = self.vfs.clone();
        let mut fs = vfs.lock();
        let len = fs.file_len(ino)?;
        if size > len {
            self.charge_output(size - len)?;
            if let Err(e) = fs.check_quota(path, size - len) {
                self.output_bytes -= size - len;
                return Err(e.into());
            }
        } else if !shrink || size == len {
            return Ok(());
        }
        fs.set_len(ino, size)?;
        self.written_paths.insert(path.to_string());
        Ok(())
    }

    fn fd_allocate_(&mut self, _mem: &mut [u8], fd: i32, offset: i64, len: i64) -> Res {
        let (ino, e) = self.file_fd(fd, rights::FD_ALLOCATE)?;
        if offset < 0 || len < 0 {
            return Err(errno::INVAL.into());
        }
        let end = offset.checked_add(len).ok_or(errno::FBIG)?;
        self.grow_to(ino, &e.path, u64_of(end), false)
    }

    fn fd_close_(&mut self, _mem: &mut [u8], fd: i32) -> Res {
        self.entry(fd)?;
        let vfs = self.vfs.clone();
        let mut fs = vfs.lock();
        self.drop_fd(&mut fs, u(fd));
        Ok(())
    }

    fn fd_datasync_(&mut self, _mem: &mut [u8], fd: i32) -> Res {
        // The VFS is memory: data is as durable as it will ever be once written.
        self.require(fd, rights::FD_DATASYNC)?;
        Ok(())
    }

    fn fd_sync_(&mut self, _mem: &mut [u8], fd: i32) -> Res {
        self.require(fd, rights::FD_SYNC)?;
        Ok(())
    }

    fn fd_fdstat_get_(&mut self, mem: &mut [u8], fd: i32, stat: i32) -> Res {
        let e = self.entry(fd)?;
        let filetype = match e.kind {
            FdKind::Stream(_) => crate::types::filetype::CHARACTER_DEVICE,
            FdKind::File { .. } => crate::types::filetype::REGULAR_FILE,
            FdKind::Dir { .. } => crate::types::filetype::DIRECTORY,
        };
        let mut b = [0u8; layout::FDSTAT as usize];
        b[0] = filetype;
        b[2..4].copy_from_slice(&e.flags.to_le_bytes());
        b[8..16].copy_from_slice(&e.base.to_le_bytes());
        b[16..24].copy_from_slice(&e.inheriting.to_le_bytes());
        Ok(mem::put(mem, u(stat), &b)?)
    }

    fn fd_fdstat_set_flags_(&mut self, _mem: &mut [u8], fd: i32, flags: i32) -> Res {
        let flags = u16::try_from(flags).map_err(|_| errno::INVAL)?;
        if flags & !fdflags::ALL != 0 {
            return Err(errno::INVAL.into());
        }
        let e = self.require(fd, rights::FD_FDSTAT_SET_FLAGS)?;
        let append_only = matches!(
            e.kind,
            FdKind::File {
                append_only: true,
                ..
            } | FdKind::Stream(Stream::Stdout | Stream::Stderr)
        );
        if append_only && flags & fdflags::APPEND == 0 {
            // Only appending is granted: dropping append mode would allow overwriting.
            return Err(errno::NOTCAPABLE.into());
        }
        self.entry_mut(fd)?.flags = flags;
        Ok(())
    }

    fn fd_fdstat_set_rights_(&mut self, _mem: &mut [u8], fd: i32, base: i64, inh: i64) -> Res {
        let e = self.entry_mut(fd)?;
        let (base, inh) = (u64_of(base), u64_of(inh));
        if base & !e.base != 0 || inh & !e.inheriting != 0 {
            return Err(errno::NOTCAPABLE.into());
        }
        e.base = base;
        e.inheriting = inh;
        Ok(())
    }

    fn fd_metadata(&self, fs: &Fs, e: &FdEntry) -> Res<Metadata> {
        Ok(match e.kind {
            FdKind::Stream(s) => fs.metadata(Fs::stream_ino(s))?,
            FdKind::File { ino, .. } | FdKind::Dir { ino, .. } => fs.metadata(ino)?,
        })
    }

    fn fd_filestat_get_(&mut self, mem: &mut [u8], fd: i32, stat: i32) -> Res {
        mem::range(mem, u(stat), u64::from(layout::FILESTAT))?;
        let e = self.require(fd, rights::FD_FILESTAT_GET)?;
        let m = self.fd_metadata(&self.vfs.lock(), e)?;
        write_filestat(mem, u(stat), &m)
    }

    fn fd_filestat_set_size_(&mut self, _mem: &mut [u8], fd: i32, size: i64) -> Res {
        let (ino, e) = self.file_fd(fd, rights::FD_FILESTAT_SET_SIZE)?;
        if size < 0 {
            return Err(errno::INVAL.into());
        }
        self.grow_to(ino, &e.path, u64_of(size), true)
    }

    fn fd_filestat_set_times_(
        &mut self,
        _mem: &mut [u8],
        fd: i32,
        atim: i64,
        mtim: i64,
        flags: i32,
    ) -> Res {
        let e = self.require(fd, rights::FD_FILESTAT_SET_TIMES)?.clone();
        let vfs = self.vfs.clone();
        let mut fs = vfs.lock();
        let (a, m) = set_times_args(flags, atim, mtim, fs.now())?;
        match e.kind {
            FdKind::File { ino, .. } | FdKind::Dir { ino, .. } => fs.set_times(ino, a, m)?,
            FdKind::Stream(_) => {}
        }
        self.written_paths.insert(e.path);
        Ok(())
    }

    /// Reads into the iovecs from a file at `offset` (or from stdin); returns bytes read.
    fn read_into(
        &mut self,
        mem: &mut [u8],
        e: &FdEntry,
        iovs: i32,
        iovs_len: i32,
        offset: u64,
    ) -> Res<u64> {
        let (vecs, _) = mem::iovecs(mem, u(iovs), u(iovs_len))?;
        let vfs = self.vfs.clone();
        let mut fs = vfs.lock();
        let mut total = 0u64;
        for (buf, len) in vecs {
            let dst = mem::bytes_mut(mem, buf, len)?;
            let at = offset + total;
            let n = match e.kind {
                FdKind::File { ino, .. } => fs.read_at(ino, at, dst)?,
                FdKind::Stream(s) => fs.stream_read_at(s, at, dst),
                FdKind::Dir { .. } => return Err(errno::ISDIR.into()),
            };
            total += n as u64;
            if n < len as usize {
                break;
            }
        }
        self.read_paths.insert(e.path.clone());
        Ok(total)
    }

    fn fd_read_(&mut self, mem: &mut [u8], fd: i32, iovs: i32, iovs_len: i32, nread: i32) -> Res {
        mem::range(mem, u(nread), 4)?;
        let e = self.require(fd, rights::FD_READ)?.clone();
        let offset = match e.kind {
            FdKind::File { pos, .. } => pos,
            FdKind::Stream(Stream::Stdin) => self.stdin_pos,
            // Reading what was written to stdout/stderr is not a thing a program can do.
            FdKind::Stream(_) => return Err(errno::BADF.into()),
            FdKind::Dir { .. } => return Err(errno::ISDIR.into()),
        };
        let n = self.read_into(mem, &e, iovs, iovs_len, offset)?;
        if let FdKind::File { pos, .. } = &mut self.entry_mut(fd)?.kind {
            *pos += n;
        } else {
            self.stdin_pos += n;
        }
        Ok(mem::put_u32(mem, u(nread), n as u32)?)
    }

    fn fd_pread_(
        &mut self,
        mem: &mut [u8],
        fd: i32,
        iovs: i32,
        iovs_len: i32,
        offset: i64,
        nread: i32,
    ) -> Res {
        mem::range(mem, u(nread), 4)?;
        let (_, e) = self.file_fd(fd, rights::FD_READ | rights::FD_SEEK)?;
        if offset < 0 {
            return Err(errno::INVAL.into());
        }
        let n = self.read_into(mem, &e, iovs, iovs_len, u64_of(offset))?;
        Ok(mem::put_u32(mem, u(nread), n as u32)?)
    }

    /// Writes the iovecs to a file at `offset` (`None`: append) or to a stream, straight from
    /// guest memory; returns the bytes written. A write that fails part-way (VFS quota) reports
    /// the bytes written so far, as POSIX short writes do.
    fn write_from(
        &mut self,
        mem: &[u8],
        e: &FdEntry,
        iovs: i32,
        iovs_len: i32,
        offset: Option<u64>,
    ) -> Res<u64> {
        let (vecs, total) = mem::iovecs(mem, u(iovs), u(iovs_len))?;
        self.charge_output(total)?;
        let vfs = self.vfs.clone();
        let mut fs = vfs.lock();
        let mut written = 0u64;
        for (buf, len) in vecs {
            let src = mem::bytes(mem, buf, len)?;
            let result = match (e.kind.clone(), offset) {
                (FdKind::File { ino, .. }, Some(at)) => fs.write_at(ino, at + written, src),
                (FdKind::File { ino, .. }, None) => fs.append(ino, src).map(|_| ()),
                (FdKind::Stream(s), _) => fs.stream_append(s, src),
                (FdKind::Dir { .. }, _) => return Err(errno::ISDIR.into()),
            };
            match result {
                Ok(()) => written += u64::from(len),
                Err(err) if written == 0 => {
                    self.output_bytes -= total;
                    return Err(err.into());
                }
                Err(_) => break,
            }
        }
        // Output not written after a short write is not charged.
        self.output_bytes -= total - written;
        self.written_paths.insert(e.path.clone());
        Ok(written)
    }

    fn fd_write_(
        &mut self,
        mem: &mut [u8],
        fd: i32,
        iovs: i32,
        iovs_len: i32,
        nwritten: i32,
    ) -> Res {
        mem::range(mem, u(nwritten), 4)?;
        let e = self.require(fd, rights::FD_WRITE)?.clone();
        let (offset, appending) = match e.kind {
            FdKind::File {
                pos, append_only, ..
            } => {
                if append_only || e.flags & fdflags::APPEND != 0 {
                    (None, true)
                } else {
                    (Some(pos), false)
                }
            }
            FdKind::Stream(Stream::Stdin) => return Err(errno::BADF.into()),
            FdKind::Stream(_) => (None, true),
            FdKind::Dir { .. } => return Err(errno::ISDIR.into()),
        };
        let n = self.write_from(mem, &e, iovs, iovs_len, offset)?;
        if let FdKind::File { ino, .. } = e.kind {
            let end = if appending {
                self.vfs.lock().file_len(ino)?
            } else {
                offset.unwrap_or(0) + n
            };
            if let FdKind::File { pos, .. } = &mut self.entry_mut(fd)?.kind {
                *pos = end;
            }
        }
        Ok(mem::put_u32(mem, u(nwritten), n as u32)?)
    }

    fn fd_pwrite_(
        &mut self,
        mem: &mut [u8],
        fd: i32,
        iovs: i32,
        iovs_len: i32,
        offset: i64,
        nwritten: i32,
    ) -> Res {
        mem::range(mem, u(nwritten), 4)?;
        let (_, e) = self.file_fd(fd, rights::FD_WRITE | rights::FD_SEEK)?;
        if matches!(
            e.kind,
            FdKind::File {
                append_only: true,
                ..
            }
        ) {
            return Err(errno::NOTCAPABLE.into());
        }
        if offset < 0 {
            return Err(errno::INVAL.into());
        }
        let n = self.write_from(mem, &e, iovs, iovs_len, Some(u64_of(offset)))?;
        Ok(mem::put_u32(mem, u(nwritten), n as u32)?)
    }

    fn fd_prestat_get_(&mut self, mem: &mut [u8], fd: i32, prestat: i32) -> Res {
        let e = self.entry(fd)?;
        let FdKind::Dir {
            preopen: Some(name),
            ..
        } = &e.kind
        else {
            return Err(errno::BADF.into());
        };
        let mut b = [0u8; layout::PRESTAT as usize];
        // Tag 0 = directory; then the name length.
        b[4..8].copy_from_slice(&(name.len() as u32).to_le_bytes());
        Ok(mem::put(mem, u(prestat), &b)?)
    }

    fn fd_prestat_dir_name_(&mut self, mem: &mut [u8], fd: i32, path: i32, path_len: i32) -> Res {
        let e = self.entry(fd)?;
        let FdKind::Dir {
            preopen: Some(name),
            ..
        } = &e.kind
        else {
            return Err(errno::BADF.into());
        };
        if (u(path_len) as usize) < name.len() {
            return Err(errno::NAMETOOLONG.into());
        }
        Ok(mem::put(mem, u(path), name.as_bytes())?)
    }

    fn fd_readdir_(
        &mut self,
        mem: &mut [u8],
        fd: i32,
        buf: i32,
        buf_len: i32,
        cookie: i64,
        bufused: i32,
    ) -> Res {
        mem::range(mem, u(bufused), 4)?;
        mem::range(mem, u(buf), u64::from(u(buf_len)))?;
        let e = self.require(fd, rights::FD_READDIR)?;
        let FdKind::Dir { ino, .. } = e.kind else {
            return Err(errno::NOTDIR.into());
        };
        let cached = match self.listings.get(&u(fd)) {
            Some(l) if cookie != 0 => Some(l.clone()),
            _ => None,
        };
        let entries = match cached {
            Some(l) => l,
            None => {
                let fs = self.vfs.lock();
                let Some(path) = fs.path_of(ino) else {
                    // A removed directory has no entries, not even `.` and `..`.
                    drop(fs);
                    self.listings.remove(&u(fd));
                    return Ok(mem::put_u32(mem, u(bufused), 0)?);
                };
                if !self.map_rights(&path).contains(Rights::READ) {
                    return Err(errno::NOTCAPABLE.into());
                }
                let mut entries = vec![
                    (".".to_string(), ino, FileType::Directory),
                    ("..".to_string(), fs.parent_of(ino)?, FileType::Directory),
                ];
                let mut child = path.clone();
                for d in fs.read_dir(ino)? {
                    child.push(d.name.clone());
                    if veracruz_vfs::visible(&self.caps, &child) {
                        entries.push((d.name, d.ino, d.file_type));
                    }
                    child.pop();
                }
                drop(fs);
                // Reading from cookie 0 starts a new pass; later cookies continue it over the
                // same snapshot, as POSIX allows for entries changed during a pass.
                let entries = std::sync::Arc::new(entries);
                self.listings.insert(u(fd), entries.clone());
                entries
            }
        };
        let start = usize::try_from(u64_of(cookie)).unwrap_or(usize::MAX);
        let capacity = u(buf_len) as usize;
        let mut used = 0usize;
        for (i, (name, ino, ft)) in entries.iter().enumerate().skip(start) {
            let mut header = [0u8; layout::DIRENT as usize];
            header[0..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            header[8..16].copy_from_slice(&ino.to_le_bytes());
            header[16..20].copy_from_slice(&(name.len() as u32).to_le_bytes());
            header[20] = wasi_filetype(*ft);
            // Entries are copied whole while they fit; the last one is cut at the end of the
            // buffer, which tells the guest (bufused == buf_len) to call again from its cookie.
            for part in [&header[..], name.as_bytes()] {
                let n = part.len().min(capacity - used);
                mem::put(mem, u(buf) + used as u32, &part[..n])?;
                used += n;
            }
            if used == capacity {
                break;
            }
        }
        Ok(mem::put_u32(mem, u(bufused), used as u32)?)
    }

    fn fd_renumber_(&mut self, _mem: &mut [u8], fd: i32, to: i32) -> Res {
        self.entry(fd)?;
        self.entry(to)?;
        if fd == to {
            return Ok(());
        }
        let vfs = self.vfs.clone();
        let mut fs = vfs.lock();
        self.drop_fd(&mut fs, u(to));
        let e = self.fds.remove(&u(fd)).ok_or(errno::BADF)?;
        self.fds.insert(u(to), e);
        if let Some(listing) = self.listings.remove(&u(fd)) {
            self.listings.insert(u(to), listing);
        }
        Ok(())
    }

    fn fd_seek_(&mut self, mem: &mut [u8], fd: i32, offset: i64, wh: i32, newoffset: i32) -> Res {
        mem::range(mem, u(newoffset), 8)?;
        let e = self.entry(fd)?;
        let needed = if wh == i32::from(whence::CUR) && offset == 0 {
            rights::FD_TELL
        } else {
            rights::FD_SEEK
        };
        if e.base & (needed | rights::FD_SEEK) == 0 {
            return Err(errno::NOTCAPABLE.into());
        }
        let (ino, pos) = match e.kind {
            FdKind::File { ino, pos, .. } => (ino, pos),
            FdKind::Stream(_) => return Err(errno::SPIPE.into()),
            FdKind::Dir { .. } => return Err(errno::BADF.into()),
        };
        let base = match u8::try_from(wh) {
            Ok(whence::SET) => 0,
            Ok(whence::CUR) => pos,
            Ok(whence::END) => self.vfs.lock().file_len(ino)?,
            _ => return Err(errno::INVAL.into()),
        };
        let new = i64::try_from(base)
            .ok()
            .and_then(|b| b.checked_add(offset))
            .filter(|n| *n >= 0)
            .ok_or(errno::INVAL)?;
        if let FdKind::File { pos, .. } = &mut self.entry_mut(fd)?.kind {
            *pos = u64_of(new);
        }
        Ok(mem::put_u64(mem, u(newoffset), u64_of(new))?)
    }

    fn fd_tell_(&mut self, mem: &mut [u8], fd: i32, offset: i32) -> Res {
        mem::range(mem, u(offset), 8)?;
        let e = self.entry(fd)?;
        if e.base & (rights::FD_TELL | rights::FD_SEEK) == 0 {
            return Err(errno::NOTCAPABLE.into());
        }
        match e.kind {
            FdKind::File { pos, .. } => Ok(mem::put_u64(mem, u(offset), pos)?),
            FdKind::Stream(_) => Err(errno::SPIPE.into()),
            FdKind::Dir { .. } => Err(errno::BADF.into()),
        }
    }

    fn path_arg(&self, mem: &[u8], ptr: i32, len: i32) -> Res<String> {
        Ok(mem::string(mem, u(ptr), u(len), MAX_PATH_LEN)?)
    }

    fn path_create_directory_(&mut self, mem: &mut [u8], fd: i32, path: i32, len: i32) -> Res {
        let path = self.path_arg(mem, path, len)?;
        let vfs = self.vfs.clone();
        let mut fs = vfs.lock();
        let r = self.resolve(&fs, fd, rights::PATH_CREATE_DIRECTORY, &path, false)?;
        let (None, Some(name)) = (r.ino, &r.name) else {
            return Err(errno::EXIST.into());
        };
        self.require_map(&r.path, Rights::WRITE)?;
        fs.create_dir(r.parent, name)?;
        self.record_written(&r.path);
        Ok(())
    }

    fn path_filestat_get_(
        &mut self,
        mem: &mut [u8],
        fd: i32,
        flags: i32,
        path: i32,
        len: i32,
        stat: i32,
    ) -> Res {
        mem::range(mem, u(stat), u64::from(layout::FILESTAT))?;
        let path = self.path_arg(mem, path, len)?;
        let follow = u(flags) & lookupflags::SYMLINK_FOLLOW != 0;
        let fs = self.vfs.lock();
        let r = self.resolve(&fs, fd, rights::PATH_FILESTAT_GET, &path, follow)?;
        let ino = r.ino.ok_or(errno::NOENT)?;
        let m = fs.metadata(ino)?;
        drop(fs);
        write_filestat(mem, u(stat), &m)
    }

    fn path_filestat_set_times_(
        &mut self,
        mem: &mut [u8],
        fd: i32,
        flags: i32,
        path: i32,
        len: i32,
        atim: i64,
        mtim: i64,
        fst_flags: i32,
    ) -> Res {
        let path = self.path_arg(mem, path, len)?;
        let follow = u(flags) & lookupflags::SYMLINK_FOLLOW != 0;
        let vfs = self.vfs.clone();
        let mut fs = vfs.lock();
        let (a, m) = set_times_args(fst_flags, atim, mtim, fs.now())?;
        let r = self.resolve(&fs, fd, rights::PATH_FILESTAT_SET_TIMES, &path, follow)?;
        let ino = r.ino.ok_or(errno::NOENT)?;
        self.require_map(&r.path, Rights::WRITE)?;
        fs.set_times(ino, a, m)?;
        self.record_written(&r.path);
        Ok(())
    }

    /// Fails unless every entry of the subtree at `from` (an existing inode) would have at `to`
    /// no right it lacks at `from`: moving or linking must never widen what can be done to
    /// existing data. Iterative, because a guest can nest directories arbitrarily deep.
    fn check_no_widening(&self, fs: &Fs, ino: Ino, from: &[String], to: &[String]) -> Res {
        // (inode, path below `from`/`to`)
        let mut pending: Vec<(Ino, Vec<String>)> = vec![(ino, Vec::new())];
        while let Some((ino, rel)) = pending.pop() {
            let old: Vec<String> = from.iter().chain(&rel).cloned().collect();
            let new: Vec<String> = to.iter().chain(&rel).cloned().collect();
            if !self.map_rights(&old).contains(self.map_rights(&new)) {
                return Err(errno::NOTCAPABLE.into());
            }
            if fs.file_type(ino)? == FileType::Directory {
                for d in fs.read_dir(ino)? {
                    let mut child = rel.clone();
                    child.push(d.name);
                    pending.push((d.ino, child));
                }
            }
        }
        Ok(())
    }

    fn path_link_(
        &mut self,
        mem: &mut [u8],
        old_fd: i32,
        old_flags: i32,
        old_path: i32,
        old_len: i32,
        new_fd: i32,
        new_path: i32,
        new_len: i32,
    ) -> Res {
        let old_path = self.path_arg(mem, old_path, old_len)?;
        let new_path = self.path_arg(mem, new_path, new_len)?;
        let follow = u(old_flags) & lookupflags::SYMLINK_FOLLOW != 0;
        let vfs = self.vfs.clone();
        let mut fs = vfs.lock();
        let old = self.resolve(&fs, old_fd, rights::PATH_LINK_SOURCE, &old_path, follow)?;
        let new = self.resolve(&fs, new_fd, rights::PATH_LINK_TARGET, &new_path, false)?;
        let ino = old.ino.ok_or(errno::NOENT)?;
        if fs.file_type(ino)? == FileType::Directory {
            return Err(errno::PERM.into());
        }
        let (None, Some(name)) = (new.ino, &new.name) else {
            return Err(errno::EXIST.into());
        };
        if new.trailing_slash {
            return Err(errno::NOENT.into());
        }
        self.require_map(&new.path, Rights::WRITE)?;
        if self.map_rights(&old.path).is_empty() {
            return Err(errno::NOTCAPABLE.into());
        }
        self.check_no_widening(&fs, ino, &old.path, &new.path)?;
        fs.link(ino, new.parent, name)?;
        self.record_written(&new.path);
        Ok(())
    }

    fn path_open_(
        &mut self,
        mem: &mut [u8],
        fd: i32,
        dirflags: i32,
        path: i32,
        path_len: i32,
        oflags: i32,
        base: i64,
        inheriting: i64,
        fdflags: i32,
        opened_fd: i32,
    ) -> Res {
        mem::range(mem, u(opened_fd), 4)?;
        let path = self.path_arg(mem, path, path_len)?;
        let of = u16::try_from(oflags).map_err(|_| errno::INVAL)?;
        let ff = u16::try_from(fdflags).map_err(|_| errno::INVAL)?;
        if of & !oflags::ALL != 0 || ff & !fdflags::ALL != 0 {
            return Err(errno::INVAL.into());
        }
        let (requested, requested_inh) = (u64_of(base), u64_of(inheriting));
        let mut needed = rights::PATH_OPEN;
        if of & oflags::CREAT != 0 {
            needed |= rights::PATH_CREATE_FILE;
        }
        if of & oflags::TRUNC != 0 {
            needed |= rights::PATH_FILESTAT_SET_SIZE;
        }
        self.dir_fd(fd, 0)?;
        let dir_inheriting = self.entry(fd)?.inheriting;
        if requested & (rights::FD_READ | rights::FD_WRITE) & !dir_inheriting != 0 {
            return Err(errno::NOTCAPABLE.into());
        }
        let follow = u(dirflags) & lookupflags::SYMLINK_FOLLOW != 0;
        let vfs = self.vfs.clone();
        let mut fs = vfs.lock();
        let r = self.resolve(&fs, fd, needed, &path, follow)?;
        let granted = self.map_rights(&r.path);
        let append = ff & fdflags::APPEND != 0;
        let file_type = match r.ino {
            None => {
                if of & oflags::CREAT == 0 {
                    return Err(errno::NOENT.into());
                }
                if of & oflags::DIRECTORY != 0 {
                    return Err(errno::INVAL.into());
                }
                if r.trailing_slash {
                    return Err(errno::ISDIR.into());
                }
                // Creating a file needs `w`, or `a` (an empty file appended to loses nothing).
                if !granted.can_modify() {
                    return Err(errno::NOTCAPABLE.into());
                }
                FileType::RegularFile
            }
            Some(ino) => {
                if of & oflags::CREAT != 0 && of & oflags::EXCL != 0 {
                    return Err(errno::EXIST.into());
                }
                let t = fs.file_type(ino)?;
                if t == FileType::Symlink {
                    return Err(errno::LOOP.into());
                }
                if of & oflags::DIRECTORY != 0 && t != FileType::Directory {
                    return Err(errno::NOTDIR.into());
                }
                t
            }
        };
        let (new_base, new_inheriting, append_only) = match file_type {
            FileType::Directory => {
                if of & (oflags::TRUNC | oflags::CREAT) != 0 || requested & rights::FD_WRITE != 0 {
                    return Err(errno::ISDIR.into());
                }
                let (b, i) = self.dir_rights(&r.path);
                (
                    requested & dir_inheriting & b,
                    requested_inh & dir_inheriting & i,
                    false,
                )
            }
            _ => {
                if granted.is_empty() {
                    return Err(errno::NOTCAPABLE.into());
                }
                if requested & rights::FD_READ != 0 && !granted.contains(Rights::READ) {
                    return Err(errno::NOTCAPABLE.into());
                }
                let mut append_only = false;
                if requested & rights::FD_WRITE != 0 && !granted.contains(Rights::WRITE) {
                    if granted.contains(Rights::APPEND) && append {
                        append_only = true;
                    } else {
                        return Err(errno::NOTCAPABLE.into());
                    }
                }
                let truncating = of & oflags::TRUNC != 0 && r.ino.is_some();
                if truncating && !granted.contains(Rights::WRITE) {
                    return Err(errno::NOTCAPABLE.into());
                }
                let mut allowed = rights::FILE_ANY;
                if granted.contains(Rights::READ) {
                    allowed |= rights::FILE_READ;
                }
                if granted.contains(Rights::WRITE) {
                    allowed |= rights::FILE_WRITE;
                } else if granted.contains(Rights::APPEND) {
                    allowed |= rights::FILE_APPEND;
                }
                (requested & dir_inheriting & allowed, 0, append_only)
            }
        };
        if self.open_files >= self.config.max_open_files {
            return Err(HostError::Limit {
                limit: "max_open_files",
                detail: format!(
                    "opening `{}` would exceed {} open files",
                    display_path(&r.path),
                    self.config.max_open_files
                ),
            }
            .into());
        }
        // Every check has passed: from here on the call has its effects.
        let ino = match (r.ino, &r.name) {
            (Some(ino), _) => {
                if of & oflags::TRUNC != 0 && file_type == FileType::RegularFile {
                    fs.set_len(ino, 0)?;
                    self.record_written(&r.path);
                }
                ino
            }
            (None, Some(name)) => {
                let ino = fs.create_file(r.parent, name)?;
                self.record_written(&r.path);
                ino
            }
            (None, None) => return Err(errno::NOENT.into()),
        };
        fs.open(ino)?;
        drop(fs);
        let kind = if file_type == FileType::Directory {
            FdKind::Dir { ino, preopen: None }
        } else {
            if new_base & rights::FD_READ != 0 {
                self.read_paths.insert(display_path(&r.path));
            }
            FdKind::File {
                ino,
                pos: 0,
                append_only,
            }
        };
        let new_fd = self.free_fd();
        self.fds.insert(
            new_fd,
            FdEntry {
                kind,
                base: new_base,
                inheriting: new_inheriting,
                flags: ff,
                path: display_path(&r.path),
                counted: true,
            },
        );
        self.open_files += 1;
        Ok(mem::put_u32(mem, u(opened_fd), new_fd)?)
    }

    fn path_readlink_(
        &mut self,
        mem: &mut [u8],
        fd: i32,
        path: i32,
        len: i32,
        buf: i32,
        buf_len: i32,
        bufused: i32,
    ) -> Res {
        mem::range(mem, u(bufused), 4)?;
        mem::range(mem, u(buf), u64::from(u(buf_len)))?;
        let path = self.path_arg(mem, path, len)?;
        let fs = self.vfs.lock();
        let r = self.resolve(&fs, fd, rights::PATH_READLINK, &path, false)?;
        let ino = r.ino.ok_or(errno::NOENT)?;
        if fs.file_type(ino)? != FileType::Symlink {
            return Err(errno::INVAL.into());
        }
        self.require_map(&r.path, Rights::READ)?;
        let target = fs.readlink(ino)?.as_bytes().to_vec();
        drop(fs);
        let n = target.len().min(u(buf_len) as usize);
        mem::put(mem, u(buf), &target[..n])?;
        Ok(mem::put_u32(mem, u(bufused), n as u32)?)
    }

    fn path_remove_directory_(&mut self, mem: &mut [u8], fd: i32, path: i32, len: i32) -> Res {
        let path = self.path_arg(mem, path, len)?;
        let vfs = self.vfs.clone();
        let mut fs = vfs.lock();
        let r = self.resolve(&fs, fd, rights::PATH_REMOVE_DIRECTORY, &path, false)?;
        let Some(name) = &r.name else {
            return Err(errno::INVAL.into());
        };
        let ino = r.ino.ok_or(errno::NOENT)?;
        if fs.file_type(ino)? != FileType::Directory {
            return Err(errno::NOTDIR.into());
        }
        self.require_map(&r.path, Rights::WRITE)?;
        fs.remove_dir(r.parent, name)?;
        self.record_written(&r.path);
        Ok(())
    }

    fn path_rename_(
        &mut self,
        mem: &mut [u8],
        fd: i32,
        old_path: i32,
        old_len: i32,
        new_fd: i32,
        new_path: i32,
        new_len: i32,
    ) -> Res {
        let old_path = self.path_arg(mem, old_path, old_len)?;
        let new_path = self.path_arg(mem, new_path, new_len)?;
        let vfs = self.vfs.clone();
        let mut fs = vfs.lock();
        let old = self.resolve(&fs, fd, rights::PATH_RENAME_SOURCE, &old_path, false)?;
        let new = self.resolve(&fs, new_fd, rights::PATH_RENAME_TARGET, &new_path, false)?;
        let (Some(old_name), Some(new_name)) = (&old.name, &new.name) else {
            // `.`/`..` (or a pre-opened directory itself) cannot be renamed or replaced.
            return Err(errno::INVAL.into());
        };
        let ino = old.ino.ok_or(errno::NOENT)?;
        if (old.trailing_slash || new.trailing_slash) && fs.file_type(ino)? != FileType::Directory {
            return Err(errno::NOTDIR.into());
        }
        self.require_map(&old.path, Rights::WRITE)?;
        self.require_map(&new.path, Rights::WRITE)?;
        self.check_no_widening(&fs, ino, &old.path, &new.path)?;
        fs.rename(old.parent, old_name, new.parent, new_name)?;
        self.record_written(&old.path);
        self.record_written(&new.path);
        Ok(())
    }

    fn path_symlink_(
        &mut self,
        mem: &mut [u8],
        old_path: i32,
        old_len: i32,
        fd: i32,
        new_path: i32,
        new_len: i32,
    ) -> Res {
        let target = self.path_arg(mem, old_path, old_len)?;
        let new_path = self.path_arg(mem, new_path, new_len)?;
        let vfs = self.vfs.clone();
        let mut fs = vfs.lock();
        let r = self.resolve(&fs, fd, rights::PATH_SYMLINK, &new_path, false)?;
        let (None, Some(name)) = (r.ino, &r.name) else {
            return Err(errno::EXIST.into());
        };
        if r.trailing_slash {
            return Err(errno::NOENT.into());
        }
        self.require_map(&r.path, Rights::WRITE)?;
        fs.create_symlink(r.parent, name, &target)?;
        self.record_written(&r.path);
        Ok(())
    }

    fn path_unlink_file_(&mut self, mem: &mut [u8], fd: i32, path: i32, len: i32) -> Res {
        let path = self.path_arg(mem, path, len)?;
        let vfs = self.vfs.clone();
        let mut fs = vfs.lock();
        let r = self.resolve(&fs, fd, rights::PATH_UNLINK_FILE, &path, false)?;
        let ino = r.ino.ok_or(errno::NOENT)?;
        let Some(name) = &r.name else {
            return Err(errno::ISDIR.into());
        };
        match fs.file_type(ino)? {
            FileType::Directory => return Err(errno::ISDIR.into()),
            _ if r.trailing_slash => return Err(errno::NOTDIR.into()),
            _ => {}
        }
        self.require_map(&r.path, Rights::WRITE)?;
        fs.unlink(r.parent, name)?;
        self.record_written(&r.path);
        Ok(())
    }

    fn poll_oneoff_(
        &mut self,
        mem: &mut [u8],
        subs: i32,
        events: i32,
        nsubs: i32,
        nevents: i32,
    ) -> Res {
        let n = u(nsubs);
        if n == 0 {
            return Err(errno::INVAL.into());
        }
        mem::check_array(mem, u(subs), n, layout::SUBSCRIPTION)?;
        mem::check_array(mem, u(events), n, layout::EVENT)?;
        mem::range(mem, u(nevents), 4)?;

        struct Event {
            userdata: u64,
            error: u16,
            kind: u8,
            nbytes: u64,
            flags: u16,
        }
        let mut ready: Vec<Event> = Vec::new();
        // (userdata, nanoseconds from now until it fires)
        let mut clocks: Vec<(u64, u64)> = Vec::new();
        let fs = self.vfs.lock();
        for i in 0..n {
            let at = u(subs) + i * layout::SUBSCRIPTION;
            let userdata = mem::get_u64(mem, at)?;
            let tag = mem::get_u8(mem, at + 8)?;
            let event = |error: u16, nbytes: u64, flags: u16| Event {
                userdata,
                error,
                kind: tag,
                nbytes,
                flags,
            };
            match tag {
                eventtype::CLOCK => {
                    let id = mem::get_u32(mem, at + 16)?;
                    let timeout = mem::get_u64(mem, at + 24)?;
                    let flags = mem::get_u16(mem, at + 40)?;
                    match self.clock_now(id) {
                        Err(e) => ready.push(event(e, 0, 0)),
                        Ok(now) => {
                            let wait = if flags & subclockflags::ABSTIME != 0 {
                                timeout.saturating_sub(now)
                            } else {
                                timeout
                            };
                            clocks.push((userdata, wait));
                        }
                    }
                }
                eventtype::FD_READ | eventtype::FD_WRITE => {
                    let fd = mem::get_u32(mem, at + 16)?;
                    let needed = rights::POLL_FD_READWRITE
                        | if tag == eventtype::FD_READ {
                            rights::FD_READ
                        } else {
                            rights::FD_WRITE
                        };
                    let e = match self.fds.get(&fd) {
                        None => {
                            ready.push(event(errno::BADF, 0, 0));
                            continue;
                        }
                        Some(e) if e.base & needed != needed => {
                            ready.push(event(errno::NOTCAPABLE, 0, 0));
                            continue;
                        }
                        Some(e) => e,
                    };
                    // Everything is in memory: reads and writes never block. For reads, report
                    // what is left, and hang-up at the end of stdin (there is no more to come).
                    let ev = match (&e.kind, tag) {
                        (FdKind::Dir { .. }, _) => event(errno::BADF, 0, 0),
                        (FdKind::Stream(Stream::Stdin), eventtype::FD_READ) => {
                            let left = (fs.stream(Stream::Stdin).len() as u64)
                                .saturating_sub(self.stdin_pos);
                            let flags = if left == 0 { eventrwflags::HANGUP } else { 0 };
                            event(0, left, flags)
                        }
                        (FdKind::File { ino, pos, .. }, eventtype::FD_READ) => {
                            event(0, fs.file_len(*ino)?.saturating_sub(*pos), 0)
                        }
                        _ => event(0, 0, 0),
                    };
                    ready.push(ev);
                }
                _ => return Err(errno::INVAL.into()),
            }
        }
        drop(fs);
        // Without anything else ready, sleep until the first clock fires; either way report
        // every clock that has fired by then.
        let mut slept = 0;
        if ready.is_empty() {
            // Only clock subscriptions: sleep until the first fires, then report all that have.
            let wait = clocks.iter().map(|(_, w)| *w).min().unwrap_or(0);
            if wait > nanos(self.config.max_poll_sleep) {
                return Err(HostError::Limit {
                    limit: "max_poll_sleep",
                    detail: format!(
                        "poll_oneoff asked to sleep {wait} ns, more than the {} ns allowed",
                        nanos(self.config.max_poll_sleep)
                    ),
                }
                .into());
            }
            std::thread::sleep(Duration::from_nanos(wait));
            slept = wait;
        }
        for (userdata, w) in clocks {
            if w <= slept {
                ready.push(Event {
                    userdata,
                    error: 0,
                    kind: eventtype::CLOCK,
                    nbytes: 0,
                    flags: 0,
                });
            }
        }
        for (i, ev) in ready.iter().enumerate() {
            let mut b = [0u8; layout::EVENT as usize];
            b[0..8].copy_from_slice(&ev.userdata.to_le_bytes());
            b[8..10].copy_from_slice(&ev.error.to_le_bytes());
            b[10] = ev.kind;
            b[16..24].copy_from_slice(&ev.nbytes.to_le_bytes());
            b[24..26].copy_from_slice(&ev.flags.to_le_bytes());
            mem::put(mem, u(events) + i as u32 * layout::EVENT, &b)?;
        }
        Ok(mem::put_u32(mem, u(nevents), ready.len() as u32)?)
    }

    fn proc_exit_(&mut self, _mem: &mut [u8], code: i32) -> Res {
        Err(HostError::Exit(code).into())
    }

    fn proc_raise_(&mut self, _mem: &mut [u8], signal: i32) -> Res {
        if !(0..=i32::from(SIGNAL_MAX)).contains(&signal) {
            return Err(errno::INVAL.into());
        }
        Err(HostError::Trap(format!("the program raised signal {signal} (proc_raise)")).into())
    }

    fn sched_yield_(&mut self, _mem: &mut [u8]) -> Res {
        std::thread::yield_now();
        Ok(())
    }

    fn random_get_(&mut self, mem: &mut [u8], buf: i32, len: i32) -> Res {
        let dst = mem::bytes_mut(mem, u(buf), u(len))?;
        getrandom::getrandom(dst).map_err(|e| {
            tracing::error!(target: "wasi", "secure random source failed: {e}");
            errno::IO
        })?;
        Ok(())
    }

    fn sock_accept_(&mut self, _mem: &mut [u8], fd: i32, _flags: i32, _opened: i32) -> Res {
        self.entry(fd)?;
        Err(errno::NOTSUP.into())
    }

    fn sock_recv_(
        &mut self,
        _mem: &mut [u8],
        fd: i32,
        _ri_data: i32,
        _ri_data_len: i32,
        _ri_flags: i32,
        _ro_datalen: i32,
        _ro_flags: i32,
    ) -> Res {
        self.entry(fd)?;
        Err(errno::NOTSUP.into())
    }

    fn sock_send_(
        &mut self,
        _mem: &mut [u8],
        fd: i32,
        _si_data: i32,
        _si_data_len: i32,
        _si_flags: i32,
        _so_datalen: i32,
    ) -> Res {
        self.entry(fd)?;
        Err(errno::NOTSUP.into())
    }

    fn sock_shutdown_(&mut self, _mem: &mut [u8], fd: i32, _how: i32) -> Res {
        self.entry(fd)?;
        Err(errno::NOTSUP.into())
    }
}
