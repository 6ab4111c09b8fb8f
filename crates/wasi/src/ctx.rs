//! The per-run WASI state: configuration, descriptor table, pre-opens, limits and the record of
//! which paths the program read and wrote.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use veracruz_policy::{CapPath, CapabilityMap, Rights, Stream};
use veracruz_vfs::{
    display_path, rights_at, visible, FileType, Fs, Handle, Ino, Resolved, Vfs, VfsError,
};

use crate::mem::Errno;
use crate::types::{errno, rights};
use crate::HostError;

/// Settings of one program run.
#[derive(Clone, Debug)]
pub struct WasiConfig {
    /// `argv`, including `argv[0]`.
    pub args: Vec<String>,
    /// Environment variables, passed to the program as `KEY=VALUE`.
    pub env: Vec<(String, String)>,
    /// Allow the clocks (and clock subscriptions in `poll_oneoff`); otherwise they answer
    /// `EACCES` and runs are deterministic.
    pub enable_clock: bool,
    /// Bytes the program may write in total, to files and streams (file growth through
    /// `fd_filestat_set_size`/`fd_allocate` counts too).
    pub max_output_bytes: u64,
    /// Descriptors the program may hold open at once through `path_open` (the standard streams
    /// and pre-opened directories are not counted).
    pub max_open_files: u32,
    /// Log every call with its arguments and errno (tracing target `wasi`).
    pub trace: bool,
    /// Longest a single `poll_oneoff` may sleep on clock subscriptions; a longer request stops
    /// the program with [`HostError::Limit`] instead of blocking the host thread.
    pub max_poll_sleep: Duration,
}

impl Default for WasiConfig {
    fn default() -> Self {
        WasiConfig {
            args: Vec::new(),
            env: Vec::new(),
            enable_clock: false,
            max_output_bytes: 1 << 30,
            max_open_files: 1024,
            trace: false,
            max_poll_sleep: Duration::from_secs(10),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum FdKind {
    Stream(Stream),
    File {
        ino: Ino,
        pos: u64,
        /// Opened through an `a`-only capability: writes must append, whatever the flags say.
        append_only: bool,
    },
    Dir {
        ino: Ino,
        /// The guest-visible name if this is a pre-opened directory.
        preopen: Option<String>,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct FdEntry {
    pub kind: FdKind,
    pub base: u64,
    pub inheriting: u64,
    pub flags: u16,
    /// Canonical path at open time (`stdin`, `stdout`, `stderr` for the streams), for the
    /// read/write record.
    pub path: String,
    /// Counted against `max_open_files`.
    pub counted: bool,
}

/// Why a call did not succeed: an errno for the guest, or a condition that stops the program.
pub(crate) enum Fail {
    Errno(Errno),
    Host(HostError),
}

impl From<Errno> for Fail {
    fn from(e: Errno) -> Fail {
        Fail::Errno(e)
    }
}

impl From<HostError> for Fail {
    fn from(e: HostError) -> Fail {
        Fail::Host(e)
    }
}

impl From<VfsError> for Fail {
    fn from(e: VfsError) -> Fail {
        Fail::Errno(vfs_errno(&e))
    }
}

pub(crate) type Res<T = ()> = Result<T, Fail>;

/// The WASI errno for a VFS error.
pub fn vfs_errno(e: &VfsError) -> u16 {
    match e {
        VfsError::NotFound { .. } => errno::NOENT,
        VfsError::Exists { .. } => errno::EXIST,
        VfsError::NotDir { .. } => errno::NOTDIR,
        VfsError::IsDir { .. } => errno::ISDIR,
        VfsError::NotEmpty { .. } => errno::NOTEMPTY,
        VfsError::Loop { .. } | VfsError::Symlink { .. } => errno::LOOP,
        VfsError::Escape { .. } | VfsError::NotCapable { .. } | VfsError::Denied { .. } => {
            errno::NOTCAPABLE
        }
        VfsError::BadPath { .. }
        | VfsError::InvalidPath { .. }
        | VfsError::InvalidOperation { .. } => errno::INVAL,
        VfsError::NameTooLong { .. } => errno::NAMETOOLONG,
        VfsError::LinkToDirectory { .. } => errno::PERM,
        VfsError::QuotaExceeded { .. } => errno::NOSPC,
        VfsError::TooLarge { .. } => errno::FBIG,
        VfsError::Host { .. } | VfsError::HostRefused { .. } => errno::IO,
    }
}

/// Rights every stream descriptor has.
const STREAM_ANY: u64 = rights::FD_FILESTAT_GET | rights::FD_FDSTAT_SET_FLAGS | rights::FD_SYNC;

/// The WASI state of one program run over a VFS handle whose capability map is the program's.
///
/// Descriptors 0, 1 and 2 are the named streams `stdin`, `stdout` and `stderr`, with rights from
/// the map's entries for them (`r` for stdin reads, `w` or `a` for stdout/stderr writes).
/// Pre-opened directories follow from fd 3, derived from the map: if the map grants anything on
/// `/` itself, `/` is the single pre-open; otherwise each top-level directory `/NAME` with some
/// right at or beneath it is pre-opened as `/NAME`, in name order (and created if missing; a
/// top-level name that is a regular file in the VFS is not pre-opened).
/// One entry of a directory listing as `fd_readdir` reports it: name, inode, type.
pub(crate) type DirListing = (String, Ino, FileType);

pub struct WasiCtx {
    pub(crate) config: WasiConfig,
    pub(crate) vfs: Vfs,
    pub(crate) caps: Arc<CapabilityMap>,
    pub(crate) fds: BTreeMap<u32, FdEntry>,
    /// Each directory descriptor's listing as of its last `fd_readdir` from cookie 0. Guests
    /// read a directory in many small calls; rebuilding the listing on each one would make
    /// reading a directory quadratic in its size.
    pub(crate) listings: BTreeMap<u32, Arc<Vec<DirListing>>>,
    pub(crate) stdin_pos: u64,
    pub(crate) output_bytes: u64,
    pub(crate) open_files: u32,
    pub(crate) read_paths: BTreeSet<String>,
    pub(crate) written_paths: BTreeSet<String>,
    pub(crate) started: Instant,
    stdout_start: u64,
    stderr_start: u64,
}

impl std::fmt::Debug for WasiCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasiCtx")
            .field("config", &self.config)
            .field("fds", &self.fds.len())
            .field("output_bytes", &self.output_bytes)
            .finish()
    }
}

impl WasiCtx {
    /// Sets up the descriptor table for a run. Fails only if a pre-opened directory cannot be
    /// created in the VFS (e.g. the quota is exhausted).
    pub fn new(config: WasiConfig, handle: Handle) -> Result<WasiCtx, HostError> {
        let caps = Arc::new(handle.capabilities().clone());
        let vfs = handle.vfs().clone();
        let mut ctx = WasiCtx {
            config,
            vfs: vfs.clone(),
            caps: caps.clone(),
            fds: BTreeMap::new(),
            listings: BTreeMap::new(),
            stdin_pos: 0,
            output_bytes: 0,
            open_files: 0,
            read_paths: BTreeSet::new(),
            written_paths: BTreeSet::new(),
            started: Instant::now(),
            stdout_start: 0,
            stderr_start: 0,
        };
        for (fd, stream) in [(0, Stream::Stdin), (1, Stream::Stdout), (2, Stream::Stderr)] {
            let granted = caps.rights_for_path(&CapPath::Stream(stream));
            let base = STREAM_ANY
                | match stream {
                    Stream::Stdin if granted.contains(Rights::READ) => {
                        rights::FD_READ | rights::POLL_FD_READWRITE
                    }
                    Stream::Stdout | Stream::Stderr if granted.can_modify() => {
                        rights::FD_WRITE | rights::FD_DATASYNC | rights::POLL_FD_READWRITE
                    }
                    _ => 0,
                };
            ctx.fds.insert(
                fd,
                FdEntry {
                    kind: FdKind::Stream(stream),
                    base,
                    inheriting: 0,
                    flags: if stream == Stream::Stdin {
                        0
                    } else {
                        crate::types::fdflags::APPEND
                    },
                    path: stream.as_str().to_string(),
                    counted: false,
                },
            );
        }
        let mut fs = vfs.lock();
        ctx.stdout_start = fs.stream(Stream::Stdout).len() as u64;
        ctx.stderr_start = fs.stream(Stream::Stderr).len() as u64;
        let mut next_fd = 3;
        for components in preopen_dirs(&caps) {
            let ino = match fs.create_dir_all(&components) {
                Ok(ino) => ino,
                Err(VfsError::NotDir { .. } | VfsError::Symlink { .. }) => {
                    tracing::debug!(target: "wasi", path = %display_path(&components), "not pre-opened: not a directory");
                    continue;
                }
                Err(e) => return Err(HostError::Vfs(e)),
            };
            fs.open(ino)?;
            let (base, inheriting) = ctx.dir_rights(&components);
            let name = display_path(&components);
            ctx.fds.insert(
                next_fd,
                FdEntry {
                    kind: FdKind::Dir {
                        ino,
                        preopen: Some(name.clone()),
                    },
                    base,
                    inheriting,
                    flags: 0,
                    path: name,
                    counted: false,
                },
            );
            next_fd += 1;
        }
        drop(fs);
        Ok(ctx)
    }

    pub fn config(&self) -> &WasiConfig {
        &self.config
    }

    /// The VFS the program runs over.
    pub fn vfs(&self) -> &Vfs {
        &self.vfs
    }

    /// The program's capability map.
    pub fn capabilities(&self) -> &CapabilityMap {
        &self.caps
    }

    /// The pre-opened directories: descriptor and guest-visible name.
    pub fn preopens(&self) -> Vec<(u32, String)> {
        self.fds
            .iter()
            .filter_map(|(fd, e)| match &e.kind {
                FdKind::Dir {
                    preopen: Some(name),
                    ..
                } => Some((*fd, name.clone())),
                _ => None,
            })
            .collect()
    }

    /// Canonical VFS paths of files the program opened for reading (and `stdin` if it read it),
    /// as they were named when opened.
    pub fn paths_read(&self) -> &BTreeSet<String> {
        &self.read_paths
    }

    /// Canonical VFS paths the program created, wrote, truncated, linked, renamed (both ends) or
    /// removed, and `stdout`/`stderr` if it wrote them.
    pub fn paths_written(&self) -> &BTreeSet<String> {
        &self.written_paths
    }

    /// Bytes the program has written so far (counted against `max_output_bytes`).
    pub fn output_bytes(&self) -> u64 {
        self.output_bytes
    }

    /// What the program wrote to stdout during this run.
    pub fn stdout(&self) -> Vec<u8> {
        self.stream_since(Stream::Stdout, self.stdout_start)
    }

    /// What the program wrote to stderr during this run.
    pub fn stderr(&self) -> Vec<u8> {
        self.stream_since(Stream::Stderr, self.stderr_start)
    }

    fn stream_since(&self, s: Stream, start: u64) -> Vec<u8> {
        let fs = self.vfs.lock();
        let data = fs.stream(s);
        let start = usize::try_from(start).unwrap_or(usize::MAX).min(data.len());
        data[start..].to_vec()
    }

    pub(crate) fn map_rights(&self, path: &[String]) -> Rights {
        rights_at(&self.caps, path)
    }

    /// Rights granted at `path` or by any entry beneath it.
    fn rights_beneath(&self, path: &[String]) -> Rights {
        let here = CapPath::Tree(path.to_vec());
        self.caps
            .entries()
            .filter(|(p, _)| here.covers(p))
            .fold(self.map_rights(path), |acc, (_, r)| acc | r)
    }

    /// WASI rights (base, inheriting) of a descriptor for the directory at `path`. They are an
    /// upper bound advertised to the guest; every path operation is still checked against the
    /// capability map on the exact path it touches.
    pub(crate) fn dir_rights(&self, path: &[String]) -> (u64, u64) {
        let here = self.map_rights(path);
        let beneath = self.rights_beneath(path);
        let mut base = rights::DIR_ANY;
        let mut inheriting = rights::DIR_ANY | rights::FILE_ANY;
        if here.contains(Rights::READ) {
            base |= rights::FD_READDIR;
        }
        if beneath.contains(Rights::READ) {
            base |= rights::DIR_READ & !rights::FD_READDIR;
            inheriting |= rights::DIR_READ | rights::FILE_READ;
        }
        if beneath.contains(Rights::WRITE) {
            base |= rights::DIR_WRITE;
            inheriting |= rights::DIR_WRITE | rights::FILE_WRITE;
        }
        if beneath.contains(Rights::APPEND) {
            base |= rights::DIR_APPEND;
            inheriting |= rights::DIR_APPEND | rights::FILE_APPEND;
        }
        (base, inheriting)
    }

    pub(crate) fn entry(&self, fd: i32) -> Res<&FdEntry> {
        u32::try_from(fd)
            .ok()
            .and_then(|fd| self.fds.get(&fd))
            .ok_or(Fail::Errno(errno::BADF))
    }

    pub(crate) fn entry_mut(&mut self, fd: i32) -> Res<&mut FdEntry> {
        u32::try_from(fd)
            .ok()
            .and_then(|fd| self.fds.get_mut(&fd))
            .ok_or(Fail::Errno(errno::BADF))
    }

    /// The descriptor, if it has all of `needed`.
    pub(crate) fn require(&self, fd: i32, needed: u64) -> Res<&FdEntry> {
        let e = self.entry(fd)?;
        if e.base & needed != needed {
            return Err(errno::NOTCAPABLE.into());
        }
        Ok(e)
    }

    /// A directory descriptor with all of `needed` (`ENOTDIR` for other descriptors).
    pub(crate) fn dir_fd(&self, fd: i32, needed: u64) -> Res<Ino> {
        let e = self.entry(fd)?;
        let FdKind::Dir { ino, .. } = e.kind else {
            return Err(errno::NOTDIR.into());
        };
        if e.base & needed != needed {
            return Err(errno::NOTCAPABLE.into());
        }
        Ok(ino)
    }

    /// Resolves a guest path relative to a directory descriptor, confined to that directory
    /// and to what the capability map makes visible.
    pub(crate) fn resolve(
        &self,
        fs: &Fs,
        fd: i32,
        needed: u64,
        path: &str,
        follow: bool,
    ) -> Res<Resolved> {
        let dir = self.dir_fd(fd, needed)?;
        let caps = &self.caps;
        Ok(fs.resolve(dir, path, follow, &|p| visible(caps, p))?)
    }

    /// Fails unless the map grants `needed` on `path`.
    pub(crate) fn require_map(&self, path: &[String], needed: Rights) -> Res {
        if self.map_rights(path).contains(needed) {
            Ok(())
        } else {
            Err(errno::NOTCAPABLE.into())
        }
    }

    /// Counts `bytes` against `max_output_bytes`, stopping the program if it would exceed it.
    pub(crate) fn charge_output(&mut self, bytes: u64) -> Res {
        let total = self.output_bytes.saturating_add(bytes);
        if total > self.config.max_output_bytes {
            return Err(HostError::Limit {
                limit: "max_output_bytes",
                detail: format!(
                    "writing {bytes} more bytes would bring the total to {total}, over the limit of {}",
                    self.config.max_output_bytes
                ),
            }
            .into());
        }
        self.output_bytes = total;
        Ok(())
    }

    /// The lowest free descriptor number.
    pub(crate) fn free_fd(&self) -> u32 {
        (0..).find(|fd| !self.fds.contains_key(fd)).unwrap_or(0)
    }

    /// Removes a descriptor and releases what it held.
    pub(crate) fn drop_fd(&mut self, fs: &mut Fs, fd: u32) -> Option<FdEntry> {
        self.listings.remove(&fd);
        let e = self.fds.remove(&fd)?;
        match e.kind {
            FdKind::File { ino, .. } | FdKind::Dir { ino, .. } => fs.close(ino),
            FdKind::Stream(_) => {}
        }
        if e.counted {
            self.open_files -= 1;
        }
        Some(e)
    }

    pub(crate) fn record_written(&mut self, path: &[String]) {
        self.written_paths.insert(display_path(path));
    }
}

impl Drop for WasiCtx {
    fn drop(&mut self) {
        let vfs = self.vfs.clone();
        let mut fs = vfs.lock();
        let fds: Vec<u32> = self.fds.keys().copied().collect();
        for fd in fds {
            self.drop_fd(&mut fs, fd);
        }
    }
}

/// The directories pre-opened for a capability map (see [`WasiCtx`]).
pub fn preopen_dirs(caps: &CapabilityMap) -> Vec<Vec<String>> {
    if !rights_at(caps, &[]).is_empty() {
        return vec![Vec::new()];
    }
    let tops: BTreeSet<String> = caps
        .entries()
        .filter_map(|(p, _)| match p {
            CapPath::Tree(c) => c.first().cloned(),
            CapPath::Stream(_) => None,
        })
        .collect();
    tops.into_iter()
        .map(|t| vec![t])
        .filter(|c| visible(caps, c))
        .collect()
}

/// The WASI file type of a VFS inode.
pub(crate) fn wasi_filetype(t: FileType) -> u8 {
    use crate::types::filetype;
    match t {
        FileType::RegularFile => filetype::REGULAR_FILE,
        FileType::Directory => filetype::DIRECTORY,
        FileType::Symlink => filetype::SYMBOLIC_LINK,
        FileType::CharacterDevice => filetype::CHARACTER_DEVICE,
    }
}
