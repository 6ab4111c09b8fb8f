//! The policy document as typed Rust: the JSON schema, field for field.
//!
//! Every struct refuses unknown fields, so a typo cannot silently drop a rule. Validation of
//! what the types cannot express lives in [`crate::validate`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::capabilities::RawCapabilities;

/// The schema version this crate reads and writes.
pub const POLICY_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// Schema version; must be [`POLICY_VERSION`].
    pub version: u32,
    pub principals: Vec<PrincipalSpec>,
    pub programs: Vec<ProgramSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pipelines: Vec<PipelineSpec>,
    /// Data that must match an agreed hash when written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<PinnedFile>,
    /// Paths that must all be present before execution is allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
    pub execution: ExecutionSpec,
    #[serde(default)]
    pub lifecycle: LifecycleSpec,
    pub attestation: AttestationSpec,
    pub server: ServerSpec,
    #[serde(default)]
    pub tls: TlsSpec,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalSpec {
    pub name: String,
    /// PEM X.509 certificate; the principal is whoever holds its key.
    pub certificate: String,
    /// Free-text roles, for people reading the policy (`program-provider`, `data-provider`,
    /// `result-receiver`, ...). Rights come from `capabilities` alone.
    #[serde(default)]
    pub roles: Vec<String>,
    pub capabilities: RawCapabilities,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramSpec {
    /// Where the program is written in the VFS, e.g. `/program/sum.wasm`.
    pub path: String,
    /// Hex SHA-256 of the exact module bytes; other bytes are refused.
    pub sha256: String,
    /// What the program itself may touch while it runs.
    pub capabilities: RawCapabilities,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    pub name: String,
    /// Source in the pipeline language (see [`crate::pipeline`]).
    pub script: String,
    /// What the pipeline's programs may touch while they run.
    pub capabilities: RawCapabilities,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedFile {
    pub path: String,
    pub sha256: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// wasmtime (Cranelift).
    #[default]
    Jit,
    /// wasmi.
    Interpreter,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Jit => "jit",
            Strategy::Interpreter => "interpreter",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionSpec {
    #[serde(default)]
    pub strategy: Strategy,
    /// Largest linear memory a program may grow to, in MiB.
    pub max_memory_mib: u32,
    /// Instructions (fuel units) a run may consume; at least one of `fuel` and
    /// `time_limit_ms` must be set so that no run can loop forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit_ms: Option<u64>,
    /// Total bytes a run may write to files and streams.
    pub max_output_bytes: u64,
    #[serde(default = "default_max_open_files")]
    pub max_open_files: u32,
    /// Whether programs may read clocks (off by default: runs are deterministic).
    #[serde(default)]
    pub enable_clock: bool,
    /// Whether the JIT may leave the bits of NaN results as the CPU produces them. Off by
    /// default: NaNs are made canonical, so every engine and CPU gives the same bits, at a
    /// cost on float-heavy programs (docs/PERFORMANCE.md). The interpreter is canonical
    /// either way.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hardware_nans: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<String>,
}

fn default_max_open_files() -> u32 {
    64
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleSpec {
    /// Runs allowed before any consent is needed. Each further run needs consent.
    #[serde(default = "one")]
    pub runs_without_consent: u32,
    /// Who must consent to each further run; absent means every principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_required_from: Option<Vec<String>>,
    /// Who may vote to shut the computation down, and how many votes are needed.
    #[serde(default)]
    pub shutdown: ShutdownSpec,
}

impl Default for LifecycleSpec {
    fn default() -> Self {
        LifecycleSpec {
            runs_without_consent: 1,
            consent_required_from: None,
            shutdown: ShutdownSpec::default(),
        }
    }
}

fn one() -> u32 {
    1
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ShutdownSpec {
    /// Principals whose votes count; absent means every principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voters: Option<Vec<String>>,
    /// Votes needed; absent means all voters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestationSpec {
    /// Base URL of the attestation service, e.g. `http://127.0.0.1:3010`.
    pub service_url: String,
    /// PEM certificate of the attestation service's CA: the only root clients trust.
    pub ca_certificate: String,
    /// Whether a runtime on an insecure platform (`linux`) may be trusted at all.
    #[serde(default)]
    pub allow_insecure_platforms: bool,
    /// Platform name -> accepted runtime measurements (hex).
    pub accepted_measurements: BTreeMap<String, Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// `host:port` where the delegate's server listens for principals.
    pub address: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSpec {
    /// TLS 1.3 suites, most preferred first.
    #[serde(default = "default_suites")]
    pub cipher_suites: Vec<String>,
    /// Lifetime of the certificate the attestation service issues the runtime.
    #[serde(default = "default_cert_lifetime")]
    pub certificate_lifetime_secs: u64,
}

impl Default for TlsSpec {
    fn default() -> Self {
        TlsSpec {
            cipher_suites: default_suites(),
            certificate_lifetime_secs: default_cert_lifetime(),
        }
    }
}

/// TLS 1.3 suite names accepted in policies. AES-GCM first: it is several times faster than
/// ChaCha20 on machines with AES instructions.
pub const TLS13_SUITES: [&str; 3] = [
    "TLS13_AES_128_GCM_SHA256",
    "TLS13_AES_256_GCM_SHA384",
    "TLS13_CHACHA20_POLY1305_SHA256",
];

fn default_suites() -> Vec<String> {
    TLS13_SUITES.iter().map(|s| s.to_string()).collect()
}

fn default_cert_lifetime() -> u64 {
    3600
}
