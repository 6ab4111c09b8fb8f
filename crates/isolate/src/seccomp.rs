//! Runtime side of the `linux` isolate: the seccomp-BPF allow-list the runtime installs on
//! itself once it has read what it needs, and [`confine_self`], which installs it.
//!
//! The profile is plain data ([`SeccompProfile`], a list of [`SyscallRule`]s, each with the
//! reason it is there) so it can be audited, printed and tested. Anything not listed kills
//! the whole process with `SIGSYS`. A few calls that well-behaved library code tries on its
//! own (opening a file, creating a socket, `clone3`) are *refused* with an errno instead, so
//! that code takes its error path rather than taking the runtime down; they still cannot
//! succeed.
//!
//! seccompiler gives one filter a single on-match action, so the profile compiles to stacked
//! filters: one per refusal errno (match: that errno, otherwise allow) and the allow-list
//! (match: allow, otherwise the default action). The kernel applies the strictest answer of
//! all filters, so a refused call is refused, a listed call is allowed and anything else
//! gets the default action.

use std::collections::BTreeMap;
use std::fmt;

use rustix::process::DumpableBehavior;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::error::IsolateError;

/// What a rule does when its syscall (and conditions) match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Let the call through.
    Allow,
    /// Fail the call with this errno without running it.
    Refuse(i32),
}

/// How an argument is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgOp {
    /// `arg == value`.
    Eq,
    /// `arg & mask == value`.
    MaskedEq(u64),
}

/// A condition on one syscall argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgCheck {
    /// Argument index, 0 to 5.
    pub index: u8,
    /// Compare all 64 bits (for `unsigned long` arguments); otherwise the low 32 bits, which
    /// is right for `int` arguments whose upper register half is unspecified.
    pub wide: bool,
    /// The comparison.
    pub op: ArgOp,
    /// The value compared with.
    pub value: u64,
    /// What the check means, e.g. `cmd == F_GETFL`.
    pub meaning: &'static str,
}

/// One entry of the profile. A syscall may have several: its allow entries are alternatives,
/// and its refuse entries are alternatives (which should not overlap the allow entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallRule {
    /// Syscall name.
    pub name: &'static str,
    /// Syscall number on this architecture.
    pub number: i64,
    /// Allow or refuse.
    pub verdict: Verdict,
    /// Conditions that must all hold; empty means always.
    pub when: Vec<ArgCheck>,
    /// Why the runtime needs this (or why it is refused rather than fatal).
    pub reason: &'static str,
}

impl fmt::Display for SyscallRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match self.verdict {
            Verdict::Allow => "allow".to_owned(),
            Verdict::Refuse(errno) => format!("refuse {}", errno_name(errno)),
        };
        let when = if self.when.is_empty() {
            String::new()
        } else {
            let parts: Vec<&str> = self.when.iter().map(|c| c.meaning).collect();
            format!(" if {}", parts.join(" and "))
        };
        write!(f, "{:<16} {verdict}{when}: {}", self.name, self.reason)
    }
}

/// What happens to a syscall the profile does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultAction {
    /// Kill the whole process with `SIGSYS` (the runtime's default: strictest).
    KillProcess,
    /// Fail the call with this errno.
    Errno(i32),
    /// Allow, but log it to the kernel audit log: only for developing the list.
    Log,
}

impl DefaultAction {
    fn to_action(self) -> SeccompAction {
        match self {
            DefaultAction::KillProcess => SeccompAction::KillProcess,
            DefaultAction::Errno(e) => SeccompAction::Errno(e as u32),
            DefaultAction::Log => SeccompAction::Log,
        }
    }
}

/// A seccomp allow-list: the rules plus the action for everything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompProfile {
    /// For syscalls no rule matches.
    pub default_action: DefaultAction,
    /// The rules, in the order they are documented.
    pub rules: Vec<SyscallRule>,
}

impl fmt::Display for SeccompProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let default = match self.default_action {
            DefaultAction::KillProcess => "kill the process (SIGSYS)".to_owned(),
            DefaultAction::Errno(e) => format!("fail with {}", errno_name(e)),
            DefaultAction::Log => "allow and log (development only)".to_owned(),
        };
        writeln!(f, "any syscall not listed: {default}")?;
        for rule in &self.rules {
            writeln!(f, "{rule}")?;
        }
        Ok(())
    }
}

impl SeccompProfile {
    /// The runtime's profile: [`runtime_allow_list`] with kill-process for everything else.
    pub fn runtime() -> Self {
        SeccompProfile {
            default_action: DefaultAction::KillProcess,
            rules: runtime_allow_list(),
        }
    }

    /// The profile with one more rule (for a runtime that provably needs it; document why).
    pub fn with_rule(mut self, rule: SyscallRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The rules for syscall `name`.
    pub fn rules_for<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a SyscallRule> + 'a {
        self.rules.iter().filter(move |r| r.name == name)
    }

    /// Compiles the profile into the BPF programs [`confine_self`] installs, in installation
    /// order: the refusal filters, then the allow-list (which forbids installing more).
    pub fn compile(&self) -> Result<Vec<(String, BpfProgram)>, IsolateError> {
        let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|source| {
            IsolateError::SeccompCompile {
                filter: format!("architecture {}", std::env::consts::ARCH),
                source: seccompiler::Error::Backend(source),
            }
        })?;
        let mut programs = Vec::new();

        let mut errnos: Vec<i32> = self
            .rules
            .iter()
            .filter_map(|r| match r.verdict {
                Verdict::Refuse(e) => Some(e),
                Verdict::Allow => None,
            })
            .collect();
        errnos.sort_unstable();
        errnos.dedup();
        for errno in errnos {
            let name = format!("refusals with {}", errno_name(errno));
            let chains = chains(
                self.rules
                    .iter()
                    .filter(|r| r.verdict == Verdict::Refuse(errno)),
                &name,
            )?;
            let filter = SeccompFilter::new(
                chains,
                SeccompAction::Allow,
                SeccompAction::Errno(errno as u32),
                arch,
            )
            .map_err(|source| IsolateError::SeccompCompile {
                filter: name.clone(),
                source: seccompiler::Error::Backend(source),
            })?;
            programs.push((name.clone(), compile_filter(filter, &name)?));
        }

        // Refused syscalls must pass the allow-list, or its default action would override the
        // refusal; so every rule's conditions are an allow alternative here.
        let name = "allow-list".to_owned();
        let chains = chains(self.rules.iter(), &name)?;
        let filter = SeccompFilter::new(
            chains,
            self.default_action.to_action(),
            SeccompAction::Allow,
            arch,
        )
        .map_err(|source| IsolateError::SeccompCompile {
            filter: name.clone(),
            source: seccompiler::Error::Backend(source),
        })?;
        programs.push((name.clone(), compile_filter(filter, &name)?));
        Ok(programs)
    }
}

fn compile_filter(filter: SeccompFilter, name: &str) -> Result<BpfProgram, IsolateError> {
    BpfProgram::try_from(filter).map_err(|source| IsolateError::SeccompCompile {
        filter: name.to_owned(),
        source: seccompiler::Error::Backend(source),
    })
}

/// Groups rules by syscall into seccompiler rule chains; an unconditional rule makes the
/// whole chain unconditional (an empty chain).
fn chains<'a>(
    rules: impl Iterator<Item = &'a SyscallRule>,
    filter: &str,
) -> Result<BTreeMap<i64, Vec<SeccompRule>>, IsolateError> {
    let mut by_number: BTreeMap<i64, Option<Vec<SeccompRule>>> = BTreeMap::new();
    for rule in rules {
        let entry = by_number
            .entry(rule.number)
            .or_insert_with(|| Some(Vec::new()));
        if rule.when.is_empty() {
            *entry = None;
            continue;
        }
        if let Some(chain) = entry {
            let mut conditions = Vec::with_capacity(rule.when.len());
            for check in &rule.when {
                let op = match check.op {
                    ArgOp::Eq => SeccompCmpOp::Eq,
                    ArgOp::MaskedEq(mask) => SeccompCmpOp::MaskedEq(mask),
                };
                let len = if check.wide {
                    SeccompCmpArgLen::Qword
                } else {
                    SeccompCmpArgLen::Dword
                };
                conditions.push(
                    SeccompCondition::new(check.index, len, op, check.value).map_err(|source| {
                        IsolateError::SeccompCompile {
                            filter: format!("{filter}: {} {}", rule.name, check.meaning),
                            source: seccompiler::Error::Backend(source),
                        }
                    })?,
                );
            }
            chain.push(SeccompRule::new(conditions).map_err(|source| {
                IsolateError::SeccompCompile {
                    filter: format!("{filter}: {}", rule.name),
                    source: seccompiler::Error::Backend(source),
                }
            })?);
        }
    }
    Ok(by_number
        .into_iter()
        .map(|(nr, chain)| (nr, chain.unwrap_or_default()))
        .collect())
}

/// Confines the calling process for the rest of its life: not dumpable (no core dumps, no
/// `ptrace` attach or `/proc/<pid>/mem` access by same-uid processes), `no_new_privs`, and
/// `profile` installed on every thread (TSYNC). Call it after reading what the runtime needs
/// from the file system (its own executable's hash) and before handling any untrusted input.
pub fn confine_self(profile: &SeccompProfile) -> Result<(), IsolateError> {
    // Compile first: it allocates and must not run under a half-installed filter.
    let programs = profile.compile()?;
    rustix::process::set_dumpable_behavior(DumpableBehavior::NotDumpable).map_err(|e| {
        IsolateError::Prctl {
            op: "PR_SET_DUMPABLE, 0",
            source: e.into(),
        }
    })?;
    rustix::thread::set_no_new_privs(true).map_err(|e| IsolateError::Prctl {
        op: "PR_SET_NO_NEW_PRIVS, 1",
        source: e.into(),
    })?;
    for (name, program) in &programs {
        seccompiler::apply_filter_all_threads(program).map_err(|source| {
            IsolateError::SeccompInstall {
                filter: name.clone(),
                source,
            }
        })?;
    }
    tracing::info!(
        rules = profile.rules.len(),
        filters = programs.len(),
        default = ?profile.default_action,
        "runtime confined: not dumpable, no_new_privs, seccomp allow-list installed"
    );
    Ok(())
}

fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        libc::ENOSYS => "ENOSYS",
        _ => return format!("errno {errno}"),
    };
    name.to_owned()
}

fn allow(name: &'static str, number: i64, reason: &'static str) -> SyscallRule {
    SyscallRule {
        name,
        number,
        verdict: Verdict::Allow,
        when: Vec::new(),
        reason,
    }
}

fn allow_if(name: &'static str, number: i64, when: ArgCheck, reason: &'static str) -> SyscallRule {
    SyscallRule {
        when: vec![when],
        ..allow(name, number, reason)
    }
}

fn refuse(name: &'static str, number: i64, errno: i32, reason: &'static str) -> SyscallRule {
    SyscallRule {
        verdict: Verdict::Refuse(errno),
        ..allow(name, number, reason)
    }
}

fn refuse_if(
    name: &'static str,
    number: i64,
    errno: i32,
    when: ArgCheck,
    reason: &'static str,
) -> SyscallRule {
    SyscallRule {
        when: vec![when],
        ..refuse(name, number, errno, reason)
    }
}

/// `libc::Ioctl` is `c_ulong` with glibc and `c_int` with musl; the check compares the low
/// 32 bits, where these request numbers live.
#[allow(clippy::unnecessary_cast)]
fn ioctl_request(request: libc::Ioctl) -> u64 {
    request as u64
}

/// `int` argument `index` equals `value`.
fn arg_is(index: u8, value: u64, meaning: &'static str) -> ArgCheck {
    ArgCheck {
        index,
        wide: false,
        op: ArgOp::Eq,
        value,
        meaning,
    }
}

/// `int` argument `index` has the bits of `mask` set as in `value`.
fn arg_bits(index: u8, mask: u64, value: u64, meaning: &'static str) -> ArgCheck {
    ArgCheck {
        index,
        wide: false,
        op: ArgOp::MaskedEq(mask),
        value,
        meaning,
    }
}

/// The runtime's syscall rules, each with its reason (see `docs/ISOLATE.md`).
///
/// `tgkill` is limited to the calling process's own pid, so build this in the process that
/// installs it (as [`SeccompProfile::runtime`] inside [`confine_self`]'s caller does).
pub fn runtime_allow_list() -> Vec<SyscallRule> {
    use libc::*;
    let own_pid = rustix::process::getpid().as_raw_nonzero().get() as u64;
    let at_empty_path = AT_EMPTY_PATH as u64;
    // A thread: shares the address space and is in the same thread group; never a new
    // process and never a new namespace.
    let clone_mask = (CLONE_THREAD
        | CLONE_VM
        | CLONE_NEWNS
        | CLONE_NEWUSER
        | CLONE_NEWPID
        | CLONE_NEWNET
        | CLONE_NEWIPC
        | CLONE_NEWUTS
        | CLONE_NEWCGROUP) as u32 as u64;
    let clone_thread = (CLONE_THREAD | CLONE_VM) as u32 as u64;

    let mut rules = vec![
        // Talking over descriptors the runtime already holds (the host socket, stdio, epoll).
        allow(
            "read",
            SYS_read,
            "receive from the host socket and eventfds",
        ),
        allow(
            "write",
            SYS_write,
            "send to the host socket; logs to stderr",
        ),
        allow("readv", SYS_readv, "vectored reads by std and tokio"),
        allow(
            "writev",
            SYS_writev,
            "vectored writes by std (write_all_vectored) and tracing",
        ),
        allow(
            "recvfrom",
            SYS_recvfrom,
            "socket reads (recv is recvfrom on Linux)",
        ),
        allow(
            "sendto",
            SYS_sendto,
            "socket writes (send is sendto on Linux)",
        ),
        allow("recvmsg", SYS_recvmsg, "socket reads by tokio/mio"),
        allow("sendmsg", SYS_sendmsg, "socket writes by tokio/mio"),
        allow(
            "shutdown",
            SYS_shutdown,
            "half-close the host socket at the end of a session",
        ),
        allow(
            "close",
            SYS_close,
            "release descriptors (sockets, epoll, eventfds)",
        ),
        allow_if(
            "fcntl",
            SYS_fcntl,
            arg_is(1, F_GETFD as u64, "cmd == F_GETFD"),
            "close-on-exec flag queries",
        ),
        allow_if(
            "fcntl",
            SYS_fcntl,
            arg_is(1, F_SETFD as u64, "cmd == F_SETFD"),
            "set close-on-exec",
        ),
        allow_if(
            "fcntl",
            SYS_fcntl,
            arg_is(1, F_GETFL as u64, "cmd == F_GETFL"),
            "read O_NONBLOCK",
        ),
        allow_if(
            "fcntl",
            SYS_fcntl,
            arg_is(1, F_SETFL as u64, "cmd == F_SETFL"),
            "set O_NONBLOCK for the async socket",
        ),
        allow_if(
            "fcntl",
            SYS_fcntl,
            arg_is(1, F_DUPFD_CLOEXEC as u64, "cmd == F_DUPFD_CLOEXEC"),
            "duplicate a held descriptor (UnixStream::try_clone)",
        ),
        allow_if(
            "ioctl",
            SYS_ioctl,
            arg_is(1, ioctl_request(FIONBIO), "request == FIONBIO"),
            "std's set_nonblocking on sockets",
        ),
        allow_if(
            "ioctl",
            SYS_ioctl,
            arg_is(1, ioctl_request(FIOCLEX), "request == FIOCLEX"),
            "set close-on-exec",
        ),
        allow_if(
            "ioctl",
            SYS_ioctl,
            arg_is(1, ioctl_request(TCGETS), "request == TCGETS"),
            "isatty() on stderr by the log formatter",
        ),
        allow("fstat", SYS_fstat, "metadata of a held descriptor"),
        allow_if(
            "newfstatat",
            SYS_newfstatat,
            arg_bits(3, at_empty_path, at_empty_path, "flags has AT_EMPTY_PATH"),
            "glibc's fstat() on a held descriptor",
        ),
        refuse_if(
            "newfstatat",
            SYS_newfstatat,
            EPERM,
            arg_bits(3, at_empty_path, 0, "flags lacks AT_EMPTY_PATH"),
            "path lookups: refused so callers see an error, not a dead runtime",
        ),
        allow_if(
            "statx",
            SYS_statx,
            arg_bits(2, at_empty_path, at_empty_path, "flags has AT_EMPTY_PATH"),
            "std's File::metadata on a held descriptor",
        ),
        refuse_if(
            "statx",
            SYS_statx,
            EPERM,
            arg_bits(2, at_empty_path, 0, "flags lacks AT_EMPTY_PATH"),
            "path lookups; std treats EPERM from statx as 'unavailable' and falls back",
        ),
        // Waiting for events.
        allow("ppoll", SYS_ppoll, "poll(2) on descriptors"),
        allow("epoll_create1", SYS_epoll_create1, "tokio/mio event loop"),
        allow("epoll_ctl", SYS_epoll_ctl, "tokio/mio event loop"),
        allow("epoll_pwait", SYS_epoll_pwait, "tokio/mio event loop"),
        allow(
            "epoll_pwait2",
            SYS_epoll_pwait2,
            "tokio/mio event loop (newer libcs)",
        ),
        allow("eventfd2", SYS_eventfd2, "tokio's waker for the event loop"),
        // Threads and synchronisation.
        allow_if(
            "clone",
            SYS_clone,
            ArgCheck {
                index: 0,
                wide: true,
                op: ArgOp::MaskedEq(clone_mask),
                value: clone_thread,
                meaning: "flags has CLONE_THREAD|CLONE_VM and no CLONE_NEW*",
            },
            "new threads (tokio workers, wasmtime); never a new process or namespace",
        ),
        refuse(
            "clone3",
            SYS_clone3,
            ENOSYS,
            "flags behind a pointer seccomp cannot read; on ENOSYS glibc uses clone",
        ),
        allow(
            "futex",
            SYS_futex,
            "mutexes, condition variables, thread join",
        ),
        allow("set_robust_list", SYS_set_robust_list, "glibc thread start"),
        allow(
            "rseq",
            SYS_rseq,
            "glibc thread start (restartable sequences)",
        ),
        allow(
            "sched_yield",
            SYS_sched_yield,
            "spin loops in locks and channels",
        ),
        allow(
            "sched_getaffinity",
            SYS_sched_getaffinity,
            "std::thread::available_parallelism",
        ),
        allow("gettid", SYS_gettid, "thread ids in logs and locks"),
        allow("getpid", SYS_getpid, "process id (for abort and logs)"),
        allow_if(
            "tgkill",
            SYS_tgkill,
            ArgCheck {
                index: 0,
                wide: false,
                op: ArgOp::Eq,
                value: own_pid,
                meaning: "tgid == own pid",
            },
            "abort() and raise() signal the runtime's own threads only",
        ),
        allow("exit", SYS_exit, "thread exit"),
        allow("exit_group", SYS_exit_group, "process exit"),
        allow(
            "restart_syscall",
            SYS_restart_syscall,
            "kernel restart of an interrupted sleep",
        ),
        // Memory.
        allow("brk", SYS_brk, "malloc's heap"),
        allow(
            "mmap",
            SYS_mmap,
            "malloc, thread stacks, wasmtime linear memories and JIT code (PROT_EXEC)",
        ),
        allow("munmap", SYS_munmap, "free memory"),
        allow(
            "mprotect",
            SYS_mprotect,
            "guard pages; wasmtime makes JIT code executable and grows memories",
        ),
        allow("mremap", SYS_mremap, "realloc of large blocks"),
        allow(
            "madvise",
            SYS_madvise,
            "return freed memory; wasmtime resets linear memories",
        ),
        refuse(
            "memfd_create",
            SYS_memfd_create,
            ENOSYS,
            "memfd pages escape RLIMIT_DATA; on ENOSYS wasmtime copies images instead",
        ),
        // Signals: wasmtime turns SIGSEGV/SIGILL/SIGFPE in JIT code into traps.
        allow(
            "rt_sigaction",
            SYS_rt_sigaction,
            "wasmtime's trap handlers; std's SIGPIPE and stack-overflow handlers",
        ),
        allow(
            "rt_sigprocmask",
            SYS_rt_sigprocmask,
            "signal masks around thread creation and in handlers",
        ),
        allow(
            "rt_sigreturn",
            SYS_rt_sigreturn,
            "return from a signal handler (wasmtime traps)",
        ),
        allow(
            "sigaltstack",
            SYS_sigaltstack,
            "alternate signal stacks for overflow and trap handling",
        ),
        // Time.
        allow(
            "clock_gettime",
            SYS_clock_gettime,
            "timestamps, timeouts, certificate validity (vDSO fallback)",
        ),
        allow("clock_getres", SYS_clock_getres, "timer resolution"),
        allow(
            "gettimeofday",
            SYS_gettimeofday,
            "wall clock (vDSO fallback)",
        ),
        allow("nanosleep", SYS_nanosleep, "sleeps"),
        allow(
            "clock_nanosleep",
            SYS_clock_nanosleep,
            "sleeps (std::thread::sleep)",
        ),
        // Randomness for keys, nonces and TLS.
        allow(
            "getrandom",
            SYS_getrandom,
            "the runtime's key pair, TLS and seeded program randomness",
        ),
        allow_if(
            "prctl",
            SYS_prctl,
            arg_is(0, PR_SET_NAME as u64, "option == PR_SET_NAME"),
            "name threads",
        ),
        allow_if(
            "prctl",
            SYS_prctl,
            arg_is(0, PR_GET_NAME as u64, "option == PR_GET_NAME"),
            "read thread names",
        ),
        // Reaching outside: impossible, refused with an error so library code fails cleanly.
        refuse(
            "openat",
            SYS_openat,
            EPERM,
            "no file system access after start (std::fs, /proc probes by libraries)",
        ),
        refuse(
            "openat2",
            SYS_openat2,
            EPERM,
            "no file system access after start",
        ),
        refuse(
            "socket",
            SYS_socket,
            EPERM,
            "no new network or local sockets; the host socket is the only channel",
        ),
        refuse(
            "execve",
            SYS_execve,
            EPERM,
            "the runtime never runs another program",
        ),
        refuse(
            "execveat",
            SYS_execveat,
            EPERM,
            "the runtime never runs another program",
        ),
    ];
    #[cfg(target_arch = "x86_64")]
    rules.extend([
        allow("poll", SYS_poll, "poll(2) on descriptors (x86_64 only)"),
        allow(
            "epoll_wait",
            SYS_epoll_wait,
            "tokio/mio event loop (x86_64 only)",
        ),
        refuse(
            "open",
            SYS_open,
            EPERM,
            "no file system access after start (x86_64 only)",
        ),
    ]);
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_reason_and_refusals_do_not_overlap_allows() {
        let profile = SeccompProfile::runtime();
        assert_eq!(profile.default_action, DefaultAction::KillProcess);
        for rule in &profile.rules {
            assert!(rule.reason.len() > 5, "{} has no reason", rule.name);
            if let Verdict::Refuse(_) = rule.verdict {
                // An unconditional refusal next to an allow would make the allow dead code.
                let allows = profile
                    .rules_for(rule.name)
                    .filter(|r| r.verdict == Verdict::Allow)
                    .count();
                assert!(
                    allows == 0 || !rule.when.is_empty(),
                    "{} is both allowed and refused",
                    rule.name
                );
            }
        }
    }

    #[test]
    fn reaching_outside_is_never_allowed() {
        let profile = SeccompProfile::runtime();
        for name in [
            "open",
            "openat",
            "openat2",
            "socket",
            "connect",
            "bind",
            "listen",
            "accept",
            "accept4",
            "execve",
            "execveat",
            "ptrace",
            "mount",
            "umount2",
            "pivot_root",
            "unshare",
            "setns",
            "process_vm_readv",
            "process_vm_writev",
            "kill",
            "fork",
            "vfork",
            "setuid",
            "bpf",
            "seccomp",
        ] {
            assert!(
                profile.rules_for(name).all(|r| r.verdict != Verdict::Allow),
                "{name} must not be allowed"
            );
        }
        // clone is allowed only for threads.
        let clone: Vec<_> = profile.rules_for("clone").collect();
        assert_eq!(clone.len(), 1);
        assert_eq!(clone[0].when.len(), 1);
    }

    #[test]
    fn compiles_to_one_filter_per_refusal_errno_plus_the_allow_list() {
        let programs = SeccompProfile::runtime().compile().unwrap();
        let names: Vec<&str> = programs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["refusals with EPERM", "refusals with ENOSYS", "allow-list"]
        );
        assert!(programs.iter().all(|(_, p)| !p.is_empty()));
    }

    #[test]
    fn display_lists_every_rule() {
        let profile = SeccompProfile::runtime();
        let text = profile.to_string();
        assert_eq!(text.lines().count(), profile.rules.len() + 1);
        assert!(text.contains(
            "clone            allow if flags has CLONE_THREAD|CLONE_VM and no CLONE_NEW*"
        ));
        assert!(text.contains("openat           refuse EPERM"));
    }
}
