//! Platform evidence: what an isolate says about itself, and how a verifier checks it.
//!
//! The attestation service calls a [`Verifier`] for the platform named in a request; the
//! verifier checks signatures and chains up to the vendor's roots at a given time and returns
//! the [`Claims`] the evidence makes. Checking those claims against a [`Binding`] (nonce, key,
//! policy) and against accepted measurements is the caller's next step, so that every platform
//! is held to the same rules.
//!
//! [`verifier_for`] builds the verifier for a real TEE (SEV-SNP, TDX, SGX, Nitro, CCA) from a
//! [`VerifierConfig`]; [`provider`] is the runtime side, producing evidence inside the TEE.
//! `docs/PLATFORMS.md` documents each platform's evidence format and checks.

use sha2::{Digest, Sha512};
pub use veracruz_policy::Platform;

mod config;
pub mod cose;
mod pki;

pub mod cca;
pub mod dcap;
pub mod envelope;
pub mod nitro;
pub mod provider;
pub mod snp;

pub use config::{
    verifier_for, CcaConfig, CcaTrustAnchor, DcapConfig, NitroConfig, SnpConfig, SnpMinTcb,
    VerifierConfig,
};
pub use envelope::{decode_evidence_text, parse_time};

/// What a runtime's evidence must commit to: the attestation service's fresh nonce, the
/// SHA-256 of the runtime's TLS public key (DER SubjectPublicKeyInfo) and the policy hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    pub nonce: [u8; 32],
    pub key_hash: [u8; 32],
    pub policy_hash: [u8; 32],
}

/// Domain separator so that report data made for Veracruz can never be mistaken for another
/// protocol's.
const BINDING_DOMAIN: &[u8] = b"veracruz/evidence-binding/v1";

impl Binding {
    /// The 64 bytes a hardware report carries as its user data (SEV-SNP `REPORT_DATA`, TDX
    /// `REPORTDATA`, Nitro `user_data`, CCA challenge): SHA-512 over the domain separator, the
    /// nonce, the key hash and the policy hash.
    pub fn report_data(&self) -> [u8; 64] {
        let mut h = Sha512::new();
        h.update(BINDING_DOMAIN);
        h.update(self.nonce);
        h.update(self.key_hash);
        h.update(self.policy_hash);
        h.finalize().into()
    }
}

/// Seconds since the Unix epoch: the "now" at which certificates and collateral are judged.
/// Tests pass fixed times; production passes the wall clock.
pub type UnixTime = u64;

/// What verified evidence says about the isolate that produced it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    pub platform: Platform,
    /// The runtime measurement that policies pin (see [`Platform`] for which one per platform).
    pub measurement: Vec<u8>,
    /// The report's user data; for Veracruz evidence it equals [`Binding::report_data`].
    pub report_data: Vec<u8>,
    /// Whether the isolate runs in a debug mode that lets its host read its memory.
    pub debug: bool,
    /// The platform's verdict on its firmware/microcode level, e.g. `UpToDate`, where it has one.
    pub tcb_status: Option<String>,
    /// Further platform-specific claims (name, value), for audit records and certificates.
    pub details: Vec<(String, String)>,
}

/// Why evidence was refused. Each variant names the check that failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EvidenceError {
    #[error("evidence does not parse: {0}")]
    Malformed(String),
    #[error("evidence signature does not verify: {0}")]
    BadSignature(String),
    #[error("certificate chain does not verify: {0}")]
    BadChain(String),
    #[error("certificate or collateral not valid at the given time: {0}")]
    Expired(String),
    #[error("collateral is missing or invalid: {0}")]
    Collateral(String),
    #[error("TCB status not acceptable: {0}")]
    Tcb(String),
    #[error(
        "evidence report data does not match the expected binding (nonce, key hash, policy hash)"
    )]
    BindingMismatch,
    #[error("platform `{0}` cannot be verified by this build")]
    Unsupported(Platform),
    /// The isolate runs in a debug mode and the verifier's configuration does not allow it.
    #[error("isolate runs in debug mode, which is not allowed: {0}")]
    Debug(String),
    /// The verifier's own configuration (trust anchors, reference values) is unusable.
    #[error("verifier configuration is invalid: {0}")]
    Config(String),
}

impl EvidenceError {
    /// A short, stable name for the check that failed, for logs, audit records and tools.
    pub fn check(&self) -> &'static str {
        match self {
            EvidenceError::Malformed(_) => "malformed",
            EvidenceError::BadSignature(_) => "signature",
            EvidenceError::BadChain(_) => "chain",
            EvidenceError::Expired(_) => "validity",
            EvidenceError::Collateral(_) => "collateral",
            EvidenceError::Tcb(_) => "tcb",
            EvidenceError::BindingMismatch => "binding",
            EvidenceError::Unsupported(_) => "unsupported",
            EvidenceError::Debug(_) => "debug",
            EvidenceError::Config(_) => "config",
        }
    }
}

/// Checks one platform's evidence up to its vendor's roots.
pub trait Verifier: Send + Sync {
    /// The platform this verifier handles.
    fn platform(&self) -> Platform;
    /// Verifies signatures, chains and collateral as of `now` and returns the claims.
    /// Does not check the binding or measurement policy: see [`check_binding`].
    fn verify(&self, evidence: &[u8], now: UnixTime) -> Result<Claims, EvidenceError>;
}

/// Fails unless the claims' report data is exactly the binding's [`Binding::report_data`].
pub fn check_binding(claims: &Claims, binding: &Binding) -> Result<(), EvidenceError> {
    // Not secret data, so a plain comparison is fine.
    if claims.report_data.as_slice() == binding.report_data().as_slice() {
        Ok(())
    } else {
        Err(EvidenceError::BindingMismatch)
    }
}
