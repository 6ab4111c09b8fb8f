//! Verifier configuration: trust anchors and reference values per platform, loadable from the
//! attestation service's configuration file (JSON), and the constructor that turns it into a
//! [`Verifier`].

use serde::{Deserialize, Serialize};

use crate::{cca, dcap, nitro, snp, EvidenceError, Platform, Verifier};

/// Everything the real-TEE verifiers can be told. Every field has a safe default: vendor roots
/// built into this crate, debug isolates refused, only current TCB levels accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifierConfig {
    /// Accept isolates whose host can read their memory. For development only.
    pub allow_debug: bool,
    pub sev_snp: SnpConfig,
    pub dcap: DcapConfig,
    pub nitro: NitroConfig,
    pub cca: CcaConfig,
}

/// SEV-SNP reference values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnpConfig {
    /// PEM bundles (ASK or ASVK, then ARK) replacing the built-in AMD ones; the self-signed
    /// certificates in them are the trust anchors.
    pub ca_bundles_pem: Option<Vec<String>>,
    /// Lowest acceptable `REPORTED_TCB` component versions.
    pub min_tcb: SnpMinTcb,
}

/// Minimum security patch levels of the SEV-SNP trusted computing base.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnpMinTcb {
    pub boot_loader: u8,
    pub tee: u8,
    pub snp: u8,
    pub microcode: u8,
    /// Only Turin and later report an FMC version; ignored for earlier families.
    pub fmc: u8,
}

/// Intel DCAP (TDX and SGX) reference values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DcapConfig {
    /// The Intel SGX Root CA (PEM) replacing the built-in one.
    pub root_ca_pem: Option<String>,
    /// TCB statuses to accept; `None` means [`dcap::DEFAULT_ACCEPTED_TCB_STATUSES`].
    pub accepted_tcb_statuses: Option<Vec<String>>,
}

/// AWS Nitro reference values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NitroConfig {
    /// Root certificates (PEM) replacing the built-in AWS Nitro Enclaves Root-G1.
    pub roots_pem: Option<String>,
}

/// Arm CCA reference values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CcaConfig {
    /// Platform attestation keys (CPAKs) to accept. There is no vendor root for CCA: each
    /// platform's key is provisioned by its owner, so the list starts empty.
    pub trust_anchors: Vec<CcaTrustAnchor>,
}

/// One CPAK, in the layout of a Veraison trust-anchor store entry, so that such stores load
/// as they are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CcaTrustAnchor {
    /// The public key as a JWK (`kty` EC, `crv` P-256 or P-384).
    pub pkey: cca::Jwk,
    /// If set, the key is used only for tokens with this implementation ID (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implementation_id: Option<String>,
    /// If set, the key is used only for tokens with this instance ID (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

/// The verifier for a real TEE platform. `linux` is not verified here: its self-asserted
/// evidence belongs to the attestation crate.
pub fn verifier_for(
    platform: Platform,
    config: &VerifierConfig,
) -> Result<Box<dyn Verifier>, EvidenceError> {
    Ok(match platform {
        Platform::SevSnp => Box::new(snp::SnpVerifier::new(&config.sev_snp, config.allow_debug)?),
        Platform::Tdx | Platform::Sgx => Box::new(dcap::DcapVerifier::new(
            platform,
            &config.dcap,
            config.allow_debug,
        )?),
        Platform::Nitro => Box::new(nitro::NitroVerifier::new(
            config
                .nitro
                .roots_pem
                .as_deref()
                .unwrap_or(nitro::AWS_NITRO_ROOT_G1_PEM),
            config.allow_debug,
        )?),
        Platform::Cca => Box::new(cca::CcaVerifier::new(&config.cca, config.allow_debug)?),
        Platform::Linux => return Err(EvidenceError::Unsupported(platform)),
    })
}
