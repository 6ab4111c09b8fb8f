//! The lifecycle the runtime enforces: who may write, run, read, consent and shut down, and when.
//!
//! This is the state transition system the threat model asks principals to trust. It is pure
//! bookkeeping over the policy: it decides, and the caller (the request dispatcher) performs
//! the file-system and engine work only after a decision allows it. Every refusal is a
//! [`Refusal`] with a code and a reason a person can act on.

use std::collections::BTreeSet;
use std::sync::Arc;

use veracruz_policy::{CapPath, Policy, Rights};
use veracruz_protocol::v1::Code;

/// A refused request: the status code and the reason sent to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: Code,
    pub reason: String,
}

impl Refusal {
    pub fn new(code: Code, reason: impl Into<String>) -> Self {
        Refusal {
            code,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.reason)
    }
}

type Decision<T = ()> = Result<T, Refusal>;

/// What kind of write a principal asked for, as decided by [`Lifecycle::begin_write`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteKind {
    /// A program of the policy: one write, bytes must hash to `sha256`.
    Program { sha256: [u8; 32] },
    /// A data file whose hash the policy pins.
    Pinned { sha256: [u8; 32] },
    /// Any other file the principal may write or append to.
    Data,
}

/// What a run will execute, as decided by [`Lifecycle::begin_run`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunTarget {
    Program(String),
    Pipeline(String),
}

impl RunTarget {
    pub fn describe(&self) -> String {
        match self {
            RunTarget::Program(p) => format!("program {p}"),
            RunTarget::Pipeline(p) => format!("pipeline {p}"),
        }
    }
}

/// Coarse state, reported by `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Programs or declared inputs are still missing.
    Provisioning,
    /// Everything needed is present; a run may be requested.
    Ready,
    /// A run is in progress.
    Running,
    /// At least one run has finished.
    Finished,
    ShutDown,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Provisioning => "provisioning",
            Phase::Ready => "ready",
            Phase::Running => "running",
            Phase::Finished => "finished",
            Phase::ShutDown => "shut-down",
        }
    }
}

/// Result of a shutdown vote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Vote {
    /// Recorded; `votes` of `quorum` so far.
    Recorded { votes: usize, quorum: u32 },
    /// The quorum was reached: the computation is now shut down.
    ShutDown,
}

/// The lifecycle state of one computation.
#[derive(Debug)]
pub struct Lifecycle {
    policy: Arc<Policy>,
    programs_written: BTreeSet<String>,
    /// Runs finished so far; the next run is `finished + 1`.
    finished: u64,
    /// Highest run number allowed so far (runs_without_consent, raised by full consents).
    allowed: u64,
    /// Consents collected for run `allowed + 1`.
    consents: BTreeSet<String>,
    shutdown_votes: BTreeSet<String>,
    running: bool,
    shut_down: bool,
    /// Paths some program or pipeline may write: results, readable only after a run.
    output_paths: Vec<CapPath>,
}

impl Lifecycle {
    pub fn new(policy: Arc<Policy>) -> Self {
        let mut output_paths = Vec::new();
        let maps = policy
            .programs()
            .iter()
            .map(|p| &p.capabilities)
            .chain(policy.pipelines().iter().map(|p| &p.capabilities));
        for caps in maps {
            for (path, rights) in caps.entries() {
                if rights.can_modify() && !output_paths.contains(path) {
                    output_paths.push(path.clone());
                }
            }
        }
        Lifecycle {
            allowed: policy.document().lifecycle.runs_without_consent.into(),
            policy,
            programs_written: BTreeSet::new(),
            finished: 0,
            consents: BTreeSet::new(),
            shutdown_votes: BTreeSet::new(),
            running: false,
            shut_down: false,
            output_paths,
        }
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    fn live(&self) -> Decision {
        if self.shut_down {
            return Err(Refusal::new(
                Code::ShutDown,
                "the computation has been shut down",
            ));
        }
        Ok(())
    }

    fn idle(&self, what: &str) -> Decision {
        self.live()?;
        if self.running {
            return Err(Refusal::new(
                Code::FailedPrecondition,
                format!("cannot {what} while a run is in progress; try again when it finishes"),
            ));
        }
        Ok(())
    }

    fn rights(&self, principal: &str, path: &str) -> Rights {
        self.policy
            .principal(principal)
            .map(|p| p.capabilities.rights_for(path))
            .unwrap_or(Rights::NONE)
    }

    fn is_output(&self, path: &CapPath) -> bool {
        self.output_paths.iter().any(|o| o.covers(path))
    }

    /// May `principal` start writing (or appending to) `path`?
    pub fn begin_write(&self, principal: &str, path: &str, append: bool) -> Decision<WriteKind> {
        self.idle("write files")?;
        let parsed = CapPath::parse(path)
            .map_err(|e| Refusal::new(Code::Invalid, format!("bad path: {e}")))?;
        let canonical = parsed.to_string();
        let rights = self.rights(principal, &canonical);
        let needed = if append {
            Rights::APPEND
        } else {
            Rights::WRITE
        };
        // `w` (write, create, truncate) is the stronger right and includes appending.
        if !(rights.contains(needed) || (append && rights.contains(Rights::WRITE))) {
            let letter = if append { "a (or w)" } else { "w" };
            return Err(Refusal::new(
                Code::Forbidden,
                format!("principal `{principal}` has no `{letter}` right on {canonical} (it has `{rights}`)"),
            ));
        }
        if matches!(parsed, CapPath::Stream(_)) {
            return Err(Refusal::new(
                Code::Invalid,
                format!("{canonical} is a program's stream; principals cannot write it"),
            ));
        }
        if let Some(program) = self.policy.program(&canonical) {
            if append {
                return Err(Refusal::new(
                    Code::Invalid,
                    format!("program {canonical} must be written whole, not appended to"),
                ));
            }
            if self.programs_written.contains(&program.path) {
                return Err(Refusal::new(
                    Code::FailedPrecondition,
                    format!("program {canonical} has already been provisioned; a computation accepts one program per path"),
                ));
            }
            return Ok(WriteKind::Program {
                sha256: program.sha256,
            });
        }
        if let Some(sha256) = self.policy.pinned_files().get(&canonical) {
            if append {
                return Err(Refusal::new(
                    Code::Invalid,
                    format!("{canonical} has a pinned hash and must be written whole"),
                ));
            }
            return Ok(WriteKind::Pinned { sha256: *sha256 });
        }
        Ok(WriteKind::Data)
    }

    /// Records that a program was provisioned (its hash already checked by the caller).
    pub fn program_written(&mut self, path: &str) {
        if let Some(p) = self.policy.program(path) {
            self.programs_written.insert(p.path.clone());
        }
    }

    /// May `principal` read `path` now?
    pub fn check_read(&self, principal: &str, path: &str) -> Decision<String> {
        self.idle("read files")?;
        let parsed = CapPath::parse(path)
            .map_err(|e| Refusal::new(Code::Invalid, format!("bad path: {e}")))?;
        let canonical = parsed.to_string();
        let rights = self.rights(principal, &canonical);
        if !rights.contains(Rights::READ) {
            return Err(Refusal::new(
                Code::Forbidden,
                format!(
                    "principal `{principal}` has no `r` right on {canonical} (it has `{rights}`)"
                ),
            ));
        }
        if self.is_output(&parsed) && self.finished == 0 {
            return Err(Refusal::new(
                Code::FailedPrecondition,
                format!("{canonical} is a result and no run has finished yet"),
            ));
        }
        Ok(canonical)
    }

    /// Programs a target needs, as canonical paths.
    pub fn programs_of(&self, target: &RunTarget) -> Vec<String> {
        match target {
            RunTarget::Program(p) => self
                .policy
                .program(p)
                .map(|p| vec![p.path.clone()])
                .unwrap_or_default(),
            RunTarget::Pipeline(name) => self
                .policy
                .pipeline(name)
                .map(|p| {
                    p.programs
                        .values()
                        .cloned()
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// May `principal` run `target` now? `present` says whether a path exists in the VFS.
    /// On success the lifecycle is marked running; call [`Lifecycle::end_run`] afterwards.
    pub fn begin_run(
        &mut self,
        principal: &str,
        target: &RunTarget,
        present: impl Fn(&str) -> bool,
    ) -> Decision<u64> {
        self.idle("start a run")?;
        let programs = match target {
            RunTarget::Program(p) => {
                let Some(program) = self.policy.program(p) else {
                    return Err(Refusal::new(
                        Code::NotFound,
                        format!("{p} is not a program of the policy"),
                    ));
                };
                vec![program.path.clone()]
            }
            RunTarget::Pipeline(name) => {
                if self.policy.pipeline(name).is_none() {
                    return Err(Refusal::new(
                        Code::NotFound,
                        format!("`{name}` is not a pipeline of the policy"),
                    ));
                }
                self.programs_of(target)
            }
        };
        for p in &programs {
            if !self.rights(principal, p).contains(Rights::EXECUTE) {
                return Err(Refusal::new(
                    Code::Forbidden,
                    format!("principal `{principal}` has no `x` right on {p}"),
                ));
            }
        }
        let missing_programs: Vec<&String> = programs
            .iter()
            .filter(|p| !self.programs_written.contains(*p))
            .collect();
        let missing_inputs: Vec<&String> = self
            .policy
            .inputs()
            .iter()
            .filter(|i| !present(i))
            .collect();
        if !missing_programs.is_empty() || !missing_inputs.is_empty() {
            let mut parts = Vec::new();
            if !missing_programs.is_empty() {
                parts.push(format!(
                    "programs not yet provisioned: {}",
                    join(&missing_programs)
                ));
            }
            if !missing_inputs.is_empty() {
                parts.push(format!(
                    "declared inputs missing: {}",
                    join(&missing_inputs)
                ));
            }
            return Err(Refusal::new(
                Code::FailedPrecondition,
                format!("cannot run {}: {}", target.describe(), parts.join("; ")),
            ));
        }
        let next = self.finished + 1;
        if next > self.allowed {
            let have: Vec<&String> = self.consents.iter().collect();
            let need: Vec<&String> = self
                .policy
                .consent_required_from()
                .iter()
                .filter(|n| !self.consents.contains(*n))
                .collect();
            return Err(Refusal::new(
                Code::FailedPrecondition,
                format!(
                    "run {next} needs consent from {} (still missing: {}; given: {})",
                    join(
                        &self
                            .policy
                            .consent_required_from()
                            .iter()
                            .collect::<Vec<_>>()
                    ),
                    join(&need),
                    if have.is_empty() {
                        "none".to_string()
                    } else {
                        join(&have)
                    }
                ),
            ));
        }
        self.running = true;
        Ok(next)
    }

    /// Ends the run started by [`Lifecycle::begin_run`]; `completed` is false when the run
    /// could not start at all (e.g. the module failed to load), so it does not count.
    pub fn end_run(&mut self, completed: bool) {
        self.running = false;
        if completed {
            self.finished += 1;
        }
    }

    /// Records `principal`'s consent to run number `round`.
    pub fn consent(&mut self, principal: &str, round: u64) -> Decision<String> {
        self.live()?;
        if !self
            .policy
            .consent_required_from()
            .iter()
            .any(|n| n == principal)
        {
            return Err(Refusal::new(
                Code::Forbidden,
                format!("principal `{principal}` is not one whose consent the policy asks for"),
            ));
        }
        let wanted = self.allowed + 1;
        if round != wanted {
            return Err(Refusal::new(
                Code::FailedPrecondition,
                format!("consent can only be given for run {wanted}, the next one that needs it (asked for {round})"),
            ));
        }
        self.consents.insert(principal.to_string());
        let all = self
            .policy
            .consent_required_from()
            .iter()
            .all(|n| self.consents.contains(n));
        if all {
            self.allowed = wanted;
            self.consents.clear();
            Ok(format!(
                "consent recorded; every required principal agreed, run {wanted} is allowed"
            ))
        } else {
            Ok(format!(
                "consent to run {wanted} recorded ({} of {})",
                self.consents.len(),
                self.policy.consent_required_from().len()
            ))
        }
    }

    /// Records `principal`'s vote to shut down.
    pub fn vote_shutdown(&mut self, principal: &str) -> Decision<Vote> {
        self.idle("shut down")?;
        if !self.policy.shutdown_voters().iter().any(|n| n == principal) {
            return Err(Refusal::new(
                Code::Forbidden,
                format!("principal `{principal}` may not vote to shut down"),
            ));
        }
        self.shutdown_votes.insert(principal.to_string());
        let quorum = self.policy.shutdown_quorum();
        if self.shutdown_votes.len() >= quorum as usize {
            self.shut_down = true;
            Ok(Vote::ShutDown)
        } else {
            Ok(Vote::Recorded {
                votes: self.shutdown_votes.len(),
                quorum,
            })
        }
    }

    pub fn is_shut_down(&self) -> bool {
        self.shut_down
    }

    pub fn finished_runs(&self) -> u64 {
        self.finished
    }

    pub fn phase(&self, present: impl Fn(&str) -> bool) -> Phase {
        if self.shut_down {
            Phase::ShutDown
        } else if self.running {
            Phase::Running
        } else if self.finished > 0 {
            Phase::Finished
        } else if self.missing_programs().is_empty()
            && self.policy.inputs().iter().all(|i| present(i))
        {
            Phase::Ready
        } else {
            Phase::Provisioning
        }
    }

    pub fn runs_remaining(&self) -> u64 {
        self.allowed.saturating_sub(self.finished)
    }

    pub fn missing_programs(&self) -> Vec<String> {
        self.policy
            .programs()
            .iter()
            .filter(|p| !self.programs_written.contains(&p.path))
            .map(|p| p.path.clone())
            .collect()
    }

    pub fn programs_written(&self) -> Vec<String> {
        self.programs_written.iter().cloned().collect()
    }

    pub fn consents(&self) -> Vec<String> {
        self.consents.iter().cloned().collect()
    }

    pub fn shutdown_votes(&self) -> Vec<String> {
        self.shutdown_votes.iter().cloned().collect()
    }
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
    use serde_json::json;

    fn cert() -> String {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        CertificateParams::new(vec!["x".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap()
            .pem()
    }

    /// alice provides the program, bob and carol data; dave only receives results.
    fn policy(runs_without_consent: u32) -> Arc<Policy> {
        let v = json!({
            "version": 1,
            "principals": [
                {"name": "alice", "certificate": cert(), "capabilities": {"/program/p.wasm": "wx"}},
                {"name": "bob", "certificate": cert(), "capabilities": {"/input/bob": "wa", "/output/": "r"}},
                {"name": "carol", "certificate": cert(), "capabilities": {"/input/carol": "w", "/input/ref": "w"}},
                {"name": "dave", "certificate": cert(), "capabilities": {"/output/": "r", "/program/p.wasm": "r"}}
            ],
            "programs": [{"path": "/program/p.wasm", "sha256": "11".repeat(32),
                          "capabilities": {"/input/": "r", "/output/": "w"}}],
            "pipelines": [{"name": "twice", "script": "p.wasm; p.wasm", "capabilities": {"/output/": "rw"}}],
            "files": [{"path": "/input/ref", "sha256": "22".repeat(32)}],
            "inputs": ["/input/bob", "/input/carol"],
            "execution": {"max_memory_mib": 16, "fuel": 1000, "max_output_bytes": 1000},
            "lifecycle": {"runs_without_consent": runs_without_consent,
                          "consent_required_from": ["alice", "bob"],
                          "shutdown": {"voters": ["bob", "dave"], "quorum": 2}},
            "attestation": {"service_url": "http://127.0.0.1:1", "ca_certificate": cert(),
                            "allow_insecure_platforms": true,
                            "accepted_measurements": {"linux": ["00".repeat(32)]}},
            "server": {"address": "127.0.0.1:2"}
        });
        Arc::new(Policy::from_bytes(v.to_string().as_bytes()).unwrap())
    }

    fn all_present(_: &str) -> bool {
        true
    }

    #[test]
    fn writes_follow_rights_and_program_rules() {
        let mut l = Lifecycle::new(policy(1));
        assert_eq!(
            l.begin_write("alice", "/program/p.wasm", false),
            Ok(WriteKind::Program { sha256: [0x11; 32] })
        );
        assert_eq!(
            l.begin_write("bob", "/program/p.wasm", false)
                .unwrap_err()
                .code,
            Code::Forbidden
        );
        assert_eq!(
            l.begin_write("alice", "/program/p.wasm", true)
                .unwrap_err()
                .code,
            Code::Invalid
        );
        l.program_written("/program/p.wasm");
        let again = l
            .begin_write("alice", "/program/p.wasm", false)
            .unwrap_err();
        assert_eq!(again.code, Code::FailedPrecondition);
        assert!(again.reason.contains("already been provisioned"), "{again}");

        assert_eq!(
            l.begin_write("bob", "/input/bob", true),
            Ok(WriteKind::Data)
        );
        assert_eq!(
            l.begin_write("carol", "/input/ref", false),
            Ok(WriteKind::Pinned { sha256: [0x22; 32] })
        );
        assert_eq!(
            l.begin_write("carol", "/input/carol", true),
            Ok(WriteKind::Data)
        );
        assert_eq!(
            l.begin_write("carol", "/input/bob", true).unwrap_err().code,
            Code::Forbidden
        );
        assert_eq!(
            l.begin_write("bob", "/input/../etc", false)
                .unwrap_err()
                .code,
            Code::Invalid
        );
        let denied = l.begin_write("dave", "/output/x", false).unwrap_err();
        assert!(
            denied.reason.contains("`dave`") && denied.reason.contains("/output/x"),
            "{denied}"
        );
    }

    #[test]
    fn execution_needs_x_programs_and_inputs_and_names_what_is_missing() {
        let mut l = Lifecycle::new(policy(1));
        let target = RunTarget::Program("/program/p.wasm".into());
        assert_eq!(
            l.begin_run("bob", &target, all_present).unwrap_err().code,
            Code::Forbidden
        );
        let e = l
            .begin_run("alice", &target, |p| p == "/input/bob")
            .unwrap_err();
        assert_eq!(e.code, Code::FailedPrecondition);
        assert!(
            e.reason.contains("/program/p.wasm") && e.reason.contains("/input/carol"),
            "{e}"
        );
        assert!(!e.reason.contains("/input/bob,"), "{e}");
        l.program_written("/program/p.wasm");
        assert_eq!(l.phase(all_present), Phase::Ready);
        assert_eq!(l.begin_run("alice", &target, all_present), Ok(1));
        assert_eq!(l.phase(all_present), Phase::Running);
        assert_eq!(
            l.begin_write("bob", "/input/bob", true).unwrap_err().code,
            Code::FailedPrecondition
        );
        l.end_run(true);
        assert_eq!(l.finished_runs(), 1);
        assert_eq!(
            l.begin_run("alice", &RunTarget::Program("/nope".into()), all_present)
                .unwrap_err()
                .code,
            Code::NotFound
        );
    }

    #[test]
    fn results_are_readable_only_after_a_run_and_only_with_r() {
        let mut l = Lifecycle::new(policy(1));
        l.program_written("/program/p.wasm");
        let early = l.check_read("dave", "/output/result").unwrap_err();
        assert_eq!(early.code, Code::FailedPrecondition);
        assert_eq!(
            l.check_read("carol", "/output/result").unwrap_err().code,
            Code::Forbidden
        );
        // A non-output file with `r` is readable at any time.
        assert_eq!(
            l.check_read("dave", "/program/p.wasm"),
            Ok("/program/p.wasm".into())
        );
        l.begin_run(
            "alice",
            &RunTarget::Program("/program/p.wasm".into()),
            all_present,
        )
        .unwrap();
        l.end_run(true);
        assert_eq!(
            l.check_read("dave", "/output/result/"),
            Ok("/output/result".into())
        );
        assert_eq!(
            l.check_read("carol", "/output/result").unwrap_err().code,
            Code::Forbidden
        );
    }

    #[test]
    fn further_runs_need_every_named_consent_for_that_round() {
        let mut l = Lifecycle::new(policy(1));
        l.program_written("/program/p.wasm");
        let t = RunTarget::Pipeline("twice".into());
        assert_eq!(l.begin_run("alice", &t, all_present), Ok(1));
        l.end_run(true);
        let e = l.begin_run("alice", &t, all_present).unwrap_err();
        assert!(
            e.reason.contains("run 2 needs consent")
                && e.reason.contains("still missing: alice, bob"),
            "{e}"
        );
        assert_eq!(l.consent("dave", 2).unwrap_err().code, Code::Forbidden);
        assert_eq!(
            l.consent("alice", 3).unwrap_err().code,
            Code::FailedPrecondition
        );
        l.consent("alice", 2).unwrap();
        let e = l.begin_run("alice", &t, all_present).unwrap_err();
        assert!(
            e.reason.contains("still missing: bob") && e.reason.contains("given: alice"),
            "{e}"
        );
        assert!(l.consent("bob", 2).unwrap().contains("run 2 is allowed"));
        assert_eq!(l.runs_remaining(), 1);
        assert_eq!(l.begin_run("alice", &t, all_present), Ok(2));
        l.end_run(true);
        // Consent does not carry over to the round after.
        assert_eq!(
            l.begin_run("alice", &t, all_present).unwrap_err().code,
            Code::FailedPrecondition
        );
        // A run that could not start does not use up the allowance.
        l.consent("alice", 3).unwrap();
        l.consent("bob", 3).unwrap();
        assert_eq!(l.begin_run("alice", &t, all_present), Ok(3));
        l.end_run(false);
        assert_eq!(l.begin_run("alice", &t, all_present), Ok(3));
    }

    #[test]
    fn shutdown_follows_the_quorum_and_then_refuses_everything() {
        let mut l = Lifecycle::new(policy(1));
        assert_eq!(l.vote_shutdown("alice").unwrap_err().code, Code::Forbidden);
        assert_eq!(
            l.vote_shutdown("bob"),
            Ok(Vote::Recorded {
                votes: 1,
                quorum: 2
            })
        );
        assert_eq!(
            l.vote_shutdown("bob"),
            Ok(Vote::Recorded {
                votes: 1,
                quorum: 2
            })
        );
        assert!(!l.is_shut_down());
        assert_eq!(l.vote_shutdown("dave"), Ok(Vote::ShutDown));
        assert_eq!(l.phase(all_present), Phase::ShutDown);
        assert_eq!(
            l.begin_write("bob", "/input/bob", false).unwrap_err().code,
            Code::ShutDown
        );
        assert_eq!(
            l.check_read("dave", "/output/x").unwrap_err().code,
            Code::ShutDown
        );
        assert_eq!(l.consent("alice", 2).unwrap_err().code, Code::ShutDown);
    }
}
