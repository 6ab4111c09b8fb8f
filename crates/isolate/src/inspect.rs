//! What the host can see of a process's confinement in `/proc`: its namespaces compared to
//! the host's own, its seccomp mode, `no_new_privs`, dumpability, rlimits and open
//! descriptors. Used by the tests and by anyone who wants to check an isolate from outside
//! rather than trust what the runtime says about itself.

use std::os::fd::RawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::IsolateError;

/// The namespace kinds the isolate creates, as named in `/proc/<pid>/ns/`.
pub const NAMESPACES: [&str; 7] = ["user", "mnt", "pid", "net", "ipc", "uts", "cgroup"];

/// One namespace of the inspected process next to the host's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceView {
    /// `user`, `mnt`, ...
    pub kind: &'static str,
    /// Link target of the inspecting process, e.g. `net:[4026531840]`.
    pub host: String,
    /// Link target of the inspected process.
    pub isolate: String,
}

impl NamespaceView {
    /// True when the process is in a different namespace than the host.
    pub fn is_separate(&self) -> bool {
        self.host != self.isolate
    }
}

/// One line of `/proc/<pid>/limits`; `None` means unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// E.g. `Max data size`.
    pub name: String,
    /// Soft limit.
    pub soft: Option<u64>,
    /// Hard limit.
    pub hard: Option<u64>,
}

/// One mount of the process's mount namespace (from `/proc/<pid>/mountinfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountView {
    /// Where it is mounted, as the process sees it.
    pub mount_point: String,
    /// File system type (`tmpfs`, `proc`, `ext4`, ...).
    pub fs_type: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// Per-mount options, e.g. `ro,nosuid,nodev,noexec,relatime`.
    pub options: String,
}

/// A process's confinement as seen from the host.
#[derive(Debug, Clone)]
pub struct ProcessView {
    /// Host pid.
    pub pid: u32,
    /// Every kind of [`NAMESPACES`].
    pub namespaces: Vec<NamespaceView>,
    /// `Seccomp:` of `/proc/<pid>/status`: 0 none, 1 strict, 2 filter.
    pub seccomp_mode: u32,
    /// `NoNewPrivs:` of `/proc/<pid>/status`.
    pub no_new_privs: bool,
    /// Effective uid, as the host sees it.
    pub euid: u32,
    /// Owner of `/proc/<pid>/status`: the kernel makes it root when the process is not
    /// dumpable.
    pub proc_owner_uid: u32,
    /// `/proc/<pid>/limits`.
    pub limits: Vec<Limit>,
    /// Open descriptors, sorted; `None` when the host may not list them (an unprivileged
    /// host cannot, once the process is no longer dumpable: `/proc/<pid>/fd` then belongs to
    /// root).
    pub open_fds: Option<Vec<RawFd>>,
    /// Its file system view: every mount of its mount namespace.
    pub mounts: Vec<MountView>,
    /// Session id (host pid of the session leader), from `/proc/<pid>/stat`.
    pub session_id: u32,
    /// Controlling terminal device number; 0 for none.
    pub tty_nr: i64,
}

impl ProcessView {
    /// The limit with this name (as in `/proc/<pid>/limits`, e.g. `Max data size`).
    pub fn limit(&self, name: &str) -> Option<&Limit> {
        self.limits.iter().find(|l| l.name == name)
    }

    /// The namespace of this kind.
    pub fn namespace(&self, kind: &str) -> Option<&NamespaceView> {
        self.namespaces.iter().find(|n| n.kind == kind)
    }

    /// Whether the process is dumpable, when that can be told from outside: a non-dumpable
    /// process's `/proc/<pid>/*` files belong to root, a dumpable one's to its effective uid. For a
    /// process running as host root the two look the same, hence `None`.
    pub fn dumpable(&self) -> Option<bool> {
        (self.euid != 0).then_some(self.proc_owner_uid != 0)
    }
}

fn read(path: PathBuf) -> Result<String, IsolateError> {
    std::fs::read_to_string(&path).map_err(|source| IsolateError::Inspect { path, source })
}

fn link(path: PathBuf) -> Result<String, IsolateError> {
    std::fs::read_link(&path)
        .map(|t| t.to_string_lossy().into_owned())
        .map_err(|source| IsolateError::Inspect { path, source })
}

fn malformed(path: &Path, what: &str) -> IsolateError {
    IsolateError::Inspect {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned()),
    }
}

/// Reads the confinement of process `pid` from `/proc`.
pub fn inspect(pid: u32) -> Result<ProcessView, IsolateError> {
    let base = PathBuf::from(format!("/proc/{pid}"));
    let mut namespaces = Vec::with_capacity(NAMESPACES.len());
    for kind in NAMESPACES {
        namespaces.push(NamespaceView {
            kind,
            host: link(PathBuf::from(format!("/proc/self/ns/{kind}")))?,
            isolate: link(base.join("ns").join(kind))?,
        });
    }

    let status_path = base.join("status");
    let status = read(status_path.clone())?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .ok_or_else(|| malformed(&status_path, &format!("no `{name}` line")))
    };
    let number = |name: &str| -> Result<u32, IsolateError> {
        field(name)?
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| malformed(&status_path, &format!("`{name}` is not a number")))
    };
    let seccomp_mode = number("Seccomp:")?;
    let no_new_privs = number("NoNewPrivs:")? == 1;
    let euid = field("Uid:")?
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| malformed(&status_path, "`Uid:` has no effective uid"))?;

    // Not /proc/<pid> itself: the kernel exempts world-readable directories from the rule.
    let proc_owner_uid = std::fs::metadata(&status_path)
        .map_err(|source| IsolateError::Inspect {
            path: status_path.clone(),
            source,
        })?
        .uid();

    let limits_path = base.join("limits");
    let limits = parse_limits(&read(limits_path.clone())?)
        .ok_or_else(|| malformed(&limits_path, "unexpected layout"))?;

    let fd_dir = base.join("fd");
    let open_fds = match std::fs::read_dir(&fd_dir) {
        Ok(entries) => {
            let mut fds = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|source| IsolateError::Inspect {
                    path: fd_dir.clone(),
                    source,
                })?;
                if let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                    fds.push(fd);
                }
            }
            fds.sort_unstable();
            Some(fds)
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => None,
        Err(source) => {
            return Err(IsolateError::Inspect {
                path: fd_dir,
                source,
            })
        }
    };

    let stat_path = base.join("stat");
    let stat = read(stat_path.clone())?;
    // `pid (comm) state ppid pgrp session tty_nr ...`; comm may hold spaces and parentheses.
    let after_comm: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let stat_field = |i: usize| after_comm.get(i).and_then(|v| v.parse::<i64>().ok());
    let (Some(session_id), Some(tty_nr)) = (stat_field(3), stat_field(4)) else {
        return Err(malformed(&stat_path, "no session and tty fields"));
    };

    let mountinfo_path = base.join("mountinfo");
    let mounts = parse_mountinfo(&read(mountinfo_path.clone())?)
        .ok_or_else(|| malformed(&mountinfo_path, "unexpected layout"))?;

    Ok(ProcessView {
        pid,
        namespaces,
        seccomp_mode,
        no_new_privs,
        euid,
        proc_owner_uid,
        limits,
        open_fds,
        mounts,
        session_id: session_id as u32,
        tty_nr,
    })
}

/// Parses `mountinfo` lines: `id parent dev root mount-point options [tags] - type source super`.
fn parse_mountinfo(text: &str) -> Option<Vec<MountView>> {
    text.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let dash = fields.iter().position(|f| *f == "-")?;
            let options = (*fields.get(5)?).to_owned();
            Some(MountView {
                // The kernel escapes space, tab, newline and backslash as octal.
                mount_point: fields.get(4)?.replace("\\040", " "),
                fs_type: (*fields.get(dash + 1)?).to_owned(),
                read_only: options.split(',').any(|o| o == "ro"),
                options,
            })
        })
        .collect()
}

/// Parses the kernel's fixed-width `limits` table (`%-25s %-20s %-20s %-10s`).
fn parse_limits(text: &str) -> Option<Vec<Limit>> {
    let value = |s: &str| -> Option<Option<u64>> {
        match s.trim() {
            "unlimited" => Some(None),
            v => v.parse().ok().map(Some),
        }
    };
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            Some(Limit {
                name: line.get(..25)?.trim().to_owned(),
                soft: value(line.get(26..46)?)?,
                hard: value(line.get(47..67)?)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_kernel_limits_table() {
        let text =
            "Limit                     Soft Limit           Hard Limit           Units     \n\
Max cpu time              unlimited            unlimited            seconds   \n\
Max data size             1073741824           2147483648           bytes     \n\
Max core file size        0                    0                    bytes     \n";
        let limits = parse_limits(text).unwrap();
        assert_eq!(limits.len(), 3);
        assert_eq!(limits[0].soft, None);
        assert_eq!(
            limits[1],
            Limit {
                name: "Max data size".into(),
                soft: Some(1 << 30),
                hard: Some(1 << 31)
            }
        );
        assert_eq!(limits[2].hard, Some(0));
    }

    #[test]
    fn parses_mountinfo() {
        let text = "700 650 0:90 / / ro,nosuid,nodev,noexec,relatime - tmpfs tmpfs ro,size=64k\n\
701 700 0:91 / /proc ro,nosuid,nodev,noexec,relatime shared:5 - proc proc ro,subset=pid\n";
        let mounts = parse_mountinfo(text).unwrap();
        assert_eq!(mounts.len(), 2);
        assert_eq!(mounts[0].mount_point, "/");
        assert_eq!(mounts[0].fs_type, "tmpfs");
        assert!(mounts[0].read_only);
        assert_eq!(mounts[1].fs_type, "proc");
        assert_eq!(mounts[1].options, "ro,nosuid,nodev,noexec,relatime");
    }

    #[test]
    fn inspects_this_process() {
        let me = inspect(std::process::id()).unwrap();
        assert!(me.namespaces.iter().all(|n| !n.is_separate()));
        assert!(me.limit("Max open files").is_some());
        let fds = me.open_fds.unwrap();
        assert!(fds.contains(&0) || fds.contains(&1) || fds.contains(&2));
    }
}
