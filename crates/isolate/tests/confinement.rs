//! The `linux` isolate, tested on real processes: the host starts `isolate-probe` (which plays
//! the runtime) with `spawn`, checks its confinement from `/proc`, and asks it over the socket
//! what it can reach before and after it confines itself.
//!
//! Needs Linux with user namespaces (run as root or as a user allowed to create them).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};
use veracruz_isolate::{
    spawn, ChildStep, Isolate, IsolateConfig, IsolateError, IsolateExit, NAMESPACES,
};

const PROBE: &str = env!("CARGO_BIN_EXE_isolate-probe");
const MIB: u64 = 1024 * 1024;
const WAIT: Duration = Duration::from_secs(20);

/// A started probe, its socket split for line-wise talk, and what it reported before
/// confinement.
struct Probe {
    isolate: Isolate,
    input: BufReader<UnixStream>,
    output: UnixStream,
    pre: Vec<(String, String)>,
    listener: TcpListener,
    host_dir: tempfile::TempDir,
}

impl Probe {
    fn start() -> Probe {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let host_dir = tempfile::tempdir().unwrap();
        std::fs::write(host_dir.path().join("secret.txt"), "host secret").unwrap();
        // The probe runs as an unprivileged id; make the directory listable by anyone so that
        // only the isolate, not file permissions, stands in its way.
        std::fs::set_permissions(host_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut config = IsolateConfig::new(PROBE, 64 * MIB);
        config.runtime_headroom = 64 * MIB;
        config.max_open_files = 32;
        config.args = vec![
            port.to_string().into(),
            host_dir.path().as_os_str().to_owned(),
        ];
        let mut isolate = spawn(&config).unwrap();
        let output = isolate.take_socket().expect("host socket");
        output.set_read_timeout(Some(WAIT)).unwrap();
        let input = BufReader::new(output.try_clone().unwrap());
        let mut probe = Probe {
            isolate,
            input,
            output,
            pre: Vec::new(),
            listener,
            host_dir,
        };
        for _ in 0..7 {
            let line = probe.read_line().expect("probe report before confinement");
            let (key, value) = line.split_once(' ').unwrap_or((&line, ""));
            probe.pre.push((key.to_owned(), value.to_owned()));
        }
        probe
    }

    fn pre(&self, key: &str) -> &str {
        &self
            .pre
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", self.pre))
            .1
    }

    fn read_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.input.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(line.trim_end().to_owned()),
            Err(e) => panic!("reading from the probe: {e}"),
        }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.output, "{command}").unwrap();
    }

    fn ask(&mut self, command: &str) -> String {
        self.send(command);
        self.read_line().unwrap_or_else(|| {
            panic!(
                "probe died on {command:?}: {:?}",
                self.isolate.wait_timeout(WAIT)
            )
        })
    }

    fn confine(&mut self) {
        assert_eq!(self.ask("confine"), "confined");
    }

    fn wait(&mut self) -> IsolateExit {
        self.isolate
            .wait_timeout(WAIT)
            .unwrap()
            .expect("probe did not end in time")
    }
}

fn errno_of(answer: &str) -> i32 {
    answer
        .strip_prefix("err ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("expected an error answer, got {answer:?}"))
}

fn sha256_hex(path: &Path) -> String {
    Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn namespaces_seccomp_no_new_privs_dumpable_limits_and_fds() {
    let mut probe = Probe::start();

    // Before the runtime confines itself: namespaces, no_new_privs and rlimits are already
    // in place (set by the host side), seccomp is not.
    let before = probe.isolate.inspect().unwrap();
    for kind in NAMESPACES {
        let ns = before.namespace(kind).unwrap();
        assert!(
            ns.is_separate(),
            "{kind} namespace is shared with the host: {ns:?}"
        );
    }
    assert_eq!(before.seccomp_mode, 0);
    assert!(before.no_new_privs);

    probe.confine();
    let view = probe.isolate.inspect().unwrap();
    assert_eq!(view.namespaces.len(), 7);
    assert!(
        view.namespaces.iter().all(|ns| ns.is_separate()),
        "{:?}",
        view.namespaces
    );
    assert_eq!(view.seccomp_mode, 2, "seccomp filter mode");
    assert!(view.no_new_privs);
    if rustix::process::geteuid().is_root() {
        // A root host maps the runtime to nobody, not to itself.
        assert_eq!(view.euid, veracruz_isolate::NOBODY_ID);
    }
    assert_eq!(view.dumpable(), Some(false), "runtime must not be dumpable");
    let data = view.limit("Max data size").unwrap();
    assert_eq!((data.soft, data.hard), (Some(128 * MIB), Some(128 * MIB)));
    let files = view.limit("Max open files").unwrap();
    assert_eq!((files.soft, files.hard), (Some(32), Some(32)));
    let core = view.limit("Max core file size").unwrap();
    assert_eq!((core.soft, core.hard), (Some(0), Some(0)));
    // Only stdio and the socket are open. An unprivileged host cannot list the descriptors
    // of a non-dumpable process, so the confined view is checked where the host is root.
    let only_stdio_and_socket: &[i32] = &[0, 1, 2, 3];
    assert_eq!(
        before.open_fds.as_deref(),
        Some(only_stdio_and_socket),
        "fds at start"
    );
    if rustix::process::geteuid().is_root() {
        assert_eq!(
            view.open_fds.as_deref(),
            Some(only_stdio_and_socket),
            "fds when confined"
        );
    }

    // /proc inside is the runtime's own PID namespace's, so /proc/self/exe is the runtime.
    assert_eq!(probe.pre("exe-sha256"), sha256_hex(Path::new(PROBE)));
    // The root holds /proc and, for this dynamically linked probe, the library directories
    // its loader needs, nothing else; and it is read-only.
    for entry in probe.pre("pre-root").split(',') {
        assert!(
            ["proc", "lib", "lib64", "usr"].contains(&entry),
            "unexpected /{entry} in the isolate"
        );
    }
    assert_eq!(errno_of(probe.pre("pre-write-root")), libc::EROFS);
    // Every mount of the runtime's mount namespace, as the host sees it.
    for mount in &view.mounts {
        assert!(mount.read_only, "{mount:?} is writable");
        assert!(
            mount.options.contains("nosuid") && mount.options.contains("nodev"),
            "{mount:?}"
        );
        let allowed = ["/", "/proc"].contains(&mount.mount_point.as_str())
            || veracruz_isolate::DEFAULT_LIBRARY_DIRS.contains(&mount.mount_point.as_str());
        assert!(allowed, "unexpected mount {mount:?}");
    }
    let root = view.mounts.iter().find(|m| m.mount_point == "/").unwrap();
    assert_eq!(root.fs_type, "tmpfs");
    let proc = view
        .mounts
        .iter()
        .find(|m| m.mount_point == "/proc")
        .unwrap();
    assert_eq!(proc.fs_type, "proc");
    assert_eq!(
        probe.pre("pre-hostname"),
        veracruz_isolate::DEFAULT_HOSTNAME
    );

    // Threads still work under the allow-list (clone with thread flags, futex, prctl name).
    assert_eq!(probe.ask("thread"), "ok 42");
    assert_eq!(probe.ask("dup"), "ok");
    probe.send("exit 0");
    assert_eq!(probe.wait(), IsolateExit::Exited(0));
}

#[test]
fn no_network_no_host_files_no_exec() {
    let mut probe = Probe::start();
    let secret = probe.host_dir.path().join("secret.txt");

    // The namespaces alone: an empty root and a network namespace whose loopback is down.
    assert_eq!(errno_of(probe.pre("pre-open-passwd")), libc::ENOENT);
    assert_eq!(errno_of(probe.pre("pre-host-dir")), libc::ENOENT);
    assert_eq!(errno_of(probe.pre("pre-connect")), libc::ENETUNREACH);

    // After confinement, seccomp refuses the attempts themselves.
    probe.confine();
    assert_eq!(errno_of(&probe.ask("open /etc/passwd")), libc::EPERM);
    assert_eq!(
        errno_of(&probe.ask(&format!("open {}", secret.display()))),
        libc::EPERM
    );
    let port = probe.listener.local_addr().unwrap().port();
    assert_eq!(
        errno_of(&probe.ask(&format!("connect {port}"))),
        libc::EPERM
    );
    assert_eq!(errno_of(&probe.ask("exec /bin/sh")), libc::EPERM);
    assert_eq!(errno_of(&probe.ask(&format!("exec {PROBE}"))), libc::EPERM);

    // Nothing reached the listener.
    probe.listener.set_nonblocking(true).unwrap();
    assert_eq!(
        probe.listener.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    // And the probe is alive and well after all of it.
    assert_eq!(probe.ask("ping"), "pong");
}

#[test]
fn a_forbidden_syscall_kills_the_runtime_with_sigsys() {
    let mut probe = Probe::start();
    probe.confine();
    probe.send("mount");
    let exit = probe.wait();
    assert_eq!(exit, IsolateExit::Signaled(libc::SIGSYS));
    assert!(exit.is_seccomp_violation());
    let err = exit.into_result(probe.isolate.pid()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("SIGSYS") && message.contains("seccomp allow-list"),
        "{message}"
    );
    // The host sees the socket close.
    assert_eq!(probe.read_line(), None);
}

#[test]
fn starting_another_process_kills_the_runtime() {
    let mut probe = Probe::start();
    probe.confine();
    probe.send("spawn /bin/true");
    assert_eq!(probe.wait(), IsolateExit::Signaled(libc::SIGSYS));
}

#[test]
fn memory_beyond_the_data_limit_is_refused() {
    let mut probe = Probe::start();
    probe.confine();
    // 128 MiB RLIMIT_DATA: 32 MiB fits, 256 MiB does not.
    assert_eq!(probe.ask(&format!("alloc {}", 32 * MIB)), "ok");
    let answer = probe.ask(&format!("alloc {}", 256 * MIB));
    assert!(answer.starts_with("err "), "{answer}");
    assert_eq!(probe.ask("ping"), "pong");
}

#[test]
fn killing_the_runtime_is_observed_by_the_host() {
    let mut probe = Probe::start();
    probe.confine();
    probe.send("sleep");
    assert_eq!(probe.isolate.try_wait().unwrap(), None);
    probe.isolate.kill().unwrap();
    let exit = probe.wait();
    assert_eq!(exit, IsolateExit::Signaled(libc::SIGKILL));
    let message = exit
        .into_result(probe.isolate.pid())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("was killed by signal SIGKILL"),
        "{message}"
    );
    // The host's end of the socket reports the end: EOF, or a reset if the runtime died with
    // unread bytes.
    let mut rest = Vec::new();
    match probe.input.read_to_end(&mut rest) {
        Ok(n) => assert_eq!(n, 0, "unexpected bytes after the kill"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    // Killing again, after the end, is not an error.
    probe.isolate.kill().unwrap();
}

#[test]
fn a_kill_from_outside_is_observed_too() {
    let mut probe = Probe::start();
    let pid = rustix::process::Pid::from_raw(probe.isolate.pid() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    assert_eq!(probe.wait(), IsolateExit::Signaled(libc::SIGKILL));
}

#[test]
fn runtime_exit_status_is_reported() {
    let mut probe = Probe::start();
    probe.confine();
    probe.send("exit 7");
    let exit = probe.wait();
    assert_eq!(exit, IsolateExit::Exited(7));
    let err = exit.into_result(probe.isolate.pid()).unwrap_err();
    assert!(matches!(err, IsolateError::RuntimeEnded { .. }));
    assert!(err.to_string().contains("exited with status 7"), "{err}");
}

#[test]
fn a_static_executable_gets_an_entirely_empty_root() {
    // Debian's ldconfig is a static-pie executable: no loader, so no library directories.
    // `ldconfig -p` reads /etc/ld.so.cache, which does not exist inside.
    let ldconfig = Path::new("/sbin/ldconfig");
    if !ldconfig.exists() {
        eprintln!("skipping: no /sbin/ldconfig on this system");
        return;
    }
    let (read_end, write_end) = rustix::pipe::pipe().unwrap();
    let mut config = IsolateConfig::new(ldconfig, 16 * MIB);
    config.args = vec!["-p".into()];
    config.stderr = veracruz_isolate::ChildStdio::Fd(std::sync::Arc::new(write_end));
    let mut isolate = spawn(&config).unwrap();
    drop(config);
    let view = isolate.inspect();
    let exit = isolate.wait_timeout(WAIT).unwrap().expect("ldconfig ended");
    let mut stderr = String::new();
    std::fs::File::from(read_end)
        .read_to_string(&mut stderr)
        .unwrap();
    assert_ne!(
        exit,
        IsolateExit::Exited(0),
        "ldconfig found a cache: {stderr}"
    );
    assert!(stderr.contains("/etc/ld.so.cache"), "{stderr}");
    // If it was still running when inspected, its mounts are the root and /proc only.
    if let Ok(view) = view {
        let points: Vec<&str> = view.mounts.iter().map(|m| m.mount_point.as_str()).collect();
        assert_eq!(points, ["/", "/proc"]);
    }
}

#[test]
fn a_dynamic_executable_without_library_dirs_cannot_start() {
    let mut config = IsolateConfig::new(PROBE, MIB);
    config.library_dirs = veracruz_isolate::LibraryDirs::None;
    let err = spawn(&config).unwrap_err();
    // The kernel cannot find the ELF interpreter in the empty root.
    match &err {
        IsolateError::ChildSetup { step, source } => {
            assert_eq!(*step, ChildStep::Exec);
            assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
        }
        other => panic!("expected a failed exec, got {other}"),
    }
}

#[test]
fn a_missing_executable_is_named() {
    let err = spawn(&IsolateConfig::new("/nonexistent/veracruz-runtime", MIB)).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("/nonexistent/veracruz-runtime"),
        "{message}"
    );
}

#[test]
fn a_failed_exec_inside_reports_its_step() {
    // Readable but not executable by anyone: the child gets as far as execveat.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-program");
    std::fs::write(&path, "plain text").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = spawn(&IsolateConfig::new(&path, MIB)).unwrap_err();
    match &err {
        IsolateError::ChildSetup { step, source } => {
            assert_eq!(*step, ChildStep::Exec);
            assert_eq!(source.raw_os_error(), Some(libc::EACCES));
        }
        other => panic!("expected a setup error, got {other}"),
    }
    assert!(err.to_string().contains("execveat"), "{err}");
}

#[test]
fn a_failed_confinement_step_reports_it() {
    // An RLIMIT_NOFILE above the hard limit cannot be set by an unprivileged process.
    let mut config = IsolateConfig::new(PROBE, MIB);
    config.max_open_files = u64::MAX - 1;
    let err = spawn(&config).unwrap_err();
    assert!(
        matches!(
            err,
            IsolateError::ChildSetup {
                step: ChildStep::LimitOpenFiles,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("RLIMIT_NOFILE"), "{err}");
}

#[test]
fn many_isolates_start_concurrently() {
    let handles: Vec<_> = (0..6)
        .map(|_| {
            std::thread::spawn(|| {
                let mut probe = Probe::start();
                probe.confine();
                assert_eq!(probe.ask("ping"), "pong");
                probe.send("exit 0");
                probe.wait()
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), IsolateExit::Exited(0));
    }
}

#[test]
fn an_unprivileged_host_gets_the_same_confinement() {
    // As root, re-run the main confinement test as `nobody`: the host then may only map its
    // own ids, must deny setgroups, and cannot read a non-dumpable runtime's descriptors.
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipping: already unprivileged (the other tests cover this case)");
        return;
    }
    let me = std::env::current_exe().unwrap();
    // `nobody` must be able to reach this test binary (the probe itself is executed from a
    // descriptor, so it needs no path access).
    let reachable = me
        .ancestors()
        .skip(1)
        .all(|dir| std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
        && std::fs::metadata(&me).is_ok_and(|m| m.permissions().mode() & 0o005 == 0o005);
    if !reachable {
        eprintln!("skipping: {} is not reachable by nobody", me.display());
        return;
    }
    let output = std::process::Command::new(&me)
        .args([
            "--exact",
            "namespaces_seccomp_no_new_privs_dumpable_limits_and_fds",
            "no_network_no_host_files_no_exec",
            "--test-threads=1",
        ])
        .uid(veracruz_isolate::NOBODY_ID)
        .gid(veracruz_isolate::NOBODY_ID)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("2 passed"),
        "as nobody: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
