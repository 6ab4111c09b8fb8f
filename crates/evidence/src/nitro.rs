//! AWS Nitro Enclaves attestation documents.
//!
//! Evidence is the attestation document exactly as `/dev/nsm` returns it: a COSE_Sign1 (ES384)
//! whose payload is a CBOR map carrying the enclave's PCRs, a certificate for the signing key,
//! the CA bundle from the AWS Nitro root down, and optional `user_data`, `nonce` and
//! `public_key`. See `docs/PLATFORMS.md`.

use ciborium::value::Value;
use x509_parser::certificate::X509Certificate;

use crate::cose::{self, as_bytes, as_i64, as_map, as_text, map_get, text_key};
use crate::pki;
use crate::{Claims, EvidenceError, Platform, UnixTime, Verifier};

/// The AWS Nitro Enclaves Root-G1 certificate (SHA-256 of its DER
/// `641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b`, as AWS publishes it).
pub const AWS_NITRO_ROOT_G1_PEM: &str = include_str!("../roots/aws_nitro_enclaves_root_g1.pem");

/// Real documents are about 5 KiB; the NSM caps user data, nonce and key at 1 KiB each.
const MAX_DOC_LEN: usize = 32 * 1024;
const MAX_USER_FIELD_LEN: usize = 1024;
const MAX_PCRS: usize = 32;
const MAX_CABUNDLE: usize = 8;

/// Checks Nitro attestation documents against pinned roots.
pub struct NitroVerifier {
    anchors: Vec<Vec<u8>>,
    allow_debug: bool,
}

impl NitroVerifier {
    /// `anchors_pem`: the roots to accept (normally [`AWS_NITRO_ROOT_G1_PEM`]).
    pub fn new(anchors_pem: &str, allow_debug: bool) -> Result<Self, EvidenceError> {
        let anchors = pki::pem_certs(anchors_pem.as_bytes(), "Nitro trust anchors")
            .map_err(|e| EvidenceError::Config(e.to_string()))?;
        if anchors.is_empty() {
            return Err(EvidenceError::Config(
                "Nitro trust anchors: no certificate in the PEM".into(),
            ));
        }
        for a in &anchors {
            pki::parse_cert(a, "Nitro trust anchor")
                .map_err(|e| EvidenceError::Config(e.to_string()))?;
        }
        Ok(Self {
            anchors,
            allow_debug,
        })
    }
}

/// The fields of a Nitro attestation document that we use.
#[derive(Debug)]
pub struct NitroDocument {
    pub module_id: String,
    pub digest: String,
    pub timestamp_ms: u64,
    /// PCR index and value, in document order.
    pub pcrs: Vec<(u8, Vec<u8>)>,
    pub certificate: Vec<u8>,
    pub cabundle: Vec<Vec<u8>>,
    pub public_key: Option<Vec<u8>>,
    pub user_data: Option<Vec<u8>>,
    pub nonce: Option<Vec<u8>>,
}

fn optional_bytes(map: &[(Value, Value)], key: &str) -> Result<Option<Vec<u8>>, EvidenceError> {
    match map_get(map, &text_key(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let b = as_bytes(v, key)?;
            if b.len() > MAX_USER_FIELD_LEN {
                return Err(EvidenceError::Malformed(format!(
                    "Nitro `{key}` is {} bytes, more than {MAX_USER_FIELD_LEN}",
                    b.len()
                )));
            }
            Ok(Some(b.to_vec()))
        }
    }
}

fn required<'a>(map: &'a [(Value, Value)], key: &str) -> Result<&'a Value, EvidenceError> {
    map_get(map, &text_key(key))
        .ok_or_else(|| EvidenceError::Malformed(format!("Nitro document has no `{key}`")))
}

/// Parses a document payload (the COSE_Sign1 payload bytes).
pub fn parse_payload(payload: &[u8]) -> Result<NitroDocument, EvidenceError> {
    let value = cose::decode(payload, MAX_DOC_LEN, "Nitro document payload")?;
    let map = as_map(&value, "Nitro document payload")?;
    let module_id = as_text(required(map, "module_id")?, "module_id")?.to_owned();
    if module_id.is_empty() {
        return Err(EvidenceError::Malformed(
            "Nitro `module_id` is empty".into(),
        ));
    }
    let digest = as_text(required(map, "digest")?, "digest")?.to_owned();
    let timestamp = as_i64(required(map, "timestamp")?, "timestamp")?;
    let timestamp_ms = u64::try_from(timestamp)
        .map_err(|_| EvidenceError::Malformed("Nitro `timestamp` is negative".into()))?;
    let pcr_map = as_map(required(map, "pcrs")?, "pcrs")?;
    if pcr_map.is_empty() || pcr_map.len() > MAX_PCRS {
        return Err(EvidenceError::Malformed(format!(
            "Nitro document has {} PCRs; expected 1..={MAX_PCRS}",
            pcr_map.len()
        )));
    }
    let mut pcrs = Vec::with_capacity(pcr_map.len());
    for (k, v) in pcr_map {
        let index = as_i64(k, "PCR index")?;
        let index = u8::try_from(index)
            .ok()
            .filter(|i| usize::from(*i) < MAX_PCRS)
            .ok_or_else(|| EvidenceError::Malformed(format!("PCR index {index} out of range")))?;
        let value = as_bytes(v, "PCR value")?;
        if ![32, 48, 64].contains(&value.len()) {
            return Err(EvidenceError::Malformed(format!(
                "PCR{index} is {} bytes; expected 32, 48 or 64",
                value.len()
            )));
        }
        if pcrs.iter().any(|(i, _)| *i == index) {
            return Err(EvidenceError::Malformed(format!(
                "PCR{index} appears twice"
            )));
        }
        pcrs.push((index, value.to_vec()));
    }
    let certificate = as_bytes(required(map, "certificate")?, "certificate")?.to_vec();
    let bundle = match required(map, "cabundle")? {
        Value::Array(items) => items,
        _ => {
            return Err(EvidenceError::Malformed(
                "Nitro `cabundle` is not an array".into(),
            ))
        }
    };
    if bundle.is_empty() || bundle.len() > MAX_CABUNDLE {
        return Err(EvidenceError::Malformed(format!(
            "Nitro `cabundle` has {} certificates; expected 1..={MAX_CABUNDLE}",
            bundle.len()
        )));
    }
    let cabundle = bundle
        .iter()
        .map(|c| as_bytes(c, "cabundle entry").map(<[u8]>::to_vec))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NitroDocument {
        module_id,
        digest,
        timestamp_ms,
        pcrs,
        certificate,
        cabundle,
        public_key: optional_bytes(map, "public_key")?,
        user_data: optional_bytes(map, "user_data")?,
        nonce: optional_bytes(map, "nonce")?,
    })
}

impl Verifier for NitroVerifier {
    fn platform(&self) -> Platform {
        Platform::Nitro
    }

    fn verify(&self, evidence: &[u8], now: UnixTime) -> Result<Claims, EvidenceError> {
        let sign1 = cose::parse_sign1(evidence, MAX_DOC_LEN, "Nitro attestation document")?;
        if sign1.alg != cose::ALG_ES384 {
            return Err(EvidenceError::BadSignature(format!(
                "Nitro documents are signed with ES384 (-35), this one claims {}",
                sign1.alg
            )));
        }
        let doc = parse_payload(&sign1.payload)?;
        if doc.digest != "SHA384" {
            return Err(EvidenceError::Malformed(format!(
                "Nitro digest is `{}`, not SHA384",
                doc.digest
            )));
        }

        // Chain: cabundle[0] is the root, each next certificate is issued by the previous one,
        // and the signing certificate is issued by the last.
        let leaf = pki::parse_cert(&doc.certificate, "Nitro signing")?;
        let bundle = doc
            .cabundle
            .iter()
            .map(|c| pki::parse_cert(c, "Nitro cabundle"))
            .collect::<Result<Vec<_>, _>>()?;
        let anchors = self
            .anchors
            .iter()
            .map(|a| pki::parse_cert(a, "Nitro trust anchor"))
            .collect::<Result<Vec<X509Certificate<'_>>, _>>()?;
        if !anchors.iter().any(|a| pki::same_anchor(a, &bundle[0])) {
            return Err(EvidenceError::BadChain(format!(
                "cabundle root `{}` is not a configured Nitro trust anchor",
                bundle[0].subject()
            )));
        }
        pki::check_validity(&bundle[0], now)?;
        for pair in bundle.windows(2) {
            pki::verify_issued_by(&pair[1], &pair[0])?;
            pki::check_validity(&pair[1], now)?;
        }
        pki::verify_issued_by(&leaf, &bundle[bundle.len() - 1])?;
        pki::check_validity(&leaf, now)?;

        let (kind, key) = pki::spki_key(leaf.public_key())?;
        if kind != pki::KeyKind::P384 {
            return Err(EvidenceError::BadSignature(format!(
                "Nitro signing key is {kind:?}, not P-384"
            )));
        }
        sign1.verify_ec(key, "Nitro attestation document")?;

        // The document must have been made while its one-off signing certificate was valid.
        let made = i64::try_from(doc.timestamp_ms / 1000).unwrap_or(i64::MAX);
        let validity = leaf.validity();
        if made < validity.not_before.timestamp() || made > validity.not_after.timestamp() {
            return Err(EvidenceError::Expired(format!(
                "document timestamp {} ms lies outside its signing certificate's validity",
                doc.timestamp_ms
            )));
        }

        let pcr0 = doc
            .pcrs
            .iter()
            .find(|(i, _)| *i == 0)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| EvidenceError::Malformed("Nitro document has no PCR0".into()))?;
        // The NSM reports all-zero PCRs for enclaves started with --debug-mode, whose memory
        // and console the parent instance can read.
        let debug = pcr0.iter().all(|b| *b == 0);
        if debug && !self.allow_debug {
            return Err(EvidenceError::Debug(
                "Nitro enclave runs in debug mode (PCR0 is all zeros)".into(),
            ));
        }

        let mut details = vec![
            ("module_id".to_owned(), doc.module_id.clone()),
            ("timestamp_ms".to_owned(), doc.timestamp_ms.to_string()),
        ];
        for (i, v) in &doc.pcrs {
            if v.iter().any(|b| *b != 0) || *i <= 2 {
                details.push((format!("pcr{i}"), hex::encode(v)));
            }
        }
        if let Some(n) = &doc.nonce {
            details.push(("nonce".to_owned(), hex::encode(n)));
        }
        if let Some(k) = &doc.public_key {
            details.push(("public_key".to_owned(), hex::encode(k)));
        }
        tracing::debug!(module_id = %doc.module_id, "Nitro attestation document verified");
        Ok(Claims {
            platform: Platform::Nitro,
            measurement: pcr0,
            report_data: doc.user_data.unwrap_or_default(),
            debug,
            tcb_status: None,
            details,
        })
    }
}
