//! Offline verification of the receipts a runtime signs after each run.
//!
//! A receipt is believed only if its certificate chain passes the same checks a live TLS
//! connection would ([`RuntimeRequirements::check`]), its ECDSA P-256/SHA-256 signature over
//! the body verifies with the attested key, and the body names this policy.

use prost::Message;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use veracruz_attestation::{parse_pem_chain, RuntimeIdentity};
use veracruz_policy::Policy;
use veracruz_protocol::v1::{Receipt, ReceiptBody};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::verify::{AttestationError, RuntimeRequirements};

/// Largest encoded receipt accepted (it travels in one frame).
pub const MAX_RECEIPT_BYTES: usize = veracruz_protocol::MAX_FRAME_BYTES;
/// Largest certificate chain in a receipt.
pub const MAX_RECEIPT_CHAIN_BYTES: usize = 64 * 1024;
/// An ECDSA P-256 DER signature is at most 72 bytes; anything much longer is not one.
pub const MAX_SIGNATURE_BYTES: usize = 128;
/// How far in the future (by the verifier's clock) a receipt's `finished_at` may lie.
pub const RECEIPT_CLOCK_SKEW_SECS: i64 = 300;

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";

/// Why a receipt was not believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("the receipt's {what} is {size} bytes, more than the {max} accepted")]
    TooLarge {
        what: &'static str,
        size: usize,
        max: usize,
    },
    #[error("the receipt does not decode: {0}")]
    Decode(String),
    #[error("the receipt's certificate chain does not parse: {0}")]
    Chain(String),
    #[error("the receipt body does not decode: {0}")]
    Body(String),
    #[error(
        "the receipt says the run finished at {finished_at}, later than now ({now}, Unix seconds)"
    )]
    FromTheFuture { finished_at: i64, now: i64 },
    #[error("the runtime that signed the receipt is not trusted: {0}")]
    Runtime(#[from] AttestationError),
    #[error("the runtime certificate's key is not an ECDSA P-256 key: {0}")]
    UnsupportedKey(String),
    #[error("the receipt signature does not verify with the runtime's attested key")]
    BadSignature,
    #[error("the receipt is for another policy: its body names policy hash {got}, this policy hashes to {expected}")]
    PolicyHashMismatch { expected: String, got: String },
}

/// A receipt that verified, with what was verified about the runtime that signed it.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedReceipt {
    pub body: ReceiptBody,
    pub runtime: RuntimeIdentity,
}

/// Verifies a receipt against `policy` (see [`verify_receipt_with`]); returns its body.
pub fn verify_receipt(
    receipt: &Receipt,
    policy: &Policy,
    now: i64,
) -> Result<ReceiptBody, ReceiptError> {
    let requirements = RuntimeRequirements::from_policy(policy)?;
    verify_receipt_with(receipt, &requirements, now).map(|v| v.body)
}

/// Verifies a receipt, in this order:
///
/// 1. sizes are bounded and the chain parses (its first certificate is the runtime's);
/// 2. the body decodes, to learn `finished_at`, which must not lie more than
///    [`RECEIPT_CLOCK_SKEW_SECS`] after `now` (nothing in the body is relied on yet);
/// 3. the runtime certificate passes [`RuntimeRequirements::check`] **at `finished_at`**, not
///    at `now`: runtime certificates are short-lived, receipts are meant to be checked later,
///    and the runtime's key never leaves the isolate, which forgets it when it exits;
/// 4. the ECDSA P-256/SHA-256 (ASN.1 DER) signature over the body bytes verifies with the
///    certificate's key, which makes `finished_at` and everything else in the body the
///    attested runtime's statement;
/// 5. the body's policy hash is this policy's.
pub fn verify_receipt_with(
    receipt: &Receipt,
    requirements: &RuntimeRequirements,
    now: i64,
) -> Result<VerifiedReceipt, ReceiptError> {
    bounded("body", receipt.body.len(), MAX_RECEIPT_BYTES)?;
    bounded("signature", receipt.signature.len(), MAX_SIGNATURE_BYTES)?;
    bounded(
        "certificate chain",
        receipt.certificate_chain.len(),
        MAX_RECEIPT_CHAIN_BYTES,
    )?;
    let chain = parse_pem_chain(&receipt.certificate_chain)
        .map_err(|e| ReceiptError::Chain(e.to_string()))?;
    let leaf = &chain[0];

    let body = ReceiptBody::decode(receipt.body.as_slice())
        .map_err(|e| ReceiptError::Body(e.to_string()))?;
    let finished_at = i64::try_from(body.finished_at).unwrap_or(i64::MAX);
    if finished_at > now.saturating_add(RECEIPT_CLOCK_SKEW_SECS) {
        return Err(ReceiptError::FromTheFuture { finished_at, now });
    }

    let runtime = requirements.check(leaf, finished_at)?;

    let (_, cert) =
        X509Certificate::from_der(leaf).map_err(|e| ReceiptError::Chain(e.to_string()))?;
    let spki = cert.public_key();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string());
    if spki.algorithm.algorithm.to_id_string() != OID_EC_PUBLIC_KEY
        || curve.as_deref() != Some(OID_P256)
    {
        return Err(ReceiptError::UnsupportedKey(format!(
            "algorithm {}, parameters {}",
            spki.algorithm.algorithm.to_id_string(),
            curve.as_deref().unwrap_or("none")
        )));
    }
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &spki.subject_public_key.data)
        .verify(&receipt.body, &receipt.signature)
        .map_err(|_| ReceiptError::BadSignature)?;

    let expected = requirements.policy().hash();
    if body.policy_hash.as_slice() != expected.as_slice() {
        return Err(ReceiptError::PolicyHashMismatch {
            expected: hex::encode(expected),
            got: hex::encode(&body.policy_hash),
        });
    }
    for d in body
        .programs
        .iter()
        .chain(&body.inputs)
        .chain(&body.outputs)
    {
        if d.sha256.len() != 32 {
            return Err(ReceiptError::Body(format!(
                "the digest of {} is {} bytes, not 32",
                d.path,
                d.sha256.len()
            )));
        }
    }
    Ok(VerifiedReceipt { body, runtime })
}

fn bounded(what: &'static str, size: usize, max: usize) -> Result<(), ReceiptError> {
    if size > max {
        Err(ReceiptError::TooLarge { what, size, max })
    } else {
        Ok(())
    }
}

/// The file form of a receipt: the protobuf encoding of the `Receipt` message, exactly as the
/// runtime sent it.
pub fn encode_receipt(receipt: &Receipt) -> Vec<u8> {
    receipt.encode_to_vec()
}

/// Reads a receipt file written by [`encode_receipt`].
pub fn decode_receipt(bytes: &[u8]) -> Result<Receipt, ReceiptError> {
    bounded("file", bytes.len(), MAX_RECEIPT_BYTES)?;
    Receipt::decode(bytes).map_err(|e| ReceiptError::Decode(e.to_string()))
}
