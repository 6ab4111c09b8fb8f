//! Runtime identity: what ties a Veracruz runtime's TLS key to what the attestation service
//! verified about it.
//!
//! Linked into the trusted runtime (CSR creation, `linux` evidence), the attestation service
//! (CSR verification, the CA that issues runtime certificates) and clients (parsing and checking
//! runtime certificates). Certificates carry the platform, measurement and policy hash in
//! non-critical extensions under the Veracruz OID arc ([`oids::ARC`]).

mod ca;
mod csr;
mod der;
mod identity;
pub mod linux;
pub mod oids;

pub use ca::{
    generate_ca, CaAlgorithm, CaError, CertificateAuthority, GeneratedCa, IssueRequest, Issued,
    CLOCK_SKEW_ALLOWANCE_SECS, DEFAULT_CERTIFICATE_LIFETIME_SECS,
};
pub use csr::{
    create_csr_pem, key_hash, verify_csr_der, verify_csr_pem, CsrError, VerifiedCsr, MAX_CSR_LEN,
};
pub use der::DerError;
pub use identity::{
    parse_pem_chain, parse_runtime_certificate, verify_runtime_chain, IdentityError,
    RuntimeIdentity,
};

/// Common name in runtime CSRs and certificates. It identifies nothing: the extensions do.
pub const RUNTIME_COMMON_NAME: &str = "veracruz runtime";

/// The DNS name every runtime certificate carries, so TLS clients have a fixed server name to
/// verify against; which runtime it is follows from the extensions, not from the name.
pub const RUNTIME_DNS_NAME: &str = "runtime.veracruz.invalid";
