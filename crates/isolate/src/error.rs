//! The one error type of the crate. Every message names the operation that failed (which
//! system call, which namespace or which `/proc` file), so a failed start can be diagnosed
//! from the message alone.

use std::io;
use std::path::PathBuf;

use crate::spawn::{ChildStep, IsolateExit};

/// Why starting, supervising, inspecting or confining an isolate failed.
#[derive(Debug, thiserror::Error)]
pub enum IsolateError {
    /// The configuration cannot be turned into a child process (e.g. a NUL byte in an argument).
    #[error("invalid isolate configuration: {0}")]
    InvalidConfig(String),

    /// The runtime executable could not be opened by the host before the fork.
    #[error("cannot open the runtime executable {path}: {source}")]
    Executable {
        /// The configured executable.
        path: PathBuf,
        /// What `open(2)` said.
        source: io::Error,
    },

    /// A host-side system call failed (`socketpair`, `pipe2`, `clone`, `pidfd_open`, ...).
    #[error("{call} failed: {source}")]
    Syscall {
        /// The call and, where useful, what it was for.
        call: &'static str,
        /// The kernel's answer.
        source: io::Error,
    },

    /// Writing the user-namespace id map of the new child failed.
    #[error("writing {path} for the runtime's user namespace failed: {source}")]
    IdMap {
        /// `/proc/<pid>/uid_map`, `gid_map` or `setgroups`.
        path: PathBuf,
        /// The kernel's answer.
        source: io::Error,
    },

    /// A confinement step in the child failed before it could execute the runtime.
    #[error("isolate setup failed in the child before exec, at step \"{step}\": {source}")]
    ChildSetup {
        /// The step that failed.
        step: ChildStep,
        /// The errno the step returned.
        source: io::Error,
    },

    /// The child vanished during setup without reporting a step (should not happen).
    #[error("the isolate child (pid {pid}) {exit} during setup without reporting why")]
    SetupVanished {
        /// Host pid of the child.
        pid: u32,
        /// How it ended.
        exit: IsolateExit,
    },

    /// The runtime ended; returned by [`IsolateExit::into_result`] for anything but exit code 0.
    #[error("the isolated runtime (pid {pid}) {exit}")]
    RuntimeEnded {
        /// Host pid of the runtime.
        pid: u32,
        /// How it ended.
        exit: IsolateExit,
    },

    /// Reading a `/proc` file of a process for inspection failed.
    #[error("reading {path} failed: {source}")]
    Inspect {
        /// The `/proc` path.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },

    /// The inherited socket named by [`crate::SOCKET_FD_ENV`] is missing or unusable.
    #[error("inherited isolate socket: {0}")]
    InheritedSocket(String),

    /// A `prctl(2)` of [`crate::confine_self`] failed.
    #[error("prctl({op}) failed: {source}")]
    Prctl {
        /// The prctl operation.
        op: &'static str,
        /// The kernel's answer.
        source: io::Error,
    },

    /// The seccomp profile could not be compiled to BPF.
    #[error("compiling the seccomp filter ({filter}) failed: {source}")]
    SeccompCompile {
        /// Which of the stacked filters.
        filter: String,
        /// seccompiler's error.
        source: seccompiler::Error,
    },

    /// The kernel refused to install a seccomp filter.
    #[error("seccomp(SECCOMP_SET_MODE_FILTER, TSYNC) of the {filter} filter failed: {source}")]
    SeccompInstall {
        /// Which of the stacked filters.
        filter: String,
        /// seccompiler's error.
        source: seccompiler::Error,
    },
}

impl IsolateError {
    pub(crate) fn syscall(call: &'static str, errno: rustix::io::Errno) -> Self {
        IsolateError::Syscall {
            call,
            source: io::Error::from_raw_os_error(errno.raw_os_error()),
        }
    }
}
