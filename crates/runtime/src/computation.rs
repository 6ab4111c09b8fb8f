//! One computation's shared state and the handling of each principal request.
//!
//! Every request goes through the [`Lifecycle`] first (who, what, when), then touches the VFS
//! through the principal's own capability handle (a second, independent rights check), so a
//! mistake in one layer is caught by the other. Writes are staged and land in one step, after
//! hashes are checked; a refused or interrupted write leaves nothing behind.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sha2::{Digest, Sha256};
use veracruz_engine::{Engine, EngineError, Limits, Nans};
use veracruz_policy::{CapPath, CapabilityMap, Policy, Rights};
use veracruz_protocol::v1::{self, Code};
use veracruz_vfs::{FileType, Fs, Vfs, VfsConfig, VfsError, WriteMode, WriteSession, ROOT_INO};

use crate::lifecycle::{Lifecycle, Refusal, RunTarget, Vote, WriteKind};

/// Largest program a principal may provision.
pub const MAX_PROGRAM_BYTES: u64 = veracruz_engine::MAX_PROGRAM_BYTES as u64;

/// Signs receipts with the runtime's attested key.
pub trait ReceiptSigner: Send + Sync {
    /// ECDSA P-256 / SHA-256 signature (ASN.1 DER) over `body`.
    fn sign(&self, body: &[u8]) -> Vec<u8>;
    /// The runtime's certificate chain (PEM, leaf first), once installed.
    fn chain_pem(&self) -> String;
}

/// A write in progress for one session.
pub struct PendingWrite {
    session: WriteSession,
    kind: WriteKind,
    path: String,
    append: bool,
    declared: u64,
    hasher: Sha256,
}

/// The computation: policy, lifecycle, file system, engine, receipts.
pub struct Computation {
    policy: Arc<Policy>,
    lifecycle: Mutex<Lifecycle>,
    vfs: Vfs,
    engine: Engine,
    receipts: Mutex<BTreeMap<u64, v1::Receipt>>,
    signer: Arc<dyn ReceiptSigner>,
}

fn refusal(code: Code, reason: impl Into<String>) -> Refusal {
    Refusal::new(code, reason)
}

fn vfs_refusal(e: VfsError) -> Refusal {
    let code = match &e {
        VfsError::QuotaExceeded { .. } => Code::TooLarge,
        VfsError::NotFound { .. } => Code::NotFound,
        VfsError::Denied { .. } | VfsError::NotCapable { .. } => Code::Forbidden,
        VfsError::TooLarge { .. } => Code::TooLarge,
        _ => Code::Invalid,
    };
    refusal(code, e.to_string())
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Computation {
    pub fn new(policy: Arc<Policy>, signer: Arc<dyn ReceiptSigner>) -> Result<Self, EngineError> {
        let exec = &policy.document().execution;
        let limits = Limits {
            max_memory_bytes: u64::from(exec.max_memory_mib) << 20,
            fuel: exec.fuel,
            deadline: exec.time_limit_ms.map(Duration::from_millis),
            max_output_bytes: exec.max_output_bytes,
            max_open_files: exec.max_open_files,
        };
        let strategy = match exec.strategy {
            veracruz_policy::Strategy::Jit => veracruz_engine::Strategy::Jit,
            veracruz_policy::Strategy::Interpreter => veracruz_engine::Strategy::Interpreter,
        };
        let engine = Engine::with_nans(strategy, limits, Nans::hardware_if(exec.hardware_nans))?;
        let vfs = Vfs::new(VfsConfig {
            max_total_bytes: vfs_quota(),
            ..VfsConfig::default()
        });
        Ok(Computation {
            lifecycle: Mutex::new(Lifecycle::new(policy.clone())),
            policy,
            vfs,
            engine,
            receipts: Mutex::new(BTreeMap::new()),
            signer,
        })
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    fn lifecycle(&self) -> MutexGuard<'_, Lifecycle> {
        self.lifecycle.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn caps(&self, principal: &str) -> CapabilityMap {
        self.policy
            .principal(principal)
            .map(|p| p.capabilities.clone())
            .unwrap_or_default()
    }

    /// Does `path` exist in the VFS (whoever may see it)? Used for declared inputs.
    fn present(fs: &Fs, path: &str) -> bool {
        match CapPath::parse(path) {
            Ok(CapPath::Tree(c)) => matches!(fs.lookup_tree(&c), Ok(Some(_))),
            _ => false,
        }
    }

    pub fn is_shut_down(&self) -> bool {
        self.lifecycle().is_shut_down()
    }

    /// Starts a write; on success the session streams chunks into the returned [`PendingWrite`].
    pub fn begin_write(
        &self,
        principal: &str,
        req: &v1::BeginWrite,
    ) -> Result<PendingWrite, Refusal> {
        let kind = self
            .lifecycle()
            .begin_write(principal, &req.path, req.append)?;
        if matches!(kind, WriteKind::Program { .. }) && req.size > MAX_PROGRAM_BYTES {
            return Err(refusal(
                Code::TooLarge,
                format!(
                    "a program may be at most {MAX_PROGRAM_BYTES} bytes; {} announced",
                    req.size
                ),
            ));
        }
        let mode = if req.append {
            WriteMode::Append
        } else {
            WriteMode::Truncate
        };
        let session = self
            .vfs
            .handle(self.caps(principal))
            .begin_write(&req.path, mode)
            .map_err(vfs_refusal)?;
        let available = self.vfs.lock().available();
        if req.size > available {
            return Err(refusal(
                Code::TooLarge,
                format!(
                    "{} bytes announced for {} but only {available} bytes of file system space remain",
                    req.size, req.path
                ),
            ));
        }
        Ok(PendingWrite {
            path: session.path(),
            session,
            kind,
            append: req.append,
            declared: req.size,
            hasher: Sha256::new(),
        })
    }

    /// Stages one chunk of a write.
    pub fn write_chunk(&self, w: &mut PendingWrite, data: &[u8]) -> Result<(), Refusal> {
        if w.session.len() + data.len() as u64 > w.declared {
            return Err(refusal(
                Code::Invalid,
                format!(
                    "more bytes sent for {} than the {} announced",
                    w.path, w.declared
                ),
            ));
        }
        w.hasher.update(data);
        w.session.write_chunk(data).map_err(vfs_refusal)?;
        Ok(())
    }

    /// Checks the complete write and makes it visible in one step.
    pub fn finish_write(&self, principal: &str, w: PendingWrite) -> Result<String, Refusal> {
        if w.session.len() != w.declared {
            return Err(refusal(
                Code::Invalid,
                format!(
                    "{} bytes announced for {} but {} sent",
                    w.declared,
                    w.path,
                    w.session.len()
                ),
            ));
        }
        let digest: [u8; 32] = w.hasher.finalize().into();
        if let WriteKind::Program { sha256 } | WriteKind::Pinned { sha256 } = w.kind {
            if digest != sha256 {
                return Err(refusal(
                    Code::HashMismatch,
                    format!(
                        "{} hashes to {} but the policy pins {}",
                        w.path,
                        hex::encode(digest),
                        hex::encode(sha256)
                    ),
                ));
            }
        }
        // Re-decide under the lock: another session may have provisioned the same program or
        // started a run while these bytes were arriving.
        let mut lifecycle = self.lifecycle();
        let again = lifecycle.begin_write(principal, &w.path, w.append)?;
        if again != w.kind {
            return Err(refusal(
                Code::FailedPrecondition,
                "the write's target changed meaning while it was in progress",
            ));
        }
        let size = w.session.commit().map_err(vfs_refusal)?;
        if matches!(w.kind, WriteKind::Program { .. }) {
            lifecycle.program_written(&w.path);
        }
        Ok(format!(
            "wrote {} ({size} bytes, sha256 {})",
            w.path,
            hex::encode(digest)
        ))
    }

    /// Checks a read and returns the canonical path and its size.
    pub fn begin_read(&self, principal: &str, path: &str) -> Result<(String, u64), Refusal> {
        let canonical = self.lifecycle().check_read(principal, path)?;
        let meta = self
            .vfs
            .handle(self.caps(principal))
            .metadata(&canonical)
            .map_err(vfs_refusal)?;
        if meta.file_type == FileType::Directory {
            return Err(refusal(
                Code::Invalid,
                format!("{canonical} is a directory"),
            ));
        }
        Ok((canonical, meta.size))
    }

    /// One chunk of a read: at most `len` bytes at `offset`, into `out` (its contents
    /// replaced); empty at the end.
    pub fn read_chunk(
        &self,
        principal: &str,
        path: &str,
        offset: u64,
        len: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), Refusal> {
        // Rights are checked again for every chunk, through the principal's own handle.
        self.vfs
            .handle(self.caps(principal))
            .read_range_into(path, offset, len, out)
            .map_err(vfs_refusal)
    }

    pub fn status(&self, principal: &str) -> v1::StatusReport {
        let lifecycle = self.lifecycle();
        let fs = self.vfs.lock();
        let (present, missing): (Vec<String>, Vec<String>) = self
            .policy
            .inputs()
            .iter()
            .cloned()
            .partition(|i| Self::present(&fs, i));
        v1::StatusReport {
            policy_hash: self.policy.hash_hex(),
            state: lifecycle
                .phase(|p| Self::present(&fs, p))
                .as_str()
                .to_string(),
            round: lifecycle.finished_runs(),
            runs_remaining: lifecycle.runs_remaining(),
            inputs_present: present,
            inputs_missing: missing,
            programs_present: lifecycle.programs_written(),
            programs_missing: lifecycle.missing_programs(),
            consents: lifecycle.consents(),
            shutdown_votes: lifecycle.shutdown_votes(),
            shutdown_quorum: self.policy.shutdown_quorum(),
            principal: principal.to_string(),
        }
    }

    pub fn consent(&self, principal: &str, round: u64) -> Result<String, Refusal> {
        self.lifecycle().consent(principal, round)
    }

    pub fn vote_shutdown(&self, principal: &str) -> Result<Vote, Refusal> {
        self.lifecycle().vote_shutdown(principal)
    }

    pub fn receipt(&self, round: u64) -> Result<v1::Receipt, Refusal> {
        let receipts = self.receipts.lock().unwrap_or_else(|p| p.into_inner());
        let found = if round == 0 {
            receipts.values().next_back()
        } else {
            receipts.get(&round)
        };
        found.cloned().ok_or_else(|| {
            refusal(
                Code::NotFound,
                if round == 0 {
                    "no run has finished yet".to_string()
                } else {
                    format!("there is no receipt for run {round}")
                },
            )
        })
    }

    /// Runs a program or pipeline for `principal`.
    pub fn execute(
        &self,
        principal: &str,
        target: RunTarget,
    ) -> Result<v1::ExecuteResult, Refusal> {
        let round = {
            let mut lifecycle = self.lifecycle();
            let fs = self.vfs.lock();
            lifecycle.begin_run(principal, &target, |p| Self::present(&fs, p))?
        };
        // The run holds no lock on the lifecycle: status and consent stay answerable, and every
        // write or read is refused as "a run is in progress" until it ends.
        let result = self.run(round, &target);
        let completed = !matches!(&result, Err(RunFailure::DidNotStart(_)));
        self.lifecycle().end_run(completed);
        match result {
            Ok((exit_code, program)) => Ok(v1::ExecuteResult {
                round,
                exit_code,
                program,
            }),
            Err(RunFailure::DidNotStart(r)) | Err(RunFailure::Stopped(r)) => Err(r),
        }
    }

    fn run(&self, round: u64, target: &RunTarget) -> Result<(i32, String), RunFailure> {
        let (capabilities, pipeline_name) = match target {
            RunTarget::Program(p) => (
                self.policy
                    .program(p)
                    .map(|p| p.capabilities.clone())
                    .unwrap_or_default(),
                String::new(),
            ),
            RunTarget::Pipeline(name) => (
                self.policy
                    .pipeline(name)
                    .map(|p| p.capabilities.clone())
                    .unwrap_or_default(),
                name.clone(),
            ),
        };
        let programs = self.lifecycle().programs_of(target);
        let mut loaded = veracruz_engine::pipeline::Programs::new();
        let mut program_digests = Vec::new();
        for path in &programs {
            let wasm = self.read_program(path).map_err(RunFailure::DidNotStart)?;
            program_digests.push(v1::FileDigest {
                path: path.clone(),
                sha256: Sha256::digest(&wasm).to_vec(),
            });
            loaded
                .insert(path, wasm)
                .map_err(|e| RunFailure::DidNotStart(refusal(Code::Internal, e.to_string())))?;
        }
        let inputs = self.digests(&capabilities, Rights::READ);
        let before = self.digests(&capabilities, Rights::WRITE | Rights::APPEND);
        let invocation = |path: &str| self.invocation(path);
        let outcome = match target {
            RunTarget::Program(path) => {
                let (_, wasm) = loaded
                    .resolve(path)
                    .map_err(|e| RunFailure::DidNotStart(refusal(Code::Internal, e.to_string())))?;
                self.engine
                    .run_program(
                        wasm,
                        self.vfs.handle(capabilities.clone()),
                        &invocation(path),
                    )
                    .map(|o| (o.exit_code, path.clone()))
                    .map_err(engine_failure)
            }
            RunTarget::Pipeline(name) => {
                let pipeline = self
                    .policy
                    .pipeline(name)
                    .expect("checked by the lifecycle");
                veracruz_engine::pipeline::run(
                    &self.engine,
                    &pipeline.script,
                    &loaded,
                    &self.vfs,
                    &capabilities,
                    &invocation(""),
                )
                .map(|o| {
                    let program = o
                        .stopped_by
                        .clone()
                        .or_else(|| o.steps.last().map(|s| s.program.clone()))
                        .unwrap_or_default();
                    (o.exit_code(), program)
                })
                .map_err(|e| {
                    RunFailure::Stopped(refusal(
                        Code::ExecutionFailed,
                        format!("pipeline {name}: {e}"),
                    ))
                })
            }
        };
        let exit_code = match &outcome {
            Ok((code, _)) => *code,
            Err(RunFailure::DidNotStart(_)) => return outcome,
            Err(RunFailure::Stopped(_)) => -1,
        };
        let after = self.digests(&capabilities, Rights::WRITE | Rights::APPEND);
        let outputs = after.into_iter().filter(|d| !before.contains(d)).collect();
        let body = v1::ReceiptBody {
            policy_hash: self.policy.hash().to_vec(),
            round,
            programs: program_digests,
            pipeline: pipeline_name,
            inputs,
            outputs,
            exit_code,
            finished_at: now_unix(),
        };
        let body = prost::Message::encode_to_vec(&body);
        let receipt = v1::Receipt {
            signature: self.signer.sign(&body),
            body,
            certificate_chain: self.signer.chain_pem(),
        };
        self.receipts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(round, receipt);
        outcome
    }

    fn read_program(&self, path: &str) -> Result<Vec<u8>, Refusal> {
        let everything = CapabilityMap::from_entries([(CapPath::Tree(Vec::new()), Rights::READ)]);
        self.vfs
            .handle(everything)
            .read_file(path)
            .map_err(vfs_refusal)
    }

    fn invocation(&self, program: &str) -> veracruz_engine::Invocation {
        let exec = &self.policy.document().execution;
        veracruz_engine::Invocation {
            program_name: program.rsplit('/').next().unwrap_or(program).to_string(),
            args: exec.arguments.clone(),
            env: exec
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            enable_clock: exec.enable_clock,
            trace: false,
        }
    }

    /// SHA-256 of every file (and stream) the capabilities grant any of `rights` on.
    fn digests(&self, caps: &CapabilityMap, rights: Rights) -> Vec<v1::FileDigest> {
        let fs = self.vfs.lock();
        let mut out = Vec::new();
        let mut stack = vec![(ROOT_INO, Vec::<String>::new())];
        while let Some((dir, path)) = stack.pop() {
            let Ok(entries) = fs.read_dir(dir) else {
                continue;
            };
            for e in entries {
                let mut child = path.clone();
                child.push(e.name.clone());
                let Ok(ft) = fs.file_type(e.ino) else {
                    continue;
                };
                match ft {
                    FileType::Directory => stack.push((e.ino, child)),
                    FileType::RegularFile => {
                        let p = CapPath::Tree(child);
                        if !(caps.rights_for_path(&p) & rights).is_empty() {
                            if let Ok(h) = fs.with_contents(e.ino, |d| Sha256::digest(d).to_vec()) {
                                out.push(v1::FileDigest {
                                    path: p.to_string(),
                                    sha256: h,
                                });
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        for s in veracruz_policy::Stream::ALL {
            let p = CapPath::Stream(s);
            if !(caps.rights_for_path(&p) & rights).is_empty() && !fs.stream(s).is_empty() {
                out.push(v1::FileDigest {
                    path: s.as_str().to_string(),
                    sha256: Sha256::digest(fs.stream(s)).to_vec(),
                });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }
}

enum RunFailure {
    /// The run never started (program unreadable, module refused): it does not count.
    DidNotStart(Refusal),
    /// The program ran and was stopped (trap, limit): it counts as a run.
    Stopped(Refusal),
}

fn engine_failure(e: EngineError) -> RunFailure {
    let r = refusal(Code::ExecutionFailed, e.to_string());
    match e {
        EngineError::Limit(_) | EngineError::Trap(_) => RunFailure::Stopped(r),
        _ => RunFailure::DidNotStart(r),
    }
}

/// Bytes of file system space for the whole computation: from the environment of the runtime
/// (set by the host from the isolate's memory budget), else 4 GiB.
fn vfs_quota() -> u64 {
    std::env::var("VERACRUZ_VFS_QUOTA_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4 << 30)
}
