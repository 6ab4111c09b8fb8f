//! `veracruz client`: one principal's session with an attested runtime.
//!
//! Connects (verifying the runtime against the policy before anything is sent), then performs
//! the requested steps in a fixed order: writes, appends, execute, reads, status, receipt,
//! consent, shutdown (the receipt comes before the votes, since a vote that completes the
//! shutdown quorum ends the computation). Stops at the first failure; the exit code says what kind it was.

use std::fs::{self, File};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use veracruz_client::{
    code_name, verify_receipt_with, Client, ClientError, ClientOptions, Identity, RuntimeIdentity,
    RuntimeRequirements,
};
use veracruz_policy::Policy;

use super::receipt::{escape, receipt_json, unix_time, write_receipt_human};

/// Exit code when the runtime refused a request (its reason is printed).
pub const EXIT_REFUSED: u8 = 2;
/// Exit code when the runtime was not trusted (nothing was sent to it).
pub const EXIT_NOT_TRUSTED: u8 = 3;

/// Transfers at least this large get a progress bar (on a terminal).
const PROGRESS_THRESHOLD: u64 = 1 << 20;

#[derive(Args)]
pub struct ClientArgs {
    /// The policy file all parties agreed on (its exact bytes are hashed).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// This principal's certificate (PEM), as named in the policy.
    #[arg(long, value_name = "CERT")]
    pub identity: PathBuf,
    /// This principal's private key (PEM).
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Connect to HOST:PORT instead of the policy's server address.
    #[arg(long, value_name = "HOST:PORT")]
    pub server: Option<String>,
    /// Write local FILE to VFS path in the runtime (replacing it). Repeatable.
    #[arg(long = "write", value_name = "VFS=FILE")]
    pub writes: Vec<String>,
    /// Append local FILE to VFS path. Repeatable.
    #[arg(long = "append", value_name = "VFS=FILE")]
    pub appends: Vec<String>,
    /// Run the program at this VFS path.
    #[arg(long, value_name = "PROGRAM", conflicts_with = "pipeline")]
    pub execute: Option<String>,
    /// Run the pipeline the policy names so.
    #[arg(long, value_name = "NAME")]
    pub pipeline: Option<String>,
    /// Read VFS path into local FILE (`-` for standard output). Repeatable.
    #[arg(long = "read", value_name = "VFS=FILE|-")]
    pub reads: Vec<String>,
    /// Print the runtime's lifecycle status.
    #[arg(long)]
    pub status: bool,
    /// Consent to the next round, or vote to shut down.
    #[arg(long, value_enum)]
    pub consent: Option<ConsentKind>,
    /// The run a next-round consent is for (default: the first run not yet allowed, from the
    /// runtime's status: runs finished + runs remaining + 1).
    #[arg(long, requires = "consent")]
    pub round: Option<u64>,
    /// Ask the runtime to shut down (it does once the policy's quorum has voted).
    #[arg(long)]
    pub shutdown: bool,
    /// Fetch the latest run's signed receipt, verify it, and save it to FILE.
    #[arg(long, value_name = "FILE")]
    pub receipt: Option<PathBuf>,
    /// Which run's receipt to fetch (0: the latest).
    #[arg(long, default_value_t = 0, requires = "receipt")]
    pub receipt_round: u64,
    /// Seconds to wait for each answer after connecting (default: no limit; runs may be long).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Trust a runtime whose certificate says it runs in a debug mode its host can inspect.
    #[arg(long)]
    pub allow_debug_runtime: bool,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ConsentKind {
    NextRound,
    Shutdown,
}

/// A `VFS=FILE` argument.
struct Transfer {
    vfs: String,
    local: String,
}

fn parse_transfers(args: &[String], flag: &str) -> Result<Vec<Transfer>> {
    args.iter()
        .map(|a| {
            // VFS paths never contain `=`, local file names may: split at the first one.
            let (vfs, local) = a
                .split_once('=')
                .with_context(|| format!("--{flag} `{a}`: expected VFS=FILE"))?;
            if vfs.is_empty() || local.is_empty() {
                bail!("--{flag} `{a}`: both the VFS path and the local file are needed");
            }
            Ok(Transfer {
                vfs: vfs.to_string(),
                local: local.to_string(),
            })
        })
        .collect()
}

/// Where human-readable lines go: standard output, unless file content goes there.
struct Out {
    json: bool,
    to_stderr: bool,
}

impl Out {
    fn line(&self, text: impl AsRef<str>) {
        if self.json {
            return;
        }
        if self.to_stderr {
            eprintln!("{}", text.as_ref());
        } else {
            println!("{}", text.as_ref());
        }
    }
}

fn progress_bar(label: &str, total: u64, out: &Out) -> ProgressBar {
    let visible = !out.json && total >= PROGRESS_THRESHOLD && io::stderr().is_terminal();
    let target = if visible {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label.to_string());
    bar
}

pub fn run(args: ClientArgs) -> Result<ExitCode> {
    let writes = parse_transfers(&args.writes, "write")?;
    let appends = parse_transfers(&args.appends, "append")?;
    let reads = parse_transfers(&args.reads, "read")?;
    let stdout_reads = reads.iter().filter(|r| r.local == "-").count();
    if stdout_reads > 1 {
        bail!("only one --read can go to standard output (`-`)");
    }
    if stdout_reads == 1 && args.json {
        bail!("--json and --read VFS=- both want standard output; read into a file instead");
    }
    let out = Out {
        json: args.json,
        to_stderr: stdout_reads == 1,
    };

    let policy_bytes = fs::read(&args.policy)
        .with_context(|| format!("reading the policy {}", args.policy.display()))?;
    let policy = Policy::from_bytes(&policy_bytes)
        .with_context(|| format!("the policy {} is not valid", args.policy.display()))?;
    let cert = fs::read(&args.identity)
        .with_context(|| format!("reading the certificate {}", args.identity.display()))?;
    let key =
        fs::read(&args.key).with_context(|| format!("reading the key {}", args.key.display()))?;
    let identity = Identity::from_pem(&cert, &key).context("loading the identity")?;

    // Open every local input first, so a missing file fails before anything is sent.
    let mut inputs = Vec::new();
    for (t, append) in writes
        .iter()
        .map(|t| (t, false))
        .chain(appends.iter().map(|t| (t, true)))
    {
        let file =
            File::open(&t.local).with_context(|| format!("opening {} for {}", t.local, t.vfs))?;
        let size = file
            .metadata()
            .with_context(|| format!("reading the size of {}", t.local))?
            .len();
        inputs.push((t, append, file, size));
    }

    let options = ClientOptions {
        server: args.server.clone(),
        io_timeout: args.timeout.map(Duration::from_secs),
        allow_debug_runtime: args.allow_debug_runtime,
        ..ClientOptions::default()
    };
    let mut report = Report::new(&args.policy, &policy);
    let mut client = match Client::connect(&policy, &policy_bytes, identity, &options) {
        Ok(c) => c,
        Err(e) => return report.fail(&out, "connect", &e),
    };
    report.connected(&client, &out);

    let result = steps(
        &mut client,
        &args,
        &policy,
        inputs,
        &reads,
        &mut report,
        &out,
    );
    match result {
        Ok(()) => {
            let _ = client.close();
            report.finish(&out, None)
        }
        Err(StepError::Client(step, e)) => report.fail(&out, &step, &e),
        Err(StepError::Local(e)) => {
            report.doc["error"] = json!({"kind": "local", "message": format!("{e:#}")});
            if out.json {
                println!("{}", serde_json::to_string_pretty(&report.doc)?);
            }
            Err(e)
        }
    }
}

enum StepError {
    /// A failure the client library reported while doing `step`.
    Client(String, ClientError),
    /// A local failure (files).
    Local(anyhow::Error),
}

fn client_err(step: impl Into<String>) -> impl FnOnce(ClientError) -> StepError {
    let step = step.into();
    move |e| StepError::Client(step, e)
}

fn steps(
    client: &mut Client,
    args: &ClientArgs,
    policy: &Policy,
    inputs: Vec<(&Transfer, bool, File, u64)>,
    reads: &[Transfer],
    report: &mut Report,
    out: &Out,
) -> Result<(), StepError> {
    for (t, append, file, size) in inputs {
        let step = if append { "append" } else { "write" };
        let bar = progress_bar(&t.vfs, size, out);
        let mut progress = |done: u64, _total: u64| bar.set_position(done);
        let reason = if append {
            client.append_file(&t.vfs, file, size, &mut progress)
        } else {
            client.write_file(&t.vfs, file, size, &mut progress)
        };
        bar.finish_and_clear();
        let reason = reason.map_err(client_err(format!("{step} {}", t.vfs)))?;
        out.line(format!(
            "{step} {} <- {} ({size} bytes): {}",
            t.vfs,
            t.local,
            escape(&reason)
        ));
        report.step(
            json!({"step": step, "path": t.vfs, "local": t.local, "bytes": size,
                           "reason": reason}),
        );
    }

    let target = match (&args.execute, &args.pipeline) {
        (Some(p), _) => Some(("execute", p)),
        (None, Some(p)) => Some(("pipeline", p)),
        _ => None,
    };
    if let Some((step, name)) = target {
        let r = if step == "execute" {
            client.execute_program(name)
        } else {
            client.execute_pipeline(name)
        }
        .map_err(client_err(format!("{step} {name}")))?;
        out.line(format!(
            "{step} {name}: round {}, exit code {} ({}): {}",
            r.round,
            r.exit_code,
            escape(&r.program),
            escape(&r.reason)
        ));
        report.step(json!({"step": step, "target": name, "round": r.round,
                           "exit_code": r.exit_code, "program": r.program, "reason": r.reason}));
    }

    for t in reads {
        read_one(client, t, out, report)?;
    }

    if args.status {
        let s = client.status().map_err(client_err("status"))?;
        let same = s.policy_hash == policy.hash_hex();
        out.line(format!(
            "status: {} as {}; round {}, {} run(s) left without consent",
            escape(&s.state),
            escape(&s.principal),
            s.round,
            s.runs_remaining
        ));
        let list = |v: &[String]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                escape(&v.join(", "))
            }
        };
        out.line(format!(
            "  programs present: {}; missing: {}",
            list(&s.programs_present),
            list(&s.programs_missing)
        ));
        out.line(format!(
            "  inputs present: {}; missing: {}",
            list(&s.inputs_present),
            list(&s.inputs_missing)
        ));
        out.line(format!(
            "  consents to the next round: {}; shutdown votes: {} of {} needed",
            list(&s.consents),
            list(&s.shutdown_votes),
            s.shutdown_quorum
        ));
        if !same {
            out.line(format!(
                "  WARNING: the runtime reports policy hash {}, not this policy's",
                escape(&s.policy_hash)
            ));
        }
        report.step(
            json!({"step": "status", "state": s.state, "principal": s.principal,
            "round": s.round, "runs_remaining": s.runs_remaining,
            "policy_hash": s.policy_hash, "policy_hash_matches": same,
            "programs_present": s.programs_present, "programs_missing": s.programs_missing,
            "inputs_present": s.inputs_present, "inputs_missing": s.inputs_missing,
            "consents": s.consents, "shutdown_votes": s.shutdown_votes,
            "shutdown_quorum": s.shutdown_quorum}),
        );
    }

    if let Some(path) = &args.receipt {
        let receipt = client
            .receipt(args.receipt_round)
            .map_err(client_err("receipt"))?;
        let requirements = RuntimeRequirements::from_policy(policy)
            .map_err(|e| client_err("receipt")(e.into()))?
            .allow_debug(args.allow_debug_runtime);
        let verified = verify_receipt_with(&receipt, &requirements, super::receipt::now())
            .map_err(|e| {
                StepError::Local(anyhow::anyhow!(
                    "the runtime's receipt does not verify: {e}"
                ))
            })?;
        write_atomically(path, &veracruz_client::encode_receipt(&receipt))
            .map_err(StepError::Local)?;
        out.line(format!("receipt saved to {} (verified):", path.display()));
        if !out.json {
            let mut text = Vec::new();
            let _ = write_receipt_human(&mut text, &verified, "  ");
            out.line(String::from_utf8_lossy(&text).trim_end());
        }
        report.step(
            json!({"step": "receipt", "file": path.display().to_string(),
                           "receipt": receipt_json(&verified)}),
        );
    }
    match args.consent {
        Some(ConsentKind::NextRound) => {
            let round = match args.round {
                Some(r) => r,
                // The first run not yet allowed: runs finished plus runs still allowed, plus one.
                None => {
                    let s = client.status().map_err(client_err("status"))?;
                    s.round + s.runs_remaining + 1
                }
            };
            let reason = client
                .consent_next_round(round)
                .map_err(client_err(format!("consent to round {round}")))?;
            out.line(format!("consent to round {round}: {}", escape(&reason)));
            report.step(
                json!({"step": "consent", "kind": "next-round", "round": round,
                               "reason": reason}),
            );
        }
        Some(ConsentKind::Shutdown) => {
            let reason = client
                .vote_shutdown()
                .map_err(client_err("vote to shut down"))?;
            out.line(format!("vote to shut down: {}", escape(&reason)));
            report.step(json!({"step": "consent", "kind": "shutdown", "reason": reason}));
        }
        None => {}
    }

    if args.shutdown {
        let reason = client.shutdown().map_err(client_err("shutdown"))?;
        out.line(format!("shutdown: {}", escape(&reason)));
        report.step(json!({"step": "shutdown", "reason": reason}));
    }

    Ok(())
}

fn read_one(
    client: &mut Client,
    t: &Transfer,
    out: &Out,
    report: &mut Report,
) -> Result<(), StepError> {
    let step = format!("read {}", t.vfs);
    let bar_cell = std::cell::RefCell::new(None::<ProgressBar>);
    let mut progress = |done: u64, total: u64| {
        let mut b = bar_cell.borrow_mut();
        b.get_or_insert_with(|| progress_bar(&t.vfs, total, out))
            .set_position(done);
    };
    let n = if t.local == "-" {
        let stdout = io::stdout();
        let mut lock = stdout.lock();
        client
            .read_file(&t.vfs, &mut lock, &mut progress)
            .map_err(client_err(step))?
    } else {
        // Written beside the target and renamed on success: a failed read never leaves a
        // file that looks complete.
        let target = Path::new(&t.local);
        let partial = partial_path(target);
        let file = File::create(&partial)
            .with_context(|| format!("creating {}", partial.display()))
            .map_err(StepError::Local)?;
        let mut w = io::BufWriter::new(file);
        let n = match client.read_file(&t.vfs, &mut w, &mut progress) {
            Ok(n) => n,
            Err(e) => {
                drop(w);
                let _ = fs::remove_file(&partial);
                return Err(client_err(step)(e));
            }
        };
        let file = w.into_inner().map_err(|e| {
            StepError::Local(anyhow::anyhow!(
                "writing {}: {}",
                partial.display(),
                e.error()
            ))
        })?;
        file.sync_all()
            .and_then(|_| fs::rename(&partial, target))
            .with_context(|| format!("saving {}", target.display()))
            .map_err(StepError::Local)?;
        n
    };
    if let Some(b) = bar_cell.borrow_mut().take() {
        b.finish_and_clear();
    }
    out.line(format!("read {} -> {} ({n} bytes)", t.vfs, t.local));
    report.step(json!({"step": "read", "path": t.vfs, "local": t.local, "bytes": n}));
    Ok(())
}

fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    target.with_file_name(name)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let partial = partial_path(path);
    let mut f =
        File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .and_then(|_| fs::rename(&partial, path))
        .with_context(|| format!("writing {}", path.display()))
}

/// What happened, for the JSON document and the exit code.
struct Report {
    doc: Value,
}

impl Report {
    fn new(policy_path: &Path, policy: &Policy) -> Report {
        Report {
            doc: json!({
                "policy": policy_path.display().to_string(),
                "policy_hash": policy.hash_hex(),
                "steps": [],
                "error": null,
            }),
        }
    }

    fn connected(&mut self, client: &Client, out: &Out) {
        let id = client.runtime();
        self.doc["server"] = json!(client.server().to_string());
        self.doc["principal"] = json!(client.principal());
        self.doc["runtime"] = runtime_json(id);
        out.line(format!(
            "connected to {} as `{}`; the runtime is verified:",
            client.server(),
            client.principal()
        ));
        for l in runtime_lines(id) {
            out.line(format!("  {l}"));
        }
    }

    fn step(&mut self, step: Value) {
        if let Some(steps) = self.doc["steps"].as_array_mut() {
            steps.push(step);
        }
    }

    fn fail(&mut self, out: &Out, step: &str, e: &ClientError) -> Result<ExitCode> {
        let code = match e {
            ClientError::Refused { code, reason } => {
                self.doc["error"] = json!({"kind": "refused", "step": step,
                    "code": code_name(*code), "reason": reason, "message": e.to_string()});
                EXIT_REFUSED
            }
            ClientError::Attestation(a) => {
                self.doc["error"] = json!({"kind": "attestation", "step": step,
                    "message": a.to_string()});
                EXIT_NOT_TRUSTED
            }
            other => {
                self.doc["error"] = json!({"kind": "error", "step": step,
                    "message": other.to_string()});
                1
            }
        };
        if !out.json {
            match e {
                ClientError::Refused { code, reason } => eprintln!(
                    "{step}: REFUSED by the runtime ({}): {}",
                    code_name(*code),
                    escape(reason)
                ),
                ClientError::Attestation(a) => eprintln!(
                    "{step}: the runtime is NOT trusted, nothing was sent to it: {}",
                    escape(&a.to_string())
                ),
                other => eprintln!("{step}: failed: {}", escape(&other.to_string())),
            }
        }
        self.finish(out, Some(code))
    }

    fn finish(&self, out: &Out, code: Option<u8>) -> Result<ExitCode> {
        if out.json {
            println!("{}", serde_json::to_string_pretty(&self.doc)?);
        }
        Ok(code.map_or(ExitCode::SUCCESS, ExitCode::from))
    }
}

pub fn runtime_json(id: &RuntimeIdentity) -> Value {
    json!({
        "platform": id.platform.as_str(),
        "insecure": id.platform.is_insecure(),
        "measurement": hex::encode(&id.measurement),
        "policy_hash": hex::encode(id.policy_hash),
        "debug": id.debug,
        "tcb_status": id.tcb_status,
        "not_before": id.not_before,
        "not_after": id.not_after,
        "serial": hex::encode(&id.serial),
        "key_hash": hex::encode(id.spki_hash),
    })
}

pub fn runtime_lines(id: &RuntimeIdentity) -> Vec<String> {
    let mut lines = vec![
        format!("platform     {}", id.platform),
        format!(
            "measurement  {} (accepted by the policy)",
            hex::encode(&id.measurement)
        ),
        format!("policy hash  {} (this policy)", hex::encode(id.policy_hash)),
        format!(
            "certificate  valid {} to {}, issued by the policy's attestation CA",
            unix_time(id.not_before),
            unix_time(id.not_after)
        ),
    ];
    if let Some(tcb) = &id.tcb_status {
        lines.push(format!("TCB status   {}", escape(tcb)));
    }
    if id.debug {
        lines.push("WARNING: DEBUG MODE: the host can inspect this runtime's memory".into());
    }
    if id.platform.is_insecure() {
        lines.push(format!(
            "WARNING: INSECURE PLATFORM `{}`: its evidence is self-asserted; \
             for development and tests only, never for real secrets",
            id.platform
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_split_at_the_first_equals_sign() {
        let t = parse_transfers(&["/input/a=b.csv".into(), "stdout=-".into()], "read").unwrap();
        assert_eq!(
            (t[0].vfs.as_str(), t[0].local.as_str()),
            ("/input/a", "b.csv")
        );
        assert_eq!((t[1].vfs.as_str(), t[1].local.as_str()), ("stdout", "-"));
        let t = parse_transfers(&["/input/a=x=y".into()], "write").unwrap();
        assert_eq!(t[0].local, "x=y");
        for bad in ["/input/a", "=file", "/input/a="] {
            let err = parse_transfers(&[bad.into()], "write").err().unwrap();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn partial_files_sit_beside_their_target() {
        assert_eq!(
            partial_path(Path::new("out/result.csv")),
            PathBuf::from("out/result.csv.partial")
        );
    }
}
