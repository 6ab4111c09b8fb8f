//! `veracruz server`: the delegate's untrusted server.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use veracruz_host::{ServerOptions, Spawned};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IsolateKind {
    /// The runtime in new user, mount, PID, network, IPC and UTS namespaces, with an empty
    /// root, seccomp, no_new_privs and memory limits. Its evidence is self-asserted.
    Linux,
    /// A plain child process with no confinement: for debugging the runtime only.
    None,
}

#[derive(Args)]
pub struct ServerArgs {
    /// The policy file (its exact bytes are what the runtime is attested for).
    #[arg(long)]
    pub policy: PathBuf,
    /// How to isolate the runtime.
    #[arg(long, value_enum, default_value = "linux")]
    pub isolate: IsolateKind,
    /// Attestation service URL, overriding the policy's (e.g. when it is reached through a proxy).
    #[arg(long = "attestation-service")]
    pub attestation_service: Option<String>,
    /// Address to listen on, overriding the policy's server address.
    #[arg(long)]
    pub listen: Option<String>,
    /// The runtime executable; default: `veracruz-runtime` next to this program.
    #[arg(long)]
    pub runtime: Option<PathBuf>,
}

/// `veracruz-runtime` beside the running `veracruz`, as cargo and installs lay them out.
pub fn default_runtime() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the veracruz executable")?;
    let runtime = exe.with_file_name("veracruz-runtime");
    if !runtime.exists() {
        bail!(
            "no runtime at {} (build it with `cargo build -p veracruz-runtime`, or pass --runtime)",
            runtime.display()
        );
    }
    Ok(runtime)
}

/// Starts the runtime as `kind` says.
pub fn spawn(kind: IsolateKind, runtime: &std::path::Path, memory_limit: u64) -> Result<Spawned> {
    match kind {
        IsolateKind::None => {
            tracing::warn!("the runtime runs unconfined (--isolate none)");
            Ok(veracruz_host::spawn::spawn_process(runtime)?)
        }
        IsolateKind::Linux => Ok(veracruz_host::spawn::spawn_isolated(runtime, memory_limit)?),
    }
}

pub fn run(args: ServerArgs) -> Result<ExitCode> {
    let policy_bytes = std::fs::read(&args.policy)
        .with_context(|| format!("reading {}", args.policy.display()))?;
    let policy = veracruz_policy::Policy::from_bytes(&policy_bytes)
        .with_context(|| format!("{} is not a valid policy", args.policy.display()))?;
    let runtime = match args.runtime {
        Some(r) => r,
        None => default_runtime()?,
    };
    let memory = u64::from(policy.document().execution.max_memory_mib) << 20;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async move {
        let spawned = spawn(args.isolate, &runtime, memory)?;
        let pid = spawned.pid;
        let server = veracruz_host::start(
            ServerOptions {
                policy_bytes,
                attestation_url: args.attestation_service,
                listen: args.listen,
                runtime: runtime.clone(),
                relay_chunk_bytes: veracruz_host::relay::RELAY_CHUNK_BYTES,
            },
            spawned,
        )
        .await
        .context("starting the attested runtime")?;
        println!(
            "ready: listening on {} for policy {}; runtime pid {pid} attested on platform {}{}",
            server.local_addr,
            policy.hash_hex(),
            server.platform,
            if server.platform == "linux" {
                " (INSECURE: self-asserted evidence)"
            } else {
                ""
            }
        );
        match server.serve().await {
            Ok(_) => {
                // Whoever started the server may have stopped reading its output by now.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stdout(),
                    "the computation was shut down by its principals"
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Err(anyhow::Error::new(e).context("the runtime stopped")),
        }
    })
}
