//! Starting the runtime process.
//!
//! [`spawn_process`] starts it as a plain child process with the channel on its standard
//! input: no confinement at all, for debugging the runtime itself. The `linux` isolate
//! (namespaces, seccomp, an empty root) is the default and lives in `veracruz-isolate`.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;

use crate::relay::{ServerError, Spawned};

/// Starts `runtime` unconfined, with the host channel as its standard input.
pub fn spawn_process(runtime: &Path) -> Result<Spawned, ServerError> {
    let (host_end, child_end) =
        std::os::unix::net::UnixStream::pair().map_err(|e| ServerError::Spawn(e.to_string()))?;
    let mut child = tokio::process::Command::new(runtime)
        .stdin(Stdio::from(OwnedFd::from(child_end)))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ServerError::Spawn(format!("{}: {e}", runtime.display())))?;
    let pid = child.id().unwrap_or(0);
    let (exit_tx, exit_rx) = tokio::sync::oneshot::channel();
    let (kill_tx, kill_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let status = tokio::select! {
            s = child.wait() => s,
            _ = kill_rx => {
                let _ = child.kill().await;
                child.wait().await
            }
        };
        let how = match status {
            Ok(s) => describe(s),
            Err(e) => format!("cannot be waited for: {e}"),
        };
        let _ = exit_tx.send(how);
    });
    Ok(Spawned {
        stream: host_end,
        pid,
        exit: exit_rx,
        kill: Some(kill_tx),
    })
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("with exit code {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "for an unknown reason".into(),
    }
}

/// Starts `runtime` in the `linux` isolate (see `veracruz-isolate`): fresh namespaces, an
/// empty read-only root, no network, rlimits from the policy's memory limit.
pub fn spawn_isolated(runtime: &Path, memory_limit: u64) -> Result<Spawned, ServerError> {
    let mut config = veracruz_isolate::IsolateConfig::new(runtime, memory_limit);
    // The isolate passes nothing of the host's environment on; keep the runtime's log level.
    for var in ["VERACRUZ_RUNTIME_LOG", "VERACRUZ_VFS_QUOTA_BYTES"] {
        if let Some(v) = std::env::var_os(var) {
            config.env.push((var.into(), v));
        }
    }
    let mut isolate =
        veracruz_isolate::spawn(&config).map_err(|e| ServerError::Spawn(e.to_string()))?;
    let stream = isolate
        .take_socket()
        .ok_or_else(|| ServerError::Spawn("the isolate has no socket".into()))?;
    let pid = isolate.pid();
    let (exit_tx, exit_rx) = tokio::sync::oneshot::channel();
    let (kill_tx, mut kill_rx) = tokio::sync::oneshot::channel::<()>();
    // The isolate's handle waits synchronously; poll it on a blocking thread so a kill request
    // (or the server going away) is noticed within a tick.
    tokio::task::spawn_blocking(move || {
        let how = loop {
            match kill_rx.try_recv() {
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
                _ => {
                    let _ = isolate.kill();
                }
            }
            match isolate.wait_timeout(std::time::Duration::from_millis(100)) {
                Ok(Some(veracruz_isolate::IsolateExit::Exited(code))) => {
                    break format!("with exit code {code}")
                }
                Ok(Some(exit)) if exit.is_seccomp_violation() => {
                    break "killed by its seccomp filter (a forbidden system call)".to_string()
                }
                Ok(Some(veracruz_isolate::IsolateExit::Signaled(sig))) => {
                    break format!("killed by signal {sig}")
                }
                Ok(None) => {}
                Err(e) => break format!("cannot be waited for: {e}"),
            }
        };
        let _ = exit_tx.send(how);
    });
    Ok(Spawned {
        stream,
        pid,
        exit: exit_rx,
        kill: Some(kill_tx),
    })
}
