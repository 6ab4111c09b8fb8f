//! The `linux` isolate: how the untrusted host starts the trusted runtime as a confined
//! process, and how the runtime confines itself further once started.
//!
//! Host side ([`spawn`]): the runtime executable runs as the first process of new user,
//! mount, PID, network, IPC, UTS and cgroup namespaces, as an unprivileged id, with an empty
//! read-only root (a procfs of its own PID namespace and, only for a dynamically linked
//! executable, read-only library directories), no network, memory and descriptor
//! rlimits, no core dumps, `no_new_privs`, and exactly four descriptors: stdio and one end of
//! a Unix socket pair at [`CHILD_SOCKET_FD`]. The host keeps the other end.
//!
//! Runtime side ([`take_inherited_socket`], [`confine_self`]): the runtime takes its socket,
//! reads what it needs (its own executable's hash through `/proc/self/exe`, the policy from
//! the host), then makes itself non-dumpable and installs the seccomp allow-list of
//! [`SeccompProfile::runtime`], after which it can only compute, allocate, run threads and
//! talk over descriptors it already holds.
//!
//! Evidence on this platform is self-asserted: this protects the host from the runtime and
//! the runtime from casual interference, not from a malicious host. See `docs/ISOLATE.md`.

mod error;
mod inspect;
mod seccomp;
mod spawn;

use std::os::unix::net::UnixStream;

pub use error::IsolateError;
pub use inspect::{inspect, Limit, MountView, NamespaceView, ProcessView, NAMESPACES};
pub use seccomp::{
    confine_self, runtime_allow_list, ArgCheck, ArgOp, DefaultAction, SeccompProfile, SyscallRule,
    Verdict,
};
pub use spawn::{
    spawn, ChildStdio, ChildStep, Isolate, IsolateConfig, IsolateExit, LibraryDirs,
    CHILD_SOCKET_FD, DEFAULT_HOSTNAME, DEFAULT_INNER_ID, DEFAULT_LIBRARY_DIRS,
    DEFAULT_MAX_OPEN_FILES, DEFAULT_RUNTIME_HEADROOM, NOBODY_ID, SOCKET_FD_ENV,
};

/// For the runtime: takes ownership of the socket the isolate placed at the descriptor named
/// by [`SOCKET_FD_ENV`], after checking it is an open socket. Succeeds at most once per
/// process.
pub fn take_inherited_socket() -> Result<UnixStream, IsolateError> {
    spawn::socket_from_env()
}
