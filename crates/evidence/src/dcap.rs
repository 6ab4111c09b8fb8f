//! Intel DCAP quotes: TDX (quote v4/v5) and SGX (quote v3).
//!
//! Evidence is a JSON envelope carrying the quote and its collateral in `dcap-qvl`'s
//! `QuoteCollateralV3` layout (PCK CRL and root CA CRL, TCB info and QE identity as the exact
//! strings Intel signed, with their signatures and issuer chains); see `docs/PLATFORMS.md`.
//! `dcap-qvl` checks the PCK chain to the Intel SGX Root CA, the CRLs, the collateral
//! signatures and validity at `now`, the QE report and the quote signature, and matches the TCB
//! level; this module adds the envelope, the platform check and the TCB status policy.

use dcap_qvl::quote::Report;
use dcap_qvl::verify::QuoteVerifier;
use dcap_qvl::QuoteCollateralV3;
use serde::{Deserialize, Serialize};

use crate::config::DcapConfig;
use crate::pki;
use crate::{Claims, EvidenceError, Platform, UnixTime, Verifier};

/// The Intel SGX Root CA (P-256, valid 2018 to 2049), DER. SHA-256
/// `44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3`.
pub const INTEL_SGX_ROOT_CA_DER: &[u8] = include_bytes!("../roots/intel_sgx_root_ca.der");

/// TCB statuses accepted unless configured otherwise: the platform is patched; configuration
/// or software hardening advice is reported in the claims for the relying party to weigh.
pub const DEFAULT_ACCEPTED_TCB_STATUSES: [&str; 4] = [
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
];

/// Collateral with a large PCK CRL is tens of KiB; a megabyte is far beyond any real one.
const MAX_ENVELOPE_LEN: usize = 1024 * 1024;
/// Quotes with a PCK chain are about 5 KiB (some tools pad them to 8000 bytes).
const MAX_QUOTE_LEN: usize = 64 * 1024;
const TEE_TYPE_SGX: u32 = 0x00;
const TEE_TYPE_TDX: u32 = 0x81;

/// The DCAP evidence envelope.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcapEvidence {
    /// The quote, hex.
    pub quote: String,
    /// Collateral for the quote's FMSPC, as fetched from Intel PCS or a PCCS.
    pub collateral: QuoteCollateralV3,
}

impl DcapEvidence {
    pub fn new(quote: &[u8], collateral: QuoteCollateralV3) -> Self {
        Self {
            quote: hex::encode(quote),
            collateral,
        }
    }

    /// The envelope as the bytes a verifier takes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Strings and byte vectors always serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Parses an envelope into the raw quote and its collateral.
pub fn parse_evidence(evidence: &[u8]) -> Result<(Vec<u8>, QuoteCollateralV3), EvidenceError> {
    if evidence.len() > MAX_ENVELOPE_LEN {
        return Err(EvidenceError::Malformed(format!(
            "DCAP evidence is {} bytes, more than {MAX_ENVELOPE_LEN}",
            evidence.len()
        )));
    }
    let env: DcapEvidence = serde_json::from_slice(evidence)
        .map_err(|e| EvidenceError::Malformed(format!("DCAP evidence envelope: {e}")))?;
    if env.quote.len() > 2 * MAX_QUOTE_LEN {
        return Err(EvidenceError::Malformed(format!(
            "DCAP quote is more than {MAX_QUOTE_LEN} bytes"
        )));
    }
    let quote = hex::decode(env.quote.trim())
        .map_err(|e| EvidenceError::Malformed(format!("DCAP `quote` is not hex: {e}")))?;
    Ok((quote, env.collateral))
}

/// Reads the quote header's TEE type: which platform made the quote.
pub fn quote_platform(quote: &[u8]) -> Result<Platform, EvidenceError> {
    let Some(header) = quote.get(..8) else {
        return Err(EvidenceError::Malformed(format!(
            "DCAP quote is {} bytes, shorter than its header",
            quote.len()
        )));
    };
    let version = u16::from_le_bytes([header[0], header[1]]);
    let tee_type = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    match (version, tee_type) {
        (3, TEE_TYPE_SGX) => Ok(Platform::Sgx),
        (4 | 5, TEE_TYPE_TDX) => Ok(Platform::Tdx),
        (4 | 5, TEE_TYPE_SGX) => Ok(Platform::Sgx),
        _ => Err(EvidenceError::Malformed(format!(
            "DCAP quote version {version} with TEE type {tee_type:#x} is not supported"
        ))),
    }
}

/// Sorts `dcap-qvl`'s error (a context chain of messages) into the check that failed.
fn classify(err: &impl std::fmt::Display) -> EvidenceError {
    let msg = format!("{err:#}");
    let lower = msg.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if has(&["debug mode"]) {
        EvidenceError::Debug(msg)
    } else if has(&[
        "expired",
        "in the future",
        "not valid yet",
        "notvalidyet",
        "time window",
        "nextupdate",
    ]) {
        EvidenceError::Expired(msg)
    } else if has(&["tcb level", "tcb status", "isvsvn", "revoked"]) {
        EvidenceError::Tcb(msg)
    } else if has(&["signature is invalid", "signature"]) {
        EvidenceError::BadSignature(msg)
    } else if has(&[
        "crl",
        "tcb info",
        "tcbinfo",
        "qe identity",
        "qeidentity",
        "fmspc",
        "collateral",
    ]) {
        EvidenceError::Collateral(msg)
    } else if has(&["certificate", "chain", "issuer", "root ca", "pck"]) {
        EvidenceError::BadChain(msg)
    } else if has(&[
        "decode",
        "parse",
        "unsupported",
        "invalid",
        "unknown",
        "too short",
    ]) {
        EvidenceError::Malformed(msg)
    } else {
        EvidenceError::Collateral(msg)
    }
}

/// Checks DCAP quotes for one platform (TDX or SGX).
pub struct DcapVerifier {
    platform: Platform,
    root_ca_der: Vec<u8>,
    accepted: Vec<String>,
    allow_debug: bool,
}

impl DcapVerifier {
    pub fn new(
        platform: Platform,
        config: &DcapConfig,
        allow_debug: bool,
    ) -> Result<Self, EvidenceError> {
        if !matches!(platform, Platform::Tdx | Platform::Sgx) {
            return Err(EvidenceError::Unsupported(platform));
        }
        let root_ca_der = match &config.root_ca_pem {
            Some(pem) => {
                let mut certs = pki::pem_certs(pem.as_bytes(), "DCAP root CA")
                    .map_err(|e| EvidenceError::Config(e.to_string()))?;
                if certs.len() != 1 {
                    return Err(EvidenceError::Config(format!(
                        "DCAP root CA PEM holds {} certificates, expected one",
                        certs.len()
                    )));
                }
                certs.remove(0)
            }
            None => INTEL_SGX_ROOT_CA_DER.to_vec(),
        };
        pki::parse_cert(&root_ca_der, "DCAP root CA")
            .map_err(|e| EvidenceError::Config(e.to_string()))?;
        let accepted = config.accepted_tcb_statuses.clone().unwrap_or_else(|| {
            DEFAULT_ACCEPTED_TCB_STATUSES
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        });
        Ok(Self {
            platform,
            root_ca_der,
            accepted,
            allow_debug,
        })
    }
}

fn td_claims(td: &dcap_qvl::quote::TDReport10, details: &mut Vec<(String, String)>) -> bool {
    for (name, value) in [
        ("mr_seam", &td.mr_seam[..]),
        ("mr_config_id", &td.mr_config_id[..]),
        ("mr_owner", &td.mr_owner[..]),
        ("mr_owner_config", &td.mr_owner_config[..]),
        ("rtmr0", &td.rt_mr0[..]),
        ("rtmr1", &td.rt_mr1[..]),
        ("rtmr2", &td.rt_mr2[..]),
        ("rtmr3", &td.rt_mr3[..]),
        ("tee_tcb_svn", &td.tee_tcb_svn[..]),
        ("td_attributes", &td.td_attributes[..]),
    ] {
        details.push((name.to_owned(), hex::encode(value)));
    }
    // TUD.DEBUG: the host can read and write the TD's memory.
    td.td_attributes[0] & 0x01 != 0
}

impl Verifier for DcapVerifier {
    fn platform(&self) -> Platform {
        self.platform
    }

    fn verify(&self, evidence: &[u8], now: UnixTime) -> Result<Claims, EvidenceError> {
        let (quote, collateral) = parse_evidence(evidence)?;
        let made_by = quote_platform(&quote)?;
        if made_by != self.platform {
            return Err(EvidenceError::Malformed(format!(
                "quote was made by {made_by}, not {}",
                self.platform
            )));
        }
        let verified = QuoteVerifier::new(self.root_ca_der.clone())
            .allow_debug(self.allow_debug)
            .verify(&quote, &collateral, now)
            .map_err(|e| classify(&e))?;

        let mut details = Vec::new();
        if !verified.advisory_ids.is_empty() {
            details.push(("advisory_ids".to_owned(), verified.advisory_ids.join(",")));
        }
        let (measurement, report_data, debug) = match &verified.report {
            Report::SgxEnclave(e) => {
                details.push(("mr_signer".to_owned(), hex::encode(e.mr_signer)));
                details.push(("isv_prod_id".to_owned(), e.isv_prod_id.to_string()));
                details.push(("isv_svn".to_owned(), e.isv_svn.to_string()));
                // ATTRIBUTES.DEBUG.
                let debug = e.attributes[0] & 0x02 != 0;
                (e.mr_enclave.to_vec(), e.report_data.to_vec(), debug)
            }
            Report::TD10(td) => {
                let debug = td_claims(td, &mut details);
                (td.mr_td.to_vec(), td.report_data.to_vec(), debug)
            }
            Report::TD15(td) => {
                let debug = td_claims(&td.base, &mut details);
                details.push(("mr_service_td".to_owned(), hex::encode(td.mr_service_td)));
                (td.base.mr_td.to_vec(), td.base.report_data.to_vec(), debug)
            }
            Report::TD15Ex(td) => {
                let debug = td_claims(&td.base.base, &mut details);
                details.push((
                    "mr_service_td".to_owned(),
                    hex::encode(td.base.mr_service_td),
                ));
                (
                    td.base.base.mr_td.to_vec(),
                    td.base.base.report_data.to_vec(),
                    debug,
                )
            }
        };
        if debug && !self.allow_debug {
            return Err(EvidenceError::Debug(format!(
                "{} quote comes from a debug isolate",
                self.platform
            )));
        }
        if !self.accepted.contains(&verified.status) {
            let advisories = if verified.advisory_ids.is_empty() {
                String::new()
            } else {
                format!(" (advisories {})", verified.advisory_ids.join(", "))
            };
            return Err(EvidenceError::Tcb(format!(
                "TCB status {}{advisories} is not one of the accepted {:?}",
                verified.status, self.accepted
            )));
        }
        tracing::debug!(platform = %self.platform, status = %verified.status, "DCAP quote verified");
        Ok(Claims {
            platform: self.platform,
            measurement,
            report_data,
            debug,
            tcb_status: Some(verified.status),
            details,
        })
    }
}
