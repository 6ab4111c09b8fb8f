//! AMD SEV-SNP attestation reports.
//!
//! Evidence is a JSON envelope (see `docs/PLATFORMS.md`) carrying the 1184-byte report, the
//! VCEK or VLEK certificate that signed it and optionally the AMD CA certificates. The report
//! is signed with ECDSA P-384/SHA-384 over bytes `0..0x2A0`; the VCEK chains to the ASK and the
//! VLEK to the ASVK, both issued by the ARK of the processor family, which is pinned here.

use ring::signature::{UnparsedPublicKey, ECDSA_P384_SHA384_FIXED};
use serde::{Deserialize, Serialize};
use x509_parser::certificate::X509Certificate;

use crate::config::{SnpConfig, SnpMinTcb};
use crate::pki;
use crate::{Claims, EvidenceError, Platform, UnixTime, Verifier};

/// AMD's KDS `cert_chain` bundles (ASK or ASVK, then ARK) for every family we accept. The ARKs
/// are the trust anchors; the ASKs/ASVKs are intermediates that evidence need not carry.
pub const AMD_CA_BUNDLES_PEM: [&str; 6] = [
    include_str!("../roots/amd/amd_ask_ark_milan.pem"),
    include_str!("../roots/amd/amd_ask_ark_milan_vlek.pem"),
    include_str!("../roots/amd/amd_ask_ark_genoa.pem"),
    include_str!("../roots/amd/amd_ask_ark_genoa_vlek.pem"),
    include_str!("../roots/amd/amd_ask_ark_turin_vcek.pem"),
    include_str!("../roots/amd/amd_ask_ark_turin_vlek.pem"),
];

/// Size of an attestation report (versions 2 to 5 share the layout we read).
pub const REPORT_LEN: usize = 1184;
/// The signature covers every byte before it.
const SIGNED_LEN: usize = 0x2A0;
/// Envelopes are a few KiB; anything much larger is not ours.
const MAX_ENVELOPE_LEN: usize = 64 * 1024;

const POLICY_DEBUG_BIT: u64 = 1 << 19;
const OID_PRODUCT_NAME: &str = "1.3.6.1.4.1.3704.1.2";
const OID_BL_SPL: &str = "1.3.6.1.4.1.3704.1.3.1";
const OID_TEE_SPL: &str = "1.3.6.1.4.1.3704.1.3.2";
const OID_SNP_SPL: &str = "1.3.6.1.4.1.3704.1.3.3";
const OID_UCODE_SPL: &str = "1.3.6.1.4.1.3704.1.3.8";
const OID_FMC_SPL: &str = "1.3.6.1.4.1.3704.1.3.9";
const OID_HW_ID: &str = "1.3.6.1.4.1.3704.1.4";

/// The SEV-SNP evidence envelope.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SnpEvidence {
    /// The attestation report, hex.
    pub report: String,
    /// The VCEK or VLEK certificate (DER, hex) whose key signed the report.
    pub endorsement_key: String,
    /// Optional PEM with the ASK or ASVK (and ARK). Only certificates that chain to a pinned
    /// ARK are used, so supplying them adds no trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_chain: Option<String>,
}

impl SnpEvidence {
    /// Builds an envelope from raw bytes.
    pub fn new(report: &[u8], endorsement_key_der: &[u8], ca_chain_pem: Option<&str>) -> Self {
        Self {
            report: hex::encode(report),
            endorsement_key: hex::encode(endorsement_key_der),
            ca_chain: ca_chain_pem.map(str::to_owned),
        }
    }

    /// The envelope as the bytes a verifier takes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain strings into JSON cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A platform's trusted computing base version as the report encodes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SnpTcb {
    pub fmc: Option<u8>,
    pub boot_loader: u8,
    pub tee: u8,
    pub snp: u8,
    pub microcode: u8,
}

impl SnpTcb {
    /// Decodes a TCB_VERSION; Turin moved the fields to make room for the FMC version.
    pub fn decode(raw: u64, turin: bool) -> Self {
        let b = raw.to_le_bytes();
        if turin {
            Self {
                fmc: Some(b[0]),
                boot_loader: b[1],
                tee: b[2],
                snp: b[3],
                microcode: b[7],
            }
        } else {
            Self {
                fmc: None,
                boot_loader: b[0],
                tee: b[1],
                snp: b[6],
                microcode: b[7],
            }
        }
    }

    fn meets(&self, min: &SnpMinTcb) -> Result<(), String> {
        let checks = [
            ("boot loader", self.boot_loader, min.boot_loader),
            ("TEE", self.tee, min.tee),
            ("SNP firmware", self.snp, min.snp),
            ("microcode", self.microcode, min.microcode),
            ("FMC", self.fmc.unwrap_or(u8::MAX), min.fmc),
        ];
        for (name, have, want) in checks {
            if have < want {
                return Err(format!("{name} SVN {have} is below the minimum {want}"));
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for SnpTcb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(fmc) = self.fmc {
            write!(f, "fmc={fmc} ")?;
        }
        write!(
            f,
            "bl={} tee={} snp={} ucode={}",
            self.boot_loader, self.tee, self.snp, self.microcode
        )
    }
}

/// The fields of a report that verification uses.
#[derive(Clone, Debug)]
pub struct SnpReport {
    pub version: u32,
    pub guest_svn: u32,
    pub policy: u64,
    pub vmpl: u32,
    pub signature_algo: u32,
    /// 0 = VCEK, 1 = VLEK (report versions from 3; zero, meaning VCEK, before).
    pub signing_key: u8,
    pub mask_chip_id: bool,
    pub report_data: [u8; 64],
    pub measurement: [u8; 48],
    pub host_data: [u8; 32],
    pub reported_tcb: u64,
    pub chip_id: [u8; 64],
    /// `r ‖ s`, big-endian, 48 bytes each.
    pub signature: [u8; 96],
    bytes: Vec<u8>,
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[at..at + N]);
    a
}

/// Converts a 72-byte little-endian signature component to 48 big-endian bytes.
fn sig_component(le: &[u8]) -> Result<[u8; 48], EvidenceError> {
    if le[48..].iter().any(|b| *b != 0) {
        return Err(EvidenceError::BadSignature(
            "report signature component is wider than P-384".into(),
        ));
    }
    let mut be = [0u8; 48];
    for (i, b) in le[..48].iter().enumerate() {
        be[47 - i] = *b;
    }
    Ok(be)
}

impl SnpReport {
    /// Parses a report. Only the length and the version are checked here.
    pub fn parse(bytes: &[u8]) -> Result<Self, EvidenceError> {
        if bytes.len() != REPORT_LEN {
            return Err(EvidenceError::Malformed(format!(
                "SEV-SNP report is {} bytes, not {REPORT_LEN}",
                bytes.len()
            )));
        }
        let version = le_u32(bytes, 0);
        if !(2..=5).contains(&version) {
            return Err(EvidenceError::Malformed(format!(
                "SEV-SNP report version {version} is not supported (2 to 5 are)"
            )));
        }
        let key_info = le_u32(bytes, 0x48);
        let r = sig_component(&bytes[0x2A0..0x2A0 + 72])?;
        let s = sig_component(&bytes[0x2A0 + 72..0x2A0 + 144])?;
        let mut signature = [0u8; 96];
        signature[..48].copy_from_slice(&r);
        signature[48..].copy_from_slice(&s);
        Ok(Self {
            version,
            guest_svn: le_u32(bytes, 0x04),
            policy: le_u64(bytes, 0x08),
            vmpl: le_u32(bytes, 0x30),
            signature_algo: le_u32(bytes, 0x34),
            signing_key: ((key_info >> 2) & 0x7) as u8,
            mask_chip_id: key_info & 0x2 != 0,
            report_data: array(bytes, 0x50),
            measurement: array(bytes, 0x90),
            host_data: array(bytes, 0xC0),
            reported_tcb: le_u64(bytes, 0x180),
            chip_id: array(bytes, 0x1A0),
            signature,
            bytes: bytes.to_vec(),
        })
    }

    /// The bytes the signature covers.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.bytes[..SIGNED_LEN]
    }

    /// Whether the guest policy lets the hypervisor debug (read and write) the guest.
    pub fn debug_allowed(&self) -> bool {
        self.policy & POLICY_DEBUG_BIT != 0
    }
}

/// Parses the envelope and the report in it.
pub fn parse_evidence(
    evidence: &[u8],
) -> Result<(SnpReport, Vec<u8>, Option<String>), EvidenceError> {
    if evidence.len() > MAX_ENVELOPE_LEN {
        return Err(EvidenceError::Malformed(format!(
            "SEV-SNP evidence is {} bytes, more than {MAX_ENVELOPE_LEN}",
            evidence.len()
        )));
    }
    let env: SnpEvidence = serde_json::from_slice(evidence)
        .map_err(|e| EvidenceError::Malformed(format!("SEV-SNP evidence envelope: {e}")))?;
    let report = hex::decode(env.report.trim())
        .map_err(|e| EvidenceError::Malformed(format!("SEV-SNP `report` is not hex: {e}")))?;
    let key = hex::decode(env.endorsement_key.trim()).map_err(|e| {
        EvidenceError::Malformed(format!("SEV-SNP `endorsement_key` is not hex: {e}"))
    })?;
    Ok((SnpReport::parse(&report)?, key, env.ca_chain))
}

/// Reads a small DER INTEGER (an SPL in an AMD certificate extension).
fn der_small_int(v: &[u8], what: &str) -> Result<u8, EvidenceError> {
    let bad = || {
        EvidenceError::BadChain(format!(
            "endorsement key extension {what} is not a small integer"
        ))
    };
    match v {
        [0x02, 1, x] if *x < 0x80 => Ok(*x),
        [0x02, 2, 0, x] if *x >= 0x80 => Ok(*x),
        _ => Err(bad()),
    }
}

/// Checks the endorsement key's TCB extensions against the report's `REPORTED_TCB`: AMD derives
/// a VCEK per TCB version, so a mismatch means the certificate is for another TCB.
fn check_cert_tcb(cert: &X509Certificate<'_>, tcb: &SnpTcb) -> Result<(), EvidenceError> {
    let pairs = [
        (OID_BL_SPL, "blSPL", Some(tcb.boot_loader)),
        (OID_TEE_SPL, "teeSPL", Some(tcb.tee)),
        (OID_SNP_SPL, "snpSPL", Some(tcb.snp)),
        (OID_UCODE_SPL, "ucodeSPL", Some(tcb.microcode)),
        (OID_FMC_SPL, "fmcSPL", tcb.fmc),
    ];
    for (oid, name, want) in pairs {
        let (Some(raw), Some(want)) = (pki::extension(cert, oid), want) else {
            continue;
        };
        let have = der_small_int(raw, name)?;
        if have != want {
            return Err(EvidenceError::BadChain(format!(
                "endorsement key is for {name} {have} but the report's reported TCB has {want}"
            )));
        }
    }
    Ok(())
}

/// Checks a VCEK's hardware ID against the report's CHIP_ID.
fn check_hwid(cert: &X509Certificate<'_>, report: &SnpReport) -> Result<(), EvidenceError> {
    let Some(raw) = pki::extension(cert, OID_HW_ID) else {
        return Err(EvidenceError::BadChain("VCEK has no hwID extension".into()));
    };
    let hwid = match raw {
        [0x04, len, rest @ ..] if usize::from(*len) == rest.len() => rest,
        other => other,
    };
    if hwid.is_empty() || hwid.len() > 64 {
        return Err(EvidenceError::BadChain(format!(
            "VCEK hwID is {} bytes",
            hwid.len()
        )));
    }
    if report.mask_chip_id {
        return Ok(());
    }
    let (head, tail) = report.chip_id.split_at(hwid.len());
    if head != hwid || tail.iter().any(|b| *b != 0) {
        return Err(EvidenceError::BadChain(
            "VCEK hwID does not match the report's CHIP_ID".into(),
        ));
    }
    Ok(())
}

/// Checks SEV-SNP evidence envelopes.
pub struct SnpVerifier {
    anchors: Vec<Vec<u8>>,
    intermediates: Vec<Vec<u8>>,
    min_tcb: SnpMinTcb,
    allow_debug: bool,
}

impl SnpVerifier {
    pub fn new(config: &SnpConfig, allow_debug: bool) -> Result<Self, EvidenceError> {
        let mut anchors = Vec::new();
        let mut intermediates = Vec::new();
        let bundles: Vec<&str> = match &config.ca_bundles_pem {
            Some(custom) => custom.iter().map(String::as_str).collect(),
            None => AMD_CA_BUNDLES_PEM.to_vec(),
        };
        for pem in bundles {
            for der in pki::pem_certs(pem.as_bytes(), "AMD CA bundle")
                .map_err(|e| EvidenceError::Config(e.to_string()))?
            {
                let cert = pki::parse_cert(&der, "AMD CA")
                    .map_err(|e| EvidenceError::Config(e.to_string()))?;
                let self_signed = cert.subject().as_raw() == cert.issuer().as_raw();
                let list = if self_signed {
                    &mut anchors
                } else {
                    &mut intermediates
                };
                if !list.contains(&der) {
                    list.push(der);
                }
            }
        }
        if anchors.is_empty() {
            return Err(EvidenceError::Config(
                "no AMD root key (ARK) among the configured SEV-SNP CA bundles".into(),
            ));
        }
        Ok(Self {
            anchors,
            intermediates,
            min_tcb: config.min_tcb,
            allow_debug,
        })
    }
}

impl SnpVerifier {
    /// Checks an endorsement key (VCEK or VLEK, DER) up to a pinned ARK at `now`, with optional
    /// extra CA certificates (PEM); returns the ARK's common name (`ARK-Milan`, ...).
    pub fn verify_endorsement_key(
        &self,
        der: &[u8],
        ca_chain_pem: Option<&str>,
        now: UnixTime,
    ) -> Result<String, EvidenceError> {
        let leaf = pki::parse_cert(der, "SEV-SNP endorsement key")?;
        self.chain_to_ark(&leaf, ca_chain_pem, now)
    }

    fn chain_to_ark(
        &self,
        leaf: &X509Certificate<'_>,
        ca_chain_pem: Option<&str>,
        now: UnixTime,
    ) -> Result<String, EvidenceError> {
        let extra = match ca_chain_pem {
            Some(pem) => pki::pem_certs(pem.as_bytes(), "SEV-SNP `ca_chain`")?,
            None => Vec::new(),
        };
        let mut intermediates = self
            .intermediates
            .iter()
            .map(|d| pki::parse_cert(d, "AMD CA"))
            .collect::<Result<Vec<_>, _>>()?;
        for der in &extra {
            let cert = pki::parse_cert(der, "SEV-SNP `ca_chain`")?;
            // Self-signed certificates in the envelope are ignored: roots come from the config.
            if cert.subject().as_raw() != cert.issuer().as_raw() {
                intermediates.push(cert);
            }
        }
        let anchors = self
            .anchors
            .iter()
            .map(|d| pki::parse_cert(d, "AMD ARK"))
            .collect::<Result<Vec<_>, _>>()?;
        let anchor = pki::verify_path(leaf, &intermediates, &anchors, now)?;
        let name = anchors[anchor]
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .unwrap_or("")
            .to_owned();
        Ok(name)
    }
}

impl Verifier for SnpVerifier {
    fn platform(&self) -> Platform {
        Platform::SevSnp
    }

    fn verify(&self, evidence: &[u8], now: UnixTime) -> Result<Claims, EvidenceError> {
        let (report, key_der, ca_chain) = parse_evidence(evidence)?;
        if report.signature_algo != 1 {
            return Err(EvidenceError::BadSignature(format!(
                "report signature algorithm {} is not ECDSA P-384 with SHA-384 (1)",
                report.signature_algo
            )));
        }
        let leaf = pki::parse_cert(&key_der, "SEV-SNP endorsement key")?;

        let ark_name = self.chain_to_ark(&leaf, ca_chain.as_deref(), now)?;
        let turin = ark_name.contains("Turin");

        let is_vlek = leaf
            .issuer()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .any(|cn| cn.contains("VLEK"));
        match (report.signing_key, is_vlek) {
            (0, false) | (1, true) => {}
            (k, vlek) => {
                return Err(EvidenceError::BadChain(format!(
                    "report says it is signed by key type {k} (0 = VCEK, 1 = VLEK) but the certificate is a {}",
                    if vlek { "VLEK" } else { "VCEK" }
                )))
            }
        }

        let (kind, key) = pki::spki_key(leaf.public_key())?;
        if kind != pki::KeyKind::P384 {
            return Err(EvidenceError::BadSignature(format!(
                "endorsement key is {kind:?}, not P-384"
            )));
        }
        UnparsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, key)
            .verify(report.signed_bytes(), &report.signature)
            .map_err(|_| {
                EvidenceError::BadSignature(
                    "SEV-SNP report signature does not verify with the endorsement key".into(),
                )
            })?;

        let tcb = SnpTcb::decode(report.reported_tcb, turin);
        check_cert_tcb(&leaf, &tcb)?;
        if !is_vlek {
            check_hwid(&leaf, &report)?;
        }
        tcb.meets(&self.min_tcb).map_err(EvidenceError::Tcb)?;

        let debug = report.debug_allowed();
        if debug && !self.allow_debug {
            return Err(EvidenceError::Debug(
                "SEV-SNP guest policy allows debugging (policy bit 19)".into(),
            ));
        }

        let product = pki::extension(&leaf, OID_PRODUCT_NAME)
            .and_then(|v| match v {
                [0x16, len, rest @ ..] if usize::from(*len) == rest.len() => {
                    std::str::from_utf8(rest).ok()
                }
                _ => None,
            })
            .unwrap_or("")
            .to_owned();
        let details = vec![
            ("report_version".to_owned(), report.version.to_string()),
            (
                "signing_key".to_owned(),
                if is_vlek { "VLEK" } else { "VCEK" }.to_owned(),
            ),
            ("root".to_owned(), ark_name),
            ("product".to_owned(), product),
            ("reported_tcb".to_owned(), tcb.to_string()),
            ("guest_svn".to_owned(), report.guest_svn.to_string()),
            ("policy".to_owned(), format!("{:#x}", report.policy)),
            ("vmpl".to_owned(), report.vmpl.to_string()),
            ("host_data".to_owned(), hex::encode(report.host_data)),
        ];
        tracing::debug!(version = report.version, "SEV-SNP report verified");
        Ok(Claims {
            platform: Platform::SevSnp,
            measurement: report.measurement.to_vec(),
            report_data: report.report_data.to_vec(),
            debug,
            tcb_status: None,
            details,
        })
    }
}
