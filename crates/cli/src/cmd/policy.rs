//! `veracruz policy`: build a policy from flags, and check one.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use sha2::{Digest, Sha256};
use veracruz_policy::capabilities::RawCapabilities;
use veracruz_policy::document::{
    AttestationSpec, ExecutionSpec, LifecycleSpec, PinnedFile, PipelineSpec, PrincipalSpec,
    ProgramSpec, ServerSpec, ShutdownSpec, TlsSpec,
};
use veracruz_policy::{Platform, Policy, PolicyDocument, Strategy, POLICY_VERSION};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Build a policy from flags and write it as stable, pretty JSON. The result is validated
    /// before it is written: an invalid policy is never produced.
    ///
    /// Example (two principals, one program):
    ///   veracruz policy new --principal alice=alice.crt --principal bob=bob.crt
    ///     --program /program/sum.wasm=sum.wasm --cap alice:/program/sum.wasm=wx
    ///     --cap bob:/input/bob.csv=w --cap bob:/output/=r
    ///     --program-cap /program/sum.wasm:/input/=r --program-cap /program/sum.wasm:/output/=w
    ///     --attestation-url http://127.0.0.1:3010 --attestation-ca ca.crt
    ///     --allow-insecure --measurement linux=<sha256 of veracruz-runtime>
    ///     --server 127.0.0.1:3011 --out policy.json
    New(Box<NewArgs>),
    /// Validate a policy; print its hash and who may do what.
    Check {
        /// The policy file.
        file: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct NewArgs {
    /// A principal and its certificate file: NAME=CERT.pem (repeat for each principal).
    #[arg(long = "principal", value_name = "NAME=CERT")]
    principals: Vec<String>,
    /// A free-text role for a principal: NAME=ROLE (program-provider, data-provider, result-receiver, ...).
    #[arg(long = "role", value_name = "NAME=ROLE")]
    roles: Vec<String>,
    /// A principal's capability: NAME:PATH=RIGHTS, rights from `rwax` (e.g. bob:/output/=r).
    #[arg(long = "cap", value_name = "NAME:PATH=RIGHTS")]
    caps: Vec<String>,
    /// A program: VFS_PATH=WASM_FILE; the file is hashed and the hash pinned.
    #[arg(long = "program", value_name = "VFS_PATH=FILE")]
    programs: Vec<String>,
    /// A program's own capability: VFS_PATH:PATH=RIGHTS (e.g. /program/sum.wasm:/input/=r).
    #[arg(long = "program-cap", value_name = "PROGRAM:PATH=RIGHTS")]
    program_caps: Vec<String>,
    /// A pipeline: NAME=SCRIPT (e.g. "gen-sort=gen.wasm; sort.wasm").
    #[arg(long = "pipeline", value_name = "NAME=SCRIPT")]
    pipelines: Vec<String>,
    /// A pipeline's capability: NAME:PATH=RIGHTS.
    #[arg(long = "pipeline-cap", value_name = "NAME:PATH=RIGHTS")]
    pipeline_caps: Vec<String>,
    /// A declared input that must be present before execution.
    #[arg(long = "input", value_name = "VFS_PATH")]
    inputs: Vec<String>,
    /// Pin a data file's hash: VFS_PATH=FILE (hashes FILE) or VFS_PATH=sha256:HEX.
    #[arg(long = "pin", value_name = "VFS_PATH=FILE")]
    pins: Vec<String>,
    /// Base URL of the attestation service.
    #[arg(long)]
    attestation_url: String,
    /// The attestation service's CA certificate (PEM file).
    #[arg(long)]
    attestation_ca: PathBuf,
    /// An accepted runtime measurement: PLATFORM=HEX (platforms: linux, sev-snp, tdx, sgx, nitro, cca).
    #[arg(long = "measurement", value_name = "PLATFORM=HEX")]
    measurements: Vec<String>,
    /// Accept the linux runtime binary at FILE: adds its SHA-256 as a `linux` measurement.
    #[arg(long = "measure-runtime", value_name = "FILE")]
    measure_runtime: Vec<PathBuf>,
    /// Trust runtimes on insecure platforms (the `linux` process isolate). For development only.
    #[arg(long)]
    allow_insecure: bool,
    /// Where the delegate's server listens: HOST:PORT.
    #[arg(long)]
    server: String,
    /// Execution engine.
    #[arg(long, value_parser = ["jit", "interpreter"], default_value = "jit")]
    strategy: String,
    /// Largest linear memory of a program, MiB.
    #[arg(long, default_value_t = 256)]
    max_memory_mib: u32,
    /// Fuel (instruction budget) per run.
    #[arg(long)]
    fuel: Option<u64>,
    /// Wall-clock limit per run, milliseconds. Default: 60000 when --fuel is not given.
    #[arg(long)]
    time_limit_ms: Option<u64>,
    /// Total bytes a run may write.
    #[arg(long, default_value_t = 1 << 30)]
    max_output_bytes: u64,
    /// Files a program may hold open at once.
    #[arg(long, default_value_t = 64)]
    max_open_files: u32,
    /// Let programs read clocks (runs are no longer deterministic).
    #[arg(long)]
    clock: bool,
    /// Let the JIT leave NaN bits as the CPU produces them (`execution.hardware_nans`):
    /// faster float-heavy programs; only the bits of NaN results can then differ.
    #[arg(long)]
    hardware_nans: bool,
    /// Environment variable for programs: K=V.
    #[arg(long = "env", value_name = "K=V")]
    env: Vec<String>,
    /// Argument for programs (repeat for several).
    #[arg(long = "arg", value_name = "ARG")]
    args: Vec<String>,
    /// Runs allowed before consent is needed for each further run.
    #[arg(long, default_value_t = 1)]
    runs_without_consent: u32,
    /// Who must consent to further runs (repeat); default: every principal.
    #[arg(long = "consent-from", value_name = "NAME")]
    consent_from: Vec<String>,
    /// Who may vote to shut down (repeat); default: every principal.
    #[arg(long = "shutdown-voter", value_name = "NAME")]
    shutdown_voters: Vec<String>,
    /// Votes needed to shut down; default: all voters.
    #[arg(long)]
    shutdown_quorum: Option<u32>,
    /// TLS 1.3 cipher suite (repeat, most preferred first); default: AES-128-GCM, AES-256-GCM, ChaCha20.
    #[arg(long = "cipher-suite", value_name = "SUITE")]
    cipher_suites: Vec<String>,
    /// Lifetime of the runtime's attested certificate, seconds.
    #[arg(long, default_value_t = 3600)]
    cert_lifetime_secs: u64,
    /// Output file (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(cmd: PolicyCommand) -> Result<ExitCode> {
    match cmd {
        PolicyCommand::New(args) => new_policy(*args),
        PolicyCommand::Check { file, json } => check(&file, json),
    }
}

fn split_once<'a>(s: &'a str, sep: char, what: &str, flag: &str) -> Result<(&'a str, &'a str)> {
    s.split_once(sep)
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .ok_or_else(|| anyhow!("--{flag} `{s}`: expected {what}"))
}

/// `OWNER:PATH=RIGHTS` -> (owner, path, rights). Rights may be empty (an explicit deny).
fn parse_cap<'a>(s: &'a str, flag: &str) -> Result<(&'a str, &'a str, &'a str)> {
    let what = "OWNER:PATH=RIGHTS";
    let (owner, rest) = split_once(s, ':', what, flag)?;
    let (path, rights) = rest
        .rsplit_once('=')
        .filter(|(p, _)| !p.is_empty())
        .ok_or_else(|| anyhow!("--{flag} `{s}`: expected {what}"))?;
    Ok((owner, path, rights))
}

fn sha256_file(path: &str) -> Result<String> {
    let bytes = fs::read(path).with_context(|| format!("reading {path}"))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

fn caps_for(list: &[(String, String, String)], owner: &str) -> RawCapabilities {
    let mut entries: Vec<(String, String)> = list
        .iter()
        .filter(|(o, _, _)| o == owner)
        .map(|(_, p, r)| (p.clone(), r.clone()))
        .collect();
    // Sorted, so the same flags in another order give the same bytes.
    entries.sort();
    RawCapabilities(entries)
}

fn parse_caps(
    raw: &[String],
    flag: &str,
    owners: &[String],
) -> Result<Vec<(String, String, String)>> {
    raw.iter()
        .map(|s| {
            let (o, p, r) = parse_cap(s, flag)?;
            if !owners.iter().any(|x| x == o) {
                bail!(
                    "--{flag} `{s}`: `{o}` is not declared (known: {})",
                    owners.join(", ")
                );
            }
            Ok((o.to_string(), p.to_string(), r.to_string()))
        })
        .collect()
}

fn build_document(a: &NewArgs) -> Result<PolicyDocument> {
    let mut principals = Vec::new();
    let mut names = Vec::new();
    for p in &a.principals {
        let (name, file) = split_once(p, '=', "NAME=CERT", "principal")?;
        let (pem, _) = super::identity::read_certificate(file.as_ref())?;
        names.push(name.to_string());
        principals.push((name.to_string(), pem));
    }
    if principals.is_empty() {
        bail!("at least one --principal NAME=CERT is needed");
    }
    let caps = parse_caps(&a.caps, "cap", &names)?;
    let mut roles: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in &a.roles {
        let (name, role) = split_once(r, '=', "NAME=ROLE", "role")?;
        if !names.iter().any(|n| n == name) {
            bail!("--role `{r}`: `{name}` is not a declared principal");
        }
        roles.entry(name).or_default().push(role.to_string());
    }

    let mut programs = Vec::new();
    let mut program_paths = Vec::new();
    for p in &a.programs {
        let (vfs, file) = split_once(p, '=', "VFS_PATH=FILE", "program")?;
        programs.push((vfs.to_string(), sha256_file(file)?));
        program_paths.push(vfs.to_string());
    }
    let program_caps = parse_caps(&a.program_caps, "program-cap", &program_paths)?;

    let mut pipelines = Vec::new();
    let mut pipeline_names = Vec::new();
    for p in &a.pipelines {
        let (name, script) = split_once(p, '=', "NAME=SCRIPT", "pipeline")?;
        pipelines.push((name.to_string(), script.to_string()));
        pipeline_names.push(name.to_string());
    }
    let pipeline_caps = parse_caps(&a.pipeline_caps, "pipeline-cap", &pipeline_names)?;

    let mut files = Vec::new();
    for p in &a.pins {
        let (vfs, src) = split_once(p, '=', "VFS_PATH=FILE or VFS_PATH=sha256:HEX", "pin")?;
        let sha256 = match src.strip_prefix("sha256:") {
            Some(hex) => hex.to_string(),
            None => sha256_file(src)?,
        };
        files.push(PinnedFile {
            path: vfs.to_string(),
            sha256,
        });
    }

    let mut accepted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in &a.measurements {
        let (platform, hex) = split_once(m, '=', "PLATFORM=HEX", "measurement")?;
        let platform: Platform = platform
            .parse()
            .map_err(|e| anyhow!("--measurement `{m}`: {e}"))?;
        accepted
            .entry(platform.as_str().to_string())
            .or_default()
            .push(hex.to_lowercase());
    }
    for f in &a.measure_runtime {
        let hash = sha256_file(&f.to_string_lossy())?;
        accepted.entry("linux".into()).or_default().push(hash);
    }
    let (ca, _) = super::identity::read_certificate(&a.attestation_ca)?;

    let mut environment = BTreeMap::new();
    for e in &a.env {
        let (k, v) = e
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| anyhow!("--env `{e}`: expected K=V"))?;
        environment.insert(k.to_string(), v.to_string());
    }
    let time_limit_ms = match (a.fuel, a.time_limit_ms) {
        (None, None) => Some(60_000),
        (_, t) => t,
    };

    let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    Ok(PolicyDocument {
        version: POLICY_VERSION,
        principals: principals
            .iter()
            .map(|(name, pem)| PrincipalSpec {
                name: name.clone(),
                certificate: pem.clone(),
                roles: roles.get(name.as_str()).cloned().unwrap_or_default(),
                capabilities: caps_for(&caps, name),
            })
            .collect(),
        programs: programs
            .iter()
            .map(|(path, sha256)| ProgramSpec {
                path: path.clone(),
                sha256: sha256.clone(),
                capabilities: caps_for(&program_caps, path),
            })
            .collect(),
        pipelines: pipelines
            .iter()
            .map(|(name, script)| PipelineSpec {
                name: name.clone(),
                script: script.clone(),
                capabilities: caps_for(&pipeline_caps, name),
            })
            .collect(),
        files,
        inputs: a.inputs.clone(),
        execution: ExecutionSpec {
            strategy: if a.strategy == "interpreter" {
                Strategy::Interpreter
            } else {
                Strategy::Jit
            },
            max_memory_mib: a.max_memory_mib,
            fuel: a.fuel,
            time_limit_ms,
            max_output_bytes: a.max_output_bytes,
            max_open_files: a.max_open_files,
            enable_clock: a.clock,
            hardware_nans: a.hardware_nans,
            environment,
            arguments: a.args.clone(),
        },
        lifecycle: LifecycleSpec {
            runs_without_consent: a.runs_without_consent,
            consent_required_from: non_empty(&a.consent_from),
            shutdown: ShutdownSpec {
                voters: non_empty(&a.shutdown_voters),
                quorum: a.shutdown_quorum,
            },
        },
        attestation: AttestationSpec {
            service_url: a.attestation_url.clone(),
            ca_certificate: ca,
            allow_insecure_platforms: a.allow_insecure,
            accepted_measurements: accepted,
        },
        server: ServerSpec {
            address: a.server.clone(),
        },
        tls: TlsSpec {
            cipher_suites: if a.cipher_suites.is_empty() {
                TlsSpec::default().cipher_suites
            } else {
                a.cipher_suites.clone()
            },
            certificate_lifetime_secs: a.cert_lifetime_secs,
        },
    })
}

/// The policy file's bytes: pretty JSON ending in a newline.
pub fn render(doc: &PolicyDocument) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(doc)?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn new_policy(a: NewArgs) -> Result<ExitCode> {
    let doc = build_document(&a)?;
    let bytes = render(&doc)?;
    let policy = Policy::from_bytes(&bytes).context("the flags describe an invalid policy")?;
    match &a.out {
        Some(path) => {
            fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {} (hash {})", path.display(), policy.hash_hex());
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check(file: &PathBuf, json: bool) -> Result<ExitCode> {
    let bytes = fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let policy = Policy::from_bytes(&bytes)
        .with_context(|| format!("{} is not a valid policy", file.display()))?;
    let doc = policy.document();
    let rights: Vec<_> = policy.rights_table();
    if json {
        let out = serde_json::json!({
            "valid": true,
            "hash": policy.hash_hex(),
            "rights": rights.iter().map(|(who, path, r)| serde_json::json!({
                "principal": who, "path": path, "rights": r.to_string(),
            })).collect::<Vec<_>>(),
            "programs": policy.programs().iter().map(|p| serde_json::json!({
                "path": p.path, "sha256": hex::encode(p.sha256),
                "capabilities": p.capabilities.entries().map(|(path, r)| (path.to_string(), r.to_string())).collect::<BTreeMap<_, _>>(),
            })).collect::<Vec<_>>(),
            "pipelines": policy.pipelines().iter().map(|p| serde_json::json!({
                "name": p.name, "programs": p.programs,
            })).collect::<Vec<_>>(),
            "inputs": policy.inputs(),
            "accepted_measurements": doc.attestation.accepted_measurements,
            "allow_insecure_platforms": doc.attestation.allow_insecure_platforms,
            "consent_required_from": policy.consent_required_from(),
            "shutdown": {"voters": policy.shutdown_voters(), "quorum": policy.shutdown_quorum()},
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("policy {} is valid", file.display());
    println!("hash   {}", policy.hash_hex());
    println!();
    let w = rights
        .iter()
        .map(|(n, _, _)| n.len())
        .max()
        .unwrap_or(9)
        .max(9);
    let pw = rights
        .iter()
        .map(|(_, p, _)| p.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!("{:w$}  {:pw$}  rights", "principal", "path");
    for (who, path, r) in &rights {
        println!("{who:w$}  {path:pw$}  {r}");
    }
    println!();
    println!("programs");
    for p in policy.programs() {
        println!("  {}  sha256 {}", p.path, hex::encode(p.sha256));
        for (path, r) in p.capabilities.entries() {
            println!("    may {r:4} {path}");
        }
    }
    for p in policy.pipelines() {
        println!(
            "pipeline {}: {}",
            p.name,
            p.programs.values().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    if !policy.inputs().is_empty() {
        println!(
            "inputs required before execution: {}",
            policy.inputs().join(", ")
        );
    }
    println!();
    println!("attestation service {} ", doc.attestation.service_url);
    for (platform, list) in &doc.attestation.accepted_measurements {
        for m in list {
            println!("  accepts {platform} runtime {m}");
        }
    }
    if doc.attestation.allow_insecure_platforms {
        println!("  WARNING: insecure platforms (linux process isolate) are accepted");
    }
    println!(
        "lifecycle: {} run(s) without consent; then consent from {}; shutdown by {} of {}",
        doc.lifecycle.runs_without_consent,
        policy.consent_required_from().join(", "),
        policy.shutdown_quorum(),
        policy.shutdown_voters().join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
