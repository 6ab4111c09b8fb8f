//! Host side of the `linux` isolate: start the runtime executable as the first process of
//! fresh user, mount, PID, network, IPC, UTS and cgroup namespaces, with an empty read-only
//! root file system (see [`LibraryDirs`] for dynamically linked executables), memory and
//! file-descriptor rlimits, `no_new_privs`, and only stdio and one Unix stream socket open;
//! then supervise it.
//!
//! Why `clone(2)` and not `std::process::Command`: a new PID namespace only applies to the
//! *children* of the process that creates it, so the runtime must be created by a `clone`
//! that carries `CLONE_NEWPID` itself. `Command`'s `pre_exec` hook runs in the already-forked
//! child, where `unshare(CLONE_NEWPID)` would leave the runtime in the host's PID namespace.
//!
//! The cloned child runs the steps of [`ChildStep`] in order. It is a copy of a possibly
//! multi-threaded host, so until `execveat` it may only make raw system calls: it never
//! allocates, locks or logs. Everything it needs (C strings, pointer arrays, file descriptors)
//! is prepared by the host before the `clone`. A failing step writes its number and errno to a
//! close-on-exec pipe; a successful `execveat` closes that pipe, which is how the host knows
//! the runtime started.

use std::convert::Infallible;
use std::ffi::{CStr, CString, OsString};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;
use nix::sys::signal::{SigHandler, SigSet, Signal};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};
use rustix::process::{DumpableBehavior, Pid, Resource, Rlimit, WaitOptions};
use rustix::thread::{Gid, Uid};

use crate::error::IsolateError;
use crate::inspect::{self, ProcessView};

/// The file descriptor number at which the runtime finds its end of the socket pair.
pub const CHILD_SOCKET_FD: RawFd = 3;

/// Environment variable that tells the runtime [`CHILD_SOCKET_FD`]; read by
/// [`crate::take_inherited_socket`].
pub const SOCKET_FD_ENV: &str = "VERACRUZ_ISOLATE_SOCKET_FD";

/// Default memory the runtime may use on top of the policy's program memory limit: its own
/// code, thread stacks, TLS state, the compiled program and the in-memory file system that
/// holds the provisioned data. Deployments with large inputs must raise it.
pub const DEFAULT_RUNTIME_HEADROOM: u64 = 512 * 1024 * 1024;

/// Default `RLIMIT_NOFILE`: the runtime needs stdio, the socket, an epoll instance and a few
/// eventfds; 64 leaves room without letting it hoard descriptors.
pub const DEFAULT_MAX_OPEN_FILES: u64 = 64;

/// User and group id of the runtime *inside* its user namespace: deliberately not 0, so the
/// runtime holds no capabilities at all after `execve`, not even namespaced ones.
pub const DEFAULT_INNER_ID: u32 = 1000;

/// Host uid/gid the inner id maps to when the host runs as root: `nobody`/`nogroup`, so the
/// runtime is not host root even to the discretionary access checks of the host's kernel.
pub const NOBODY_ID: u32 = 65534;

/// Hostname the runtime sees in its UTS namespace.
pub const DEFAULT_HOSTNAME: &str = "veracruz-isolate";

/// Existing directory over which the child mounts its new, empty root (inside its own mount
/// namespace only; the host's `/tmp` is untouched). bubblewrap uses the same base.
const STAGING_DIR: &CStr = c"/tmp";
const STAGING_PROC: &CStr = c"/tmp/proc";
/// Small: the new root only holds mount points and a few symbolic links.
const ROOT_TMPFS_OPTIONS: &CStr = c"size=64k,nr_inodes=64,mode=0755";
/// Only the runtime's own `/proc/<pid>` directories (and `self`), not `/proc/sys` and the like.
const PROC_OPTIONS: &CStr = c"subset=pid";
/// Stack of the cloned child until it executes the runtime; its steps are shallow.
const CHILD_STACK_SIZE: usize = 256 * 1024;
/// Descriptors the child needs are moved at or above this number before the clone, so that
/// placing stdio and the socket at 0..=3 can never overwrite one of them.
const CHILD_FD_FLOOR: RawFd = 10;

/// Where the runtime's standard output or error goes. Its standard input is always
/// `/dev/null`: the runtime reads nothing from the host but the socket.
#[derive(Debug, Clone, Default)]
pub enum ChildStdio {
    /// The host's own descriptor.
    #[default]
    Inherit,
    /// `/dev/null`.
    Null,
    /// This descriptor (a pipe, a log file).
    Fd(Arc<OwnedFd>),
}

/// Host directories a dynamically linked runtime needs for its loader and shared libraries.
/// They appear read-only (and `nosuid`, `nodev`) at the same paths in the otherwise empty root;
/// a symbolic link (e.g. merged-`/usr` `/lib -> usr/lib`) is recreated as the same link.
#[derive(Debug, Clone, Default)]
pub enum LibraryDirs {
    /// [`DEFAULT_LIBRARY_DIRS`] that exist, if the executable has an ELF interpreter
    /// (`PT_INTERP`); none for a static executable, whose root then stays empty.
    #[default]
    Auto,
    /// None: for static executables.
    None,
    /// Exactly these absolute paths (each must exist).
    Dirs(Vec<PathBuf>),
}

/// Where the dynamic loader of Linux distributions finds the C library and its neighbours.
pub const DEFAULT_LIBRARY_DIRS: [&str; 4] = ["/lib", "/lib64", "/usr/lib", "/usr/lib64"];

/// What to start and how to confine it.
#[derive(Debug, Clone)]
pub struct IsolateConfig {
    /// The runtime executable. The host opens it before the fork; the child executes it from
    /// that descriptor, since the path does not exist in the child's empty root.
    pub executable: PathBuf,
    /// Arguments after `argv[0]` (which is the executable's path).
    pub args: Vec<OsString>,
    /// The runtime's whole environment (nothing of the host's is passed on), plus
    /// [`SOCKET_FD_ENV`].
    pub env: Vec<(OsString, OsString)>,
    /// The policy's memory limit for programs, in bytes.
    pub memory_limit: u64,
    /// Memory for the runtime itself on top of `memory_limit`; see [`DEFAULT_RUNTIME_HEADROOM`].
    /// `RLIMIT_DATA` is set to the sum.
    pub runtime_headroom: u64,
    /// Optional `RLIMIT_AS`. Off by default: wasmtime reserves several GiB of address space
    /// per linear memory (inaccessible guard regions), which `RLIMIT_AS` counts but
    /// `RLIMIT_DATA` does not, so `RLIMIT_DATA` is the limit that tracks real memory.
    pub address_space_limit: Option<u64>,
    /// `RLIMIT_NOFILE`.
    pub max_open_files: u64,
    /// Hostname inside the UTS namespace.
    pub hostname: String,
    /// Mount a read-only procfs of the new PID namespace at `/proc`, showing only the
    /// runtime's own process, so it can hash `/proc/self/exe` before confining itself.
    pub mount_proc: bool,
    /// Read-only library directories in the new root; see [`LibraryDirs`].
    pub library_dirs: LibraryDirs,
    /// Uid inside the user namespace.
    pub inner_uid: u32,
    /// Gid inside the user namespace.
    pub inner_gid: u32,
    /// Host uid the inner uid maps to; default: [`NOBODY_ID`] when the host is root, else the
    /// host's effective uid (the only id an unprivileged host may map).
    pub outside_uid: Option<u32>,
    /// Host gid the inner gid maps to; default as for `outside_uid`.
    pub outside_gid: Option<u32>,
    /// The runtime's standard output.
    pub stdout: ChildStdio,
    /// The runtime's standard error (its logs).
    pub stderr: ChildStdio,
}

impl IsolateConfig {
    /// A configuration with the defaults documented on each field.
    pub fn new(executable: impl Into<PathBuf>, memory_limit: u64) -> Self {
        IsolateConfig {
            executable: executable.into(),
            args: Vec::new(),
            env: Vec::new(),
            memory_limit,
            runtime_headroom: DEFAULT_RUNTIME_HEADROOM,
            address_space_limit: None,
            max_open_files: DEFAULT_MAX_OPEN_FILES,
            hostname: DEFAULT_HOSTNAME.to_owned(),
            mount_proc: true,
            library_dirs: LibraryDirs::Auto,
            inner_uid: DEFAULT_INNER_ID,
            inner_gid: DEFAULT_INNER_ID,
            outside_uid: None,
            outside_gid: None,
            stdout: ChildStdio::Inherit,
            stderr: ChildStdio::Inherit,
        }
    }

    /// The `RLIMIT_DATA` the runtime gets: program memory limit plus runtime headroom.
    pub fn data_limit(&self) -> u64 {
        self.memory_limit.saturating_add(self.runtime_headroom)
    }
}

/// The confinement steps the child performs between `clone` and `execveat`, in this order.
/// A failure is reported to the host as the step plus errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ChildStep {
    /// Wait until the host has written the user namespace's id maps.
    WaitForIdMaps = 1,
    /// `setgroups([])`: drop the host's supplementary groups (root host only).
    DropGroups,
    /// `setresgid` to the inner gid.
    SetGid,
    /// `setresuid` to the inner uid.
    SetUid,
    /// Make every mount private, so nothing propagates back to the host.
    MakeMountsPrivate,
    /// Mount the tmpfs that becomes the new root.
    MountRootTmpfs,
    /// Create `/proc` in the new root.
    MakeProcDir,
    /// Mount a procfs of the new PID namespace.
    MountProc,
    /// Create a mount point for a library directory.
    MakeLibraryDir,
    /// Recreate a symbolic link to a library directory.
    LinkLibraryDir,
    /// Bind-mount a library directory.
    BindLibraryDir,
    /// Make that bind mount read-only.
    ReadOnlyLibraryDir,
    /// `chdir` into the new root.
    EnterNewRoot,
    /// `pivot_root(".", ".")`.
    PivotRoot,
    /// Detach the host's file system tree.
    DetachOldRoot,
    /// `chdir("/")` in the new root.
    ChdirRoot,
    /// Remount the new root read-only.
    RemountRootReadOnly,
    /// `sethostname` in the new UTS namespace.
    SetHostname,
    /// `RLIMIT_DATA`.
    LimitData,
    /// `RLIMIT_AS`.
    LimitAddressSpace,
    /// `RLIMIT_NOFILE`.
    LimitOpenFiles,
    /// `RLIMIT_CORE` = 0.
    LimitCore,
    /// `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivs,
    /// `PR_SET_DUMPABLE` 0 (for the moments until exec; the runtime sets it again).
    NotDumpable,
    /// Empty signal mask and default `SIGPIPE`, as a freshly started program expects.
    ResetSignals,
    /// `setsid`: a session of its own, without a controlling terminal.
    NewSession,
    /// Standard input, output and error.
    Stdio,
    /// The socket at [`CHILD_SOCKET_FD`].
    Socket,
    /// Mark every other descriptor close-on-exec (`close_range`).
    CloseOtherFds,
    /// `execveat` of the runtime executable.
    Exec,
}

impl ChildStep {
    const ALL: [ChildStep; 30] = [
        ChildStep::WaitForIdMaps,
        ChildStep::DropGroups,
        ChildStep::SetGid,
        ChildStep::SetUid,
        ChildStep::MakeMountsPrivate,
        ChildStep::MountRootTmpfs,
        ChildStep::MakeProcDir,
        ChildStep::MountProc,
        ChildStep::MakeLibraryDir,
        ChildStep::LinkLibraryDir,
        ChildStep::BindLibraryDir,
        ChildStep::ReadOnlyLibraryDir,
        ChildStep::EnterNewRoot,
        ChildStep::PivotRoot,
        ChildStep::DetachOldRoot,
        ChildStep::ChdirRoot,
        ChildStep::RemountRootReadOnly,
        ChildStep::SetHostname,
        ChildStep::LimitData,
        ChildStep::LimitAddressSpace,
        ChildStep::LimitOpenFiles,
        ChildStep::LimitCore,
        ChildStep::NoNewPrivs,
        ChildStep::NotDumpable,
        ChildStep::ResetSignals,
        ChildStep::NewSession,
        ChildStep::Stdio,
        ChildStep::Socket,
        ChildStep::CloseOtherFds,
        ChildStep::Exec,
    ];

    fn from_u32(raw: u32) -> Option<ChildStep> {
        ChildStep::ALL.into_iter().find(|s| *s as u32 == raw)
    }

    /// What the step does, naming the namespace it acts in.
    pub fn describe(self) -> &'static str {
        match self {
            ChildStep::WaitForIdMaps => "waiting for the host to write the user namespace id maps",
            ChildStep::DropGroups => "setgroups([]) in the new user namespace",
            ChildStep::SetGid => "setresgid to the inner gid (user namespace)",
            ChildStep::SetUid => "setresuid to the inner uid (user namespace)",
            ChildStep::MakeMountsPrivate => "mount --make-rprivate / (mount namespace)",
            ChildStep::MountRootTmpfs => "mount tmpfs for the new root on /tmp (mount namespace)",
            ChildStep::MakeProcDir => "mkdir /proc in the new root (mount namespace)",
            ChildStep::MountProc => {
                "mount procfs of the new PID namespace, read-only, subset=pid (mount namespace)"
            }
            ChildStep::MakeLibraryDir => {
                "mkdir of a library mount point in the new root (mount namespace)"
            }
            ChildStep::LinkLibraryDir => {
                "symlink of a library directory in the new root (mount namespace)"
            }
            ChildStep::BindLibraryDir => "bind mount of a library directory (mount namespace)",
            ChildStep::ReadOnlyLibraryDir => {
                "remount of a library directory read-only, nosuid, nodev (mount namespace)"
            }
            ChildStep::EnterNewRoot => "chdir into the new root (mount namespace)",
            ChildStep::PivotRoot => "pivot_root(\".\", \".\") (mount namespace)",
            ChildStep::DetachOldRoot => "umount2 of the host's root, MNT_DETACH (mount namespace)",
            ChildStep::ChdirRoot => "chdir(\"/\") in the new root (mount namespace)",
            ChildStep::RemountRootReadOnly => "remount the new root read-only (mount namespace)",
            ChildStep::SetHostname => "sethostname (UTS namespace)",
            ChildStep::LimitData => "setrlimit(RLIMIT_DATA)",
            ChildStep::LimitAddressSpace => "setrlimit(RLIMIT_AS)",
            ChildStep::LimitOpenFiles => "setrlimit(RLIMIT_NOFILE)",
            ChildStep::LimitCore => "setrlimit(RLIMIT_CORE, 0)",
            ChildStep::NoNewPrivs => "prctl(PR_SET_NO_NEW_PRIVS, 1)",
            ChildStep::NotDumpable => "prctl(PR_SET_DUMPABLE, 0)",
            ChildStep::ResetSignals => "resetting the signal mask and SIGPIPE",
            ChildStep::NewSession => "setsid (no controlling terminal)",
            ChildStep::Stdio => "dup2 of standard input, output and error",
            ChildStep::Socket => "dup2 of the socket to fd 3",
            ChildStep::CloseOtherFds => "close_range(4.., CLOSE_RANGE_CLOEXEC)",
            ChildStep::Exec => "execveat of the runtime executable",
        }
    }
}

impl fmt::Display for ChildStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// How the runtime process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolateExit {
    /// It exited with this status.
    Exited(i32),
    /// A signal with this number killed it.
    Signaled(i32),
}

impl IsolateExit {
    /// Exit status 0.
    pub fn success(self) -> bool {
        self == IsolateExit::Exited(0)
    }

    /// The signal that killed it, if one did.
    pub fn signal(self) -> Option<i32> {
        match self {
            IsolateExit::Signaled(s) => Some(s),
            IsolateExit::Exited(_) => None,
        }
    }

    /// True when the seccomp allow-list killed the process (`SIGSYS`).
    pub fn is_seccomp_violation(self) -> bool {
        self.signal() == Some(libc::SIGSYS)
    }

    /// `Ok` for exit status 0, otherwise [`IsolateError::RuntimeEnded`] saying how it ended.
    pub fn into_result(self, pid: u32) -> Result<(), IsolateError> {
        if self.success() {
            Ok(())
        } else {
            Err(IsolateError::RuntimeEnded { pid, exit: self })
        }
    }

    fn from_wait(status: rustix::process::WaitStatus) -> IsolateExit {
        match (status.exit_status(), status.terminating_signal()) {
            (Some(code), _) => IsolateExit::Exited(code),
            (None, Some(sig)) => IsolateExit::Signaled(sig),
            // waitpid without WUNTRACED/WCONTINUED reports only exits and kills.
            (None, None) => IsolateExit::Exited(-1),
        }
    }
}

impl fmt::Display for IsolateExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IsolateExit::Exited(code) => write!(f, "exited with status {code}"),
            IsolateExit::Signaled(sig) => {
                let name = Signal::try_from(sig)
                    .map(|s| s.as_str())
                    .unwrap_or("unknown signal");
                write!(f, "was killed by signal {name} ({sig})")?;
                match sig {
                    libc::SIGSYS => {
                        f.write_str(": it made a system call outside the seccomp allow-list")
                    }
                    libc::SIGKILL => f.write_str(": killed by the host or the kernel"),
                    _ => Ok(()),
                }
            }
        }
    }
}

/// A running (or ended, not yet dropped) isolated runtime.
///
/// Dropping it kills and reaps the runtime if it is still running.
#[derive(Debug)]
pub struct Isolate {
    pid: Pid,
    pidfd: OwnedFd,
    socket: Option<UnixStream>,
    exit: Option<IsolateExit>,
}

impl Isolate {
    /// The runtime's pid in the host's PID namespace (it is pid 1 in its own).
    pub fn pid(&self) -> u32 {
        self.pid.as_raw_nonzero().get() as u32
    }

    /// A pidfd of the runtime: it becomes readable when the runtime ends, so an async host
    /// can watch it (e.g. with tokio's `AsyncFd`) and then call [`Isolate::try_wait`].
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// The host's end of the socket pair, unless taken.
    pub fn socket(&self) -> Option<&UnixStream> {
        self.socket.as_ref()
    }

    /// Takes the host's end of the socket pair (e.g. to hand it to an async runtime).
    pub fn take_socket(&mut self) -> Option<UnixStream> {
        self.socket.take()
    }

    /// Sends `SIGKILL` to the runtime (through its pidfd, so a recycled pid is never hit).
    /// Succeeds if it has already ended.
    pub fn kill(&mut self) -> Result<(), IsolateError> {
        if self.exit.is_some() {
            return Ok(());
        }
        match rustix::process::pidfd_send_signal(&self.pidfd, rustix::process::Signal::KILL) {
            Ok(()) | Err(Errno::SRCH) => Ok(()),
            Err(e) => Err(IsolateError::syscall(
                "pidfd_send_signal(SIGKILL) to the runtime",
                e,
            )),
        }
    }

    /// The runtime's exit, if it has ended (does not block).
    pub fn try_wait(&mut self) -> Result<Option<IsolateExit>, IsolateError> {
        self.reap(WaitOptions::NOHANG)
    }

    /// Blocks until the runtime ends.
    pub fn wait(&mut self) -> Result<IsolateExit, IsolateError> {
        loop {
            if let Some(exit) = self.reap(WaitOptions::empty())? {
                return Ok(exit);
            }
        }
    }

    /// Waits at most `timeout` for the runtime to end.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<IsolateExit>, IsolateError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(exit) = self.try_wait()? {
                return Ok(Some(exit));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let ts = Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            let mut fds = [PollFd::new(&self.pidfd, PollFlags::IN)];
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(e) => return Err(IsolateError::syscall("poll on the runtime's pidfd", e)),
            }
        }
    }

    /// Reads the runtime's confinement as the host sees it in `/proc`.
    pub fn inspect(&self) -> Result<ProcessView, IsolateError> {
        inspect::inspect(self.pid())
    }

    fn reap(&mut self, opts: WaitOptions) -> Result<Option<IsolateExit>, IsolateError> {
        if let Some(exit) = self.exit {
            return Ok(Some(exit));
        }
        loop {
            match rustix::process::waitpid(Some(self.pid), opts) {
                Ok(Some((_, status))) => {
                    let exit = IsolateExit::from_wait(status);
                    tracing::debug!(pid = self.pid(), %exit, "isolated runtime ended");
                    self.exit = Some(exit);
                    return Ok(Some(exit));
                }
                Ok(None) => return Ok(None),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(IsolateError::syscall("waitpid on the runtime", e)),
            }
        }
    }
}

impl Drop for Isolate {
    fn drop(&mut self) {
        if self.exit.is_none() {
            if let Err(e) = self.kill() {
                tracing::warn!(pid = self.pid(), error = %e, "could not kill the isolated runtime");
                return;
            }
            if let Err(e) = self.wait() {
                tracing::warn!(pid = self.pid(), error = %e, "could not reap the isolated runtime");
            }
        }
    }
}

/// One step of populating the new root with library directories, paths already under
/// the staging directory.
#[derive(Debug)]
enum FsAction {
    Mkdir(CString),
    Symlink {
        target: CString,
        link: CString,
    },
    Bind {
        source: CString,
        target: CString,
        remount: MountFlags,
    },
}

/// Everything the cloned child uses, prepared by the host so the child never allocates.
struct ChildPlan<'a> {
    sync_read: BorrowedFd<'a>,
    report: BorrowedFd<'a>,
    exe: BorrowedFd<'a>,
    socket: BorrowedFd<'a>,
    dev_null: BorrowedFd<'a>,
    stdout: Option<BorrowedFd<'a>>,
    stderr: Option<BorrowedFd<'a>>,
    clear_groups: bool,
    inner_uid: Uid,
    inner_gid: Gid,
    mount_proc: bool,
    fs_actions: &'a [FsAction],
    hostname: &'a [u8],
    data_limit: u64,
    address_space_limit: Option<u64>,
    max_open_files: u64,
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
}

/// Starts the runtime in a new isolate; returns once it is executing (or with the failed step).
pub fn spawn(config: &IsolateConfig) -> Result<Isolate, IsolateError> {
    let to_c = |what: &str, bytes: &[u8]| {
        CString::new(bytes)
            .map_err(|_| IsolateError::InvalidConfig(format!("{what} contains a NUL byte")))
    };
    // argv, envp and their NULL-terminated pointer arrays.
    let mut argv_c = vec![to_c(
        "executable path",
        config.executable.as_os_str().as_bytes(),
    )?];
    for arg in &config.args {
        argv_c.push(to_c("an argument", arg.as_bytes())?);
    }
    let mut envp_c = Vec::with_capacity(config.env.len() + 1);
    for (key, value) in &config.env {
        if key.is_empty() || key.as_bytes().contains(&b'=') {
            return Err(IsolateError::InvalidConfig(format!(
                "environment variable name {key:?} is empty or contains '='"
            )));
        }
        let mut entry = key.as_bytes().to_vec();
        entry.push(b'=');
        entry.extend_from_slice(value.as_bytes());
        envp_c.push(to_c("an environment variable", &entry)?);
    }
    envp_c.push(to_c(
        "socket variable",
        format!("{SOCKET_FD_ENV}={CHILD_SOCKET_FD}").as_bytes(),
    )?);
    let argv: Vec<*const libc::c_char> = argv_c
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = envp_c
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    if config.hostname.is_empty() || config.hostname.len() > 64 || config.hostname.contains('\0') {
        return Err(IsolateError::InvalidConfig(format!(
            "hostname {:?} must be 1 to 64 bytes without NUL",
            config.hostname
        )));
    }

    if config.max_open_files <= CHILD_SOCKET_FD as u64 {
        return Err(IsolateError::InvalidConfig(format!(
            "max_open_files {} leaves no room beyond stdio and the socket",
            config.max_open_files
        )));
    }

    // Descriptors. All close-on-exec in the host; the child moves the socket and stdio into
    // place and everything else closes when it executes the runtime.
    let exe = rustix::fs::open(
        &config.executable,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| IsolateError::Executable {
        path: config.executable.clone(),
        source: e.into(),
    })?;
    let (host_socket, child_socket) = rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| IsolateError::syscall("socketpair(AF_UNIX, SOCK_STREAM)", e))?;
    let (sync_read, sync_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| IsolateError::syscall("pipe2 (id-map handshake)", e))?;
    let (report_read, report_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| IsolateError::syscall("pipe2 (setup error report)", e))?;
    let dev_null = rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| IsolateError::syscall("open /dev/null", e))?;
    let high = |fd: &dyn AsFd| {
        rustix::io::fcntl_dupfd_cloexec(fd, CHILD_FD_FLOOR)
            .map_err(|e| IsolateError::syscall("fcntl(F_DUPFD_CLOEXEC)", e))
    };
    let stdio_fd = |stdio: &ChildStdio| -> Result<Option<OwnedFd>, IsolateError> {
        match stdio {
            ChildStdio::Inherit => Ok(None),
            ChildStdio::Null => high(&dev_null).map(Some),
            ChildStdio::Fd(fd) => high(fd.as_ref()).map(Some),
        }
    };
    let c_sync_read = high(&sync_read)?;
    let c_report = high(&report_write)?;
    let c_exe = high(&exe)?;
    let c_socket = high(&child_socket)?;
    let c_null = high(&dev_null)?;
    let c_stdout = stdio_fd(&config.stdout)?;
    let c_stderr = stdio_fd(&config.stderr)?;
    drop((sync_read, report_write, exe, child_socket, dev_null));

    let fs_actions = library_actions(config)?;

    let euid = rustix::process::geteuid();
    let privileged = euid.is_root();
    let outside_uid =
        config
            .outside_uid
            .unwrap_or(if privileged { NOBODY_ID } else { euid.as_raw() });
    let outside_gid = config.outside_gid.unwrap_or(if privileged {
        NOBODY_ID
    } else {
        rustix::process::getegid().as_raw()
    });

    let plan = ChildPlan {
        sync_read: c_sync_read.as_fd(),
        report: c_report.as_fd(),
        exe: c_exe.as_fd(),
        socket: c_socket.as_fd(),
        dev_null: c_null.as_fd(),
        stdout: c_stdout.as_ref().map(|f| f.as_fd()),
        stderr: c_stderr.as_ref().map(|f| f.as_fd()),
        clear_groups: privileged,
        inner_uid: Uid::from_raw(config.inner_uid),
        inner_gid: Gid::from_raw(config.inner_gid),
        mount_proc: config.mount_proc,
        fs_actions: &fs_actions,
        hostname: config.hostname.as_bytes(),
        data_limit: config.data_limit(),
        address_space_limit: config.address_space_limit,
        max_open_files: config.max_open_files,
        argv: &argv,
        envp: &envp,
    };
    let flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWCGROUP;
    let mut stack = vec![0u8; CHILD_STACK_SIZE];
    // SAFETY: the child gets a private copy of this address space (no CLONE_VM) with `stack`
    // as its stack, which is far larger than `run_child` needs. Like any child of a
    // multi-threaded process it may only make async-signal-safe calls: `run_child` makes raw
    // system calls on data prepared above, never allocates, locks or unwinds, and ends in
    // `execveat` or by returning (which exits the child).
    let raw_pid = unsafe {
        nix::sched::clone(
            Box::new(|| run_child(&plan)),
            &mut stack,
            flags,
            Some(libc::SIGCHLD),
        )
    }
    .map_err(|e| IsolateError::Syscall {
        call: "clone with CLONE_NEW{USER,NS,PID,NET,IPC,UTS,CGROUP}",
        source: io::Error::from_raw_os_error(e as i32),
    })?;
    // The child has its own copies; the host's must go so the pipes see EOF.
    drop((
        c_sync_read,
        c_report,
        c_exe,
        c_socket,
        c_null,
        c_stdout,
        c_stderr,
    ));
    let pid = Pid::from_raw(raw_pid.as_raw()).ok_or_else(|| IsolateError::Syscall {
        call: "clone",
        source: io::Error::other("returned pid 0 in the parent"),
    })?;
    let pidfd = match rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            // Without a pidfd there is no Isolate to clean up through; do it by pid, which
            // cannot have been recycled since the child is not yet reaped.
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
            return Err(IsolateError::syscall("pidfd_open on the new child", e));
        }
    };
    // From here on, dropping `isolate` on an error kills and reaps the child.
    let mut isolate = Isolate {
        pid,
        pidfd,
        socket: None,
        exit: None,
    };
    write_id_maps(isolate.pid(), privileged, config, outside_uid, outside_gid)?;
    rustix::io::write(&sync_write, &[1])
        .map_err(|e| IsolateError::syscall("write to the id-map handshake pipe", e))?;
    drop(sync_write);

    let mut report = [0u8; 8];
    let mut got = 0;
    while got < report.len() {
        match rustix::io::read(&report_read, &mut report[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::INTR) => continue,
            Err(e) => {
                return Err(IsolateError::syscall(
                    "read of the setup error report pipe",
                    e,
                ))
            }
        }
    }
    match got {
        // The pipe closed on execveat: the runtime is running.
        0 => {}
        8 => {
            let step_raw = u32::from_ne_bytes([report[0], report[1], report[2], report[3]]);
            let errno = i32::from_ne_bytes([report[4], report[5], report[6], report[7]]);
            let _ = isolate.wait();
            let step = ChildStep::from_u32(step_raw).ok_or_else(|| IsolateError::Syscall {
                call: "isolate setup",
                source: io::Error::other(format!("child reported unknown step {step_raw}")),
            })?;
            return Err(IsolateError::ChildSetup {
                step,
                source: io::Error::from_raw_os_error(errno),
            });
        }
        _ => {
            let exit = isolate.wait()?;
            return Err(IsolateError::SetupVanished {
                pid: isolate.pid(),
                exit,
            });
        }
    }
    isolate.socket = Some(UnixStream::from(host_socket));
    tracing::info!(
        pid = isolate.pid(),
        executable = %config.executable.display(),
        data_limit = config.data_limit(),
        inner_uid = config.inner_uid,
        outside_uid,
        "runtime started in the linux isolate"
    );
    Ok(isolate)
}

/// True if the ELF file has an interpreter (`PT_INTERP`), i.e. is dynamically linked.
fn has_elf_interpreter(path: &std::path::Path) -> Result<bool, IsolateError> {
    use std::io::Read;
    let err = |source: io::Error| IsolateError::Executable {
        path: path.to_owned(),
        source,
    };
    let mut head = Vec::new();
    std::fs::File::open(path)
        .map_err(err)?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(err)?;
    // Not ELF: nothing to load; execveat will give the kernel's verdict on the file.
    if head.len() < 64 || head[..4] != *b"\x7fELF" {
        return Ok(false);
    }
    let not_elf = || {
        err(io::Error::new(
            io::ErrorKind::InvalidData,
            "malformed ELF header",
        ))
    };
    let little = head[5] == 1;
    let int = |at: usize, len: usize| -> Option<u64> {
        let bytes = head.get(at..at + len)?;
        let mut v = 0u64;
        for i in 0..len {
            let b = if little { bytes[len - 1 - i] } else { bytes[i] };
            v = (v << 8) | u64::from(b);
        }
        Some(v)
    };
    // (e_phoff, e_phentsize, e_phnum) offsets and e_phoff width for ELF32 and ELF64.
    let (phoff, phentsize, phnum) = match head[4] {
        1 => (int(0x1c, 4), int(0x2a, 2), int(0x2c, 2)),
        2 => (int(0x20, 8), int(0x36, 2), int(0x38, 2)),
        _ => return Err(not_elf()),
    };
    let (phoff, phentsize, phnum) = match (phoff, phentsize, phnum) {
        (Some(o), Some(s), Some(n)) => (o as usize, s as usize, n as usize),
        _ => return Err(not_elf()),
    };
    const PT_INTERP: u64 = 3;
    for i in 0..phnum {
        match int(phoff + i * phentsize, 4) {
            Some(PT_INTERP) => return Ok(true),
            Some(_) => {}
            // Program headers beyond the first 64 KiB: unusual; assume dynamic to be safe.
            None => return Ok(true),
        }
    }
    Ok(false)
}

/// The mkdir/symlink/bind steps that put the library directories into the new root.
fn library_actions(config: &IsolateConfig) -> Result<Vec<FsAction>, IsolateError> {
    let (dirs, required): (Vec<PathBuf>, bool) = match &config.library_dirs {
        LibraryDirs::None => return Ok(Vec::new()),
        LibraryDirs::Dirs(dirs) => (dirs.clone(), true),
        LibraryDirs::Auto => {
            if !has_elf_interpreter(&config.executable)? {
                return Ok(Vec::new());
            }
            (
                DEFAULT_LIBRARY_DIRS.iter().map(PathBuf::from).collect(),
                false,
            )
        }
    };
    let staged = |p: &std::path::Path| -> Result<CString, IsolateError> {
        let mut bytes = STAGING_DIR.to_bytes().to_vec();
        bytes.extend_from_slice(p.as_os_str().as_bytes());
        CString::new(bytes).map_err(|_| {
            IsolateError::InvalidConfig(format!("library path {} contains NUL", p.display()))
        })
    };
    let c = |p: &std::path::Path| {
        CString::new(p.as_os_str().as_bytes()).map_err(|_| {
            IsolateError::InvalidConfig(format!("library path {} contains NUL", p.display()))
        })
    };
    let mut made = std::collections::BTreeSet::new();
    let mut actions = Vec::new();
    for dir in dirs {
        if !dir.is_absolute()
            || dir
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(IsolateError::InvalidConfig(format!(
                "library directory {} must be an absolute path without ..",
                dir.display()
            )));
        }
        let inspect_err = |source| IsolateError::Inspect {
            path: dir.clone(),
            source,
        };
        let meta = match std::fs::symlink_metadata(&dir) {
            Ok(meta) => meta,
            Err(e) if !required && e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(inspect_err(e)),
        };
        if made.contains(&dir) {
            continue;
        }
        let mut ancestors: Vec<&std::path::Path> = dir
            .ancestors()
            .skip(1)
            .filter(|a| a.parent().is_some())
            .collect();
        ancestors.reverse();
        for ancestor in ancestors {
            if made.insert(ancestor.to_owned()) {
                actions.push(FsAction::Mkdir(staged(ancestor)?));
            }
        }
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&dir).map_err(inspect_err)?;
            actions.push(FsAction::Symlink {
                target: c(&target)?,
                link: staged(&dir)?,
            });
        } else if meta.is_dir() {
            let host_flags = rustix::fs::statvfs(&dir)
                .map_err(|e| inspect_err(e.into()))?
                .f_flag;
            // Locked flags of the host's mount must be kept; read-only, nosuid and nodev are
            // added. Exec must stay allowed: the loader maps libraries executable.
            let mut remount = MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV;
            for (st, ms) in [
                (rustix::fs::StatVfsMountFlags::NOATIME, MountFlags::NOATIME),
                (
                    rustix::fs::StatVfsMountFlags::NODIRATIME,
                    MountFlags::NODIRATIME,
                ),
                (
                    rustix::fs::StatVfsMountFlags::RELATIME,
                    MountFlags::RELATIME,
                ),
                (rustix::fs::StatVfsMountFlags::NOEXEC, MountFlags::NOEXEC),
            ] {
                if host_flags.contains(st) {
                    remount |= ms;
                }
            }
            actions.push(FsAction::Mkdir(staged(&dir)?));
            actions.push(FsAction::Bind {
                source: c(&dir)?,
                target: staged(&dir)?,
                remount,
            });
        } else {
            return Err(IsolateError::InvalidConfig(format!(
                "library path {} is neither a directory nor a symbolic link",
                dir.display()
            )));
        }
        made.insert(dir);
    }
    Ok(actions)
}

/// Writes `/proc/<pid>/{setgroups,uid_map,gid_map}` for the child's new user namespace.
fn write_id_maps(
    pid: u32,
    privileged: bool,
    config: &IsolateConfig,
    outside_uid: u32,
    outside_gid: u32,
) -> Result<(), IsolateError> {
    let write = |file: &str, contents: String| {
        let path = PathBuf::from(format!("/proc/{pid}/{file}"));
        std::fs::write(&path, contents).map_err(|source| IsolateError::IdMap { path, source })
    };
    // An unprivileged host may only map its own ids, and only with setgroups denied. A root
    // host keeps setgroups allowed so the child can drop root's supplementary groups.
    if !privileged {
        write("setgroups", "deny".to_owned())?;
    }
    write(
        "uid_map",
        format!("{} {} 1\n", config.inner_uid, outside_uid),
    )?;
    write(
        "gid_map",
        format!("{} {} 1\n", config.inner_gid, outside_gid),
    )?;
    Ok(())
}

/// The cloned child's whole life. Returns only on failure, after reporting it; the return
/// value becomes the child's exit status.
fn run_child(plan: &ChildPlan<'_>) -> isize {
    let Err((step, errno)) = confine_child(plan);
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&(step as u32).to_ne_bytes());
    msg[4..].copy_from_slice(&errno.raw_os_error().to_ne_bytes());
    // Nothing more can be done if the report cannot be written; the exit status still tells.
    let _ = rustix::io::write(plan.report, &msg);
    127
}

/// The confinement steps, in order, ending in `execveat`. Raw system calls only.
fn confine_child(plan: &ChildPlan<'_>) -> Result<Infallible, (ChildStep, Errno)> {
    let at = |step: ChildStep| move |e: Errno| (step, e);

    // The child is in its new user namespace with every capability there, but its ids are
    // unmapped until the host writes the maps.
    let mut byte = [0u8; 1];
    loop {
        match rustix::io::read(plan.sync_read, &mut byte) {
            Ok(1) => break,
            Ok(_) => return Err((ChildStep::WaitForIdMaps, Errno::PIPE)),
            Err(Errno::INTR) => continue,
            Err(e) => return Err((ChildStep::WaitForIdMaps, e)),
        }
    }

    // Ids first: files (the tmpfs root, /proc) can only be created with a mapped fsuid.
    // The namespace's uid 0 is unmapped, so these changes keep the namespaced capabilities
    // needed below; `execve` as a non-root inner uid then drops all of them.
    if plan.clear_groups {
        rustix::thread::set_thread_groups(&[]).map_err(at(ChildStep::DropGroups))?;
    }
    rustix::thread::set_thread_res_gid(plan.inner_gid, plan.inner_gid, plan.inner_gid)
        .map_err(at(ChildStep::SetGid))?;
    rustix::thread::set_thread_res_uid(plan.inner_uid, plan.inner_uid, plan.inner_uid)
        .map_err(at(ChildStep::SetUid))?;

    // Empty file system view: a tmpfs root holding only the /proc mount point.
    rustix::mount::mount_change(
        c"/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )
    .map_err(at(ChildStep::MakeMountsPrivate))?;
    let locked_down = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    rustix::mount::mount(
        c"tmpfs",
        STAGING_DIR,
        c"tmpfs",
        locked_down,
        Some(ROOT_TMPFS_OPTIONS),
    )
    .map_err(at(ChildStep::MountRootTmpfs))?;
    if plan.mount_proc {
        rustix::fs::mkdir(STAGING_PROC, Mode::from_raw_mode(0o555))
            .map_err(at(ChildStep::MakeProcDir))?;
        // Mounted while the host's /proc is still visible: the kernel only lets a user
        // namespace mount procfs where a full procfs is already visible to it.
        rustix::mount::mount(
            c"proc",
            STAGING_PROC,
            c"proc",
            locked_down | MountFlags::RDONLY,
            Some(PROC_OPTIONS),
        )
        .map_err(at(ChildStep::MountProc))?;
    }
    for action in plan.fs_actions {
        match action {
            FsAction::Mkdir(path) => rustix::fs::mkdir(path.as_c_str(), Mode::from_raw_mode(0o755))
                .map_err(at(ChildStep::MakeLibraryDir))?,
            FsAction::Symlink { target, link } => {
                rustix::fs::symlink(target.as_c_str(), link.as_c_str())
                    .map_err(at(ChildStep::LinkLibraryDir))?
            }
            FsAction::Bind {
                source,
                target,
                remount,
            } => {
                rustix::mount::mount_bind(source.as_c_str(), target.as_c_str())
                    .map_err(at(ChildStep::BindLibraryDir))?;
                // A bind mount takes its flags from a second, remounting call.
                rustix::mount::mount_remount(target.as_c_str(), MountFlags::BIND | *remount, c"")
                    .map_err(at(ChildStep::ReadOnlyLibraryDir))?;
            }
        }
    }
    rustix::process::chdir(STAGING_DIR).map_err(at(ChildStep::EnterNewRoot))?;
    // pivot_root(".", ".") stacks the old root on top of the new one at "/"; detaching "."
    // then drops the whole host tree from this mount namespace.
    rustix::process::pivot_root(c".", c".").map_err(at(ChildStep::PivotRoot))?;
    rustix::mount::unmount(c".", UnmountFlags::DETACH).map_err(at(ChildStep::DetachOldRoot))?;
    rustix::process::chdir(c"/").map_err(at(ChildStep::ChdirRoot))?;
    rustix::mount::mount_remount(
        c"/",
        MountFlags::BIND | MountFlags::RDONLY | locked_down,
        c"",
    )
    .map_err(at(ChildStep::RemountRootReadOnly))?;

    rustix::system::sethostname(plan.hostname).map_err(at(ChildStep::SetHostname))?;

    let exact = |n: u64| Rlimit {
        current: Some(n),
        maximum: Some(n),
    };
    rustix::process::setrlimit(Resource::Data, exact(plan.data_limit))
        .map_err(at(ChildStep::LimitData))?;
    if let Some(limit) = plan.address_space_limit {
        rustix::process::setrlimit(Resource::As, exact(limit))
            .map_err(at(ChildStep::LimitAddressSpace))?;
    }
    rustix::process::setrlimit(Resource::Nofile, exact(plan.max_open_files))
        .map_err(at(ChildStep::LimitOpenFiles))?;
    rustix::process::setrlimit(Resource::Core, exact(0)).map_err(at(ChildStep::LimitCore))?;

    // Survives execve: no set-uid bit or file capability can ever raise the runtime's
    // privileges. Dumpability is reset by execve, so the runtime repeats this in
    // `confine_self`; here it covers the moments until then.
    rustix::thread::set_no_new_privs(true).map_err(at(ChildStep::NoNewPrivs))?;
    rustix::process::set_dumpable_behavior(DumpableBehavior::NotDumpable)
        .map_err(at(ChildStep::NotDumpable))?;

    // Blocked signals and ignored SIGPIPE would survive execve; start the runtime clean.
    SigSet::empty()
        .thread_set_mask()
        .map_err(|e| (ChildStep::ResetSignals, Errno::from_raw_os_error(e as i32)))?;
    // SAFETY: installs the default disposition, no handler code; the child is single-threaded.
    unsafe { nix::sys::signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) }
        .map_err(|e| (ChildStep::ResetSignals, Errno::from_raw_os_error(e as i32)))?;

    // Off the host's terminal: its job-control signals do not reach the runtime, and an
    // inherited terminal on stdout/stderr is not its controlling terminal (no TIOCSTI).
    rustix::process::setsid().map_err(at(ChildStep::NewSession))?;

    rustix::stdio::dup2_stdin(plan.dev_null).map_err(at(ChildStep::Stdio))?;
    if let Some(fd) = plan.stdout {
        rustix::stdio::dup2_stdout(fd).map_err(at(ChildStep::Stdio))?;
    }
    if let Some(fd) = plan.stderr {
        rustix::stdio::dup2_stderr(fd).map_err(at(ChildStep::Stdio))?;
    }
    // SAFETY: fd 3 is not owned by anything in this child (every descriptor the child uses is
    // at CHILD_FD_FLOOR or above); dup2 onto it also clears close-on-exec.
    if unsafe { libc::dup2(plan.socket.as_raw_fd(), CHILD_SOCKET_FD) } < 0 {
        return Err((ChildStep::Socket, last_errno()));
    }
    // Every descriptor above the socket closes on exec, including any the host process
    // opened without O_CLOEXEC and the report pipe, whose closing tells the host exec worked.
    // SAFETY: only sets the close-on-exec flag; no descriptor is closed or reused here.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            (CHILD_SOCKET_FD + 1) as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        )
    };
    if rc < 0 {
        return Err((ChildStep::CloseOtherFds, last_errno()));
    }

    // SAFETY: `argv` and `envp` are NULL-terminated arrays of pointers to NUL-terminated
    // strings owned by the host's copy of `spawn`'s locals, which this child's address space
    // holds unchanged; the executable descriptor is open.
    unsafe {
        libc::execveat(
            plan.exe.as_raw_fd(),
            c"".as_ptr(),
            plan.argv.as_ptr().cast::<*mut libc::c_char>(),
            plan.envp.as_ptr().cast::<*mut libc::c_char>(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err((ChildStep::Exec, last_errno()))
}

/// errno of the last libc call, without allocating.
fn last_errno() -> Errno {
    Errno::from_raw_os_error(
        io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

/// Guard for [`crate::take_inherited_socket`]: the descriptor may be owned only once.
pub(crate) fn socket_from_env() -> Result<UnixStream, IsolateError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static TAKEN: AtomicBool = AtomicBool::new(false);
    let raw = std::env::var(SOCKET_FD_ENV)
        .map_err(|_| IsolateError::InheritedSocket(format!("{SOCKET_FD_ENV} is not set")))?;
    let fd: RawFd = raw.parse().ok().filter(|fd| *fd > 2).ok_or_else(|| {
        IsolateError::InheritedSocket(format!(
            "{SOCKET_FD_ENV}={raw:?} is not a descriptor above 2"
        ))
    })?;
    // SAFETY: only inspects the descriptor number; the borrow ends within this statement.
    let stat = rustix::fs::fstat(unsafe { BorrowedFd::borrow_raw(fd) }).map_err(|e| {
        IsolateError::InheritedSocket(format!("fstat of fd {fd} failed: {e} (not inherited?)"))
    })?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::Socket {
        return Err(IsolateError::InheritedSocket(format!(
            "fd {fd} is not a socket"
        )));
    }
    if TAKEN.swap(true, Ordering::SeqCst) {
        return Err(IsolateError::InheritedSocket(format!(
            "fd {fd} was already taken"
        )));
    }
    // SAFETY: the descriptor is open (fstat succeeded), is the socket the isolate placed there
    // for this process, and the TAKEN flag guarantees ownership is taken only once.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    rustix::io::fcntl_setfd(&owned, rustix::io::FdFlags::CLOEXEC).map_err(|e| {
        IsolateError::InheritedSocket(format!("fcntl(F_SETFD, FD_CLOEXEC) on fd {fd}: {e}"))
    })?;
    Ok(UnixStream::from(owned))
}
