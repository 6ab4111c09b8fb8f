//! PKCS#10 certificate signing requests: the runtime makes one for its TLS key, the attestation
//! service parses it, verifies its self-signature and hashes its public key.

use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509CertificationRequest};

/// Largest CSR accepted; a P-256 or P-384 CSR is a few hundred bytes.
pub const MAX_CSR_LEN: usize = 8 * 1024;

/// id-ecPublicKey and the two curves the runtime key may use.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];

/// Why a CSR was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrError {
    #[error("CSR is {0} bytes, more than the {MAX_CSR_LEN} accepted")]
    TooLarge(usize),
    #[error("CSR does not parse: {0}")]
    Malformed(String),
    #[error("CSR self-signature does not verify: {0}")]
    BadSignature(String),
    #[error("CSR key is not an ECDSA P-256 or P-384 key")]
    UnsupportedKey,
    #[error("could not create CSR: {0}")]
    Create(String),
}

/// A CSR whose self-signature verified: the key it is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCsr {
    /// DER SubjectPublicKeyInfo of the key.
    pub spki_der: Vec<u8>,
    /// SHA-256 of `spki_der`: what evidence binds.
    pub key_hash: [u8; 32],
}

/// SHA-256 of a DER SubjectPublicKeyInfo: the key hash evidence binds.
pub fn key_hash(spki_der: &[u8]) -> [u8; 32] {
    Sha256::digest(spki_der).into()
}

/// Makes a PEM CSR for the runtime's key. The subject is fixed: the attestation service decides
/// everything the certificate says, the CSR only proves possession of the key.
pub fn create_csr_pem(key: &rcgen::KeyPair) -> Result<String, CsrError> {
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, crate::RUNTIME_COMMON_NAME);
    params
        .serialize_request(key)
        .and_then(|csr| csr.pem())
        .map_err(|e| CsrError::Create(e.to_string()))
}

/// Parses a PEM CSR (one `CERTIFICATE REQUEST` block) and verifies it; see [`verify_csr_der`].
pub fn verify_csr_pem(text: &str) -> Result<VerifiedCsr, CsrError> {
    if text.len() > MAX_CSR_LEN * 2 {
        return Err(CsrError::TooLarge(text.len()));
    }
    let block = pem::parse(text).map_err(|e| CsrError::Malformed(format!("PEM: {e}")))?;
    if block.tag() != "CERTIFICATE REQUEST" && block.tag() != "NEW CERTIFICATE REQUEST" {
        return Err(CsrError::Malformed(format!(
            "PEM block is `{}`, expected `CERTIFICATE REQUEST`",
            block.tag()
        )));
    }
    verify_csr_der(block.contents())
}

/// Parses a DER CSR, verifies its self-signature and that its key is ECDSA P-256 or P-384.
pub fn verify_csr_der(der: &[u8]) -> Result<VerifiedCsr, CsrError> {
    if der.len() > MAX_CSR_LEN {
        return Err(CsrError::TooLarge(der.len()));
    }
    let (rest, csr) =
        X509CertificationRequest::from_der(der).map_err(|e| CsrError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CsrError::Malformed(format!(
            "{} trailing bytes after the CSR",
            rest.len()
        )));
    }
    let spki = &csr.certification_request_info.subject_pki;
    let alg = &spki.algorithm;
    let curve = alg
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.as_bytes().to_vec());
    let curve_ok = matches!(curve.as_deref(), Some(OID_P256) | Some(OID_P384));
    if alg.algorithm.as_bytes() != OID_EC_PUBLIC_KEY || !curve_ok {
        return Err(CsrError::UnsupportedKey);
    }
    csr.verify_signature()
        .map_err(|e| CsrError::BadSignature(e.to_string()))?;
    let spki_der = spki.raw.to_vec();
    Ok(VerifiedCsr {
        key_hash: key_hash(&spki_der),
        spki_der,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_csr_verifies_and_hashes_the_key() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let csr = verify_csr_pem(&create_csr_pem(&key).unwrap()).unwrap();
        assert_eq!(csr.spki_der, key.public_key_der());
        assert_eq!(csr.key_hash, key_hash(&key.public_key_der()));
    }

    #[test]
    fn swapped_key_fails_the_signature_check() {
        let a = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let b = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let pem_a = create_csr_pem(&a).unwrap();
        let der = pem::parse(&pem_a).unwrap().into_contents();
        let forged = replace_once(&der, &a.public_key_der(), &b.public_key_der());
        assert!(matches!(
            verify_csr_der(&forged),
            Err(CsrError::BadSignature(_))
        ));
    }

    #[test]
    fn garbage_and_other_keys_are_refused() {
        assert!(matches!(
            verify_csr_der(&[0x30, 0x03, 1, 2, 3]),
            Err(CsrError::Malformed(_))
        ));
        assert!(matches!(
            verify_csr_pem("not pem"),
            Err(CsrError::Malformed(_))
        ));
        assert!(matches!(
            verify_csr_der(&vec![0u8; MAX_CSR_LEN + 1]),
            Err(CsrError::TooLarge(_))
        ));
        let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let pem_ed = create_csr_pem(&ed).unwrap();
        assert_eq!(verify_csr_pem(&pem_ed), Err(CsrError::UnsupportedKey));
    }

    /// Replaces the single occurrence of `from` in `haystack` with `to` (same length).
    pub(crate) fn replace_once(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        assert_eq!(from.len(), to.len());
        let pos = haystack
            .windows(from.len())
            .position(|w| w == from)
            .expect("pattern present");
        let mut out = haystack.to_vec();
        out[pos..pos + from.len()].copy_from_slice(to);
        out
    }
}
