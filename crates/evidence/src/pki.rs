//! X.509 helpers shared by the verifiers that chain to a vendor root: certificate parsing,
//! signature checks with `ring` (ECDSA P-256/P-384, RSA PKCS#1 v1.5 and RSASSA-PSS), validity
//! at a given time and path building from a leaf to a pinned anchor.

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::certificate::X509Certificate;
use x509_parser::signature_algorithm::SignatureAlgorithm;

use crate::{EvidenceError, UnixTime};

/// Longest chain any supported vendor uses (Nitro: root, three intermediates, leaf).
const MAX_CHAIN_DEPTH: usize = 8;
/// No vendor certificate comes anywhere near this; bigger input is refused unparsed.
pub(crate) const MAX_CERT_LEN: usize = 16 * 1024;

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const OID_RSA_SHA384: &str = "1.2.840.113549.1.1.12";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
const OID_SHA384: &str = "2.16.840.1.101.3.4.2.2";

/// Parses one DER certificate, refusing trailing bytes and oversized input.
pub(crate) fn parse_cert<'a>(
    der: &'a [u8],
    what: &str,
) -> Result<X509Certificate<'a>, EvidenceError> {
    if der.len() > MAX_CERT_LEN {
        return Err(EvidenceError::Malformed(format!(
            "{what} certificate is {} bytes, more than the {MAX_CERT_LEN} allowed",
            der.len()
        )));
    }
    match x509_parser::parse_x509_certificate(der) {
        Ok(([], cert)) => Ok(cert),
        Ok((rest, _)) => Err(EvidenceError::Malformed(format!(
            "{what} certificate has {} trailing bytes",
            rest.len()
        ))),
        Err(e) => Err(EvidenceError::Malformed(format!(
            "{what} certificate is not valid DER X.509: {e}"
        ))),
    }
}

/// Splits a PEM bundle into DER certificates, in file order.
pub(crate) fn pem_certs(pem: &[u8], what: &str) -> Result<Vec<Vec<u8>>, EvidenceError> {
    let mut out = Vec::new();
    for item in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let item =
            item.map_err(|e| EvidenceError::Malformed(format!("{what}: PEM does not parse: {e}")))?;
        if item.label == "CERTIFICATE" {
            out.push(item.contents);
        }
        if out.len() > MAX_CHAIN_DEPTH {
            return Err(EvidenceError::Malformed(format!(
                "{what}: more than {MAX_CHAIN_DEPTH} certificates"
            )));
        }
    }
    Ok(out)
}

/// The public key kinds our vendors use, as `ring` wants them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    P256,
    P384,
    Rsa,
}

/// Classifies a SubjectPublicKeyInfo and returns the bytes `ring` verifies with (the SEC1 point
/// for EC keys, the `RSAPublicKey` DER for RSA).
pub(crate) fn spki_key<'a>(
    spki: &'a x509_parser::x509::SubjectPublicKeyInfo<'_>,
) -> Result<(KeyKind, &'a [u8]), EvidenceError> {
    let alg = spki.algorithm.algorithm.to_id_string();
    let key: &[u8] = spki.subject_public_key.data.as_ref();
    match alg.as_str() {
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            match curve.as_str() {
                OID_P256 => Ok((KeyKind::P256, key)),
                OID_P384 => Ok((KeyKind::P384, key)),
                other => Err(EvidenceError::BadChain(format!(
                    "unsupported EC curve `{other}`"
                ))),
            }
        }
        OID_RSA_ENCRYPTION => Ok((KeyKind::Rsa, key)),
        other => Err(EvidenceError::BadChain(format!(
            "unsupported public key algorithm `{other}`"
        ))),
    }
}

/// Picks the `ring` algorithm for a certificate signature made by a key of `kind`.
fn cert_sig_alg(
    cert: &X509Certificate<'_>,
    kind: KeyKind,
) -> Result<&'static dyn VerificationAlgorithm, EvidenceError> {
    let oid = cert.signature_algorithm.algorithm.to_id_string();
    let alg: &'static dyn VerificationAlgorithm = match (oid.as_str(), kind) {
        (OID_ECDSA_SHA256, KeyKind::P256) => &signature::ECDSA_P256_SHA256_ASN1,
        (OID_ECDSA_SHA384, KeyKind::P256) => &signature::ECDSA_P256_SHA384_ASN1,
        (OID_ECDSA_SHA256, KeyKind::P384) => &signature::ECDSA_P384_SHA256_ASN1,
        (OID_ECDSA_SHA384, KeyKind::P384) => &signature::ECDSA_P384_SHA384_ASN1,
        (OID_RSA_SHA256, KeyKind::Rsa) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (OID_RSA_SHA384, KeyKind::Rsa) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (OID_RSA_PSS, KeyKind::Rsa) => {
            let parsed = SignatureAlgorithm::try_from(&cert.signature_algorithm).map_err(|e| {
                EvidenceError::BadChain(format!("RSASSA-PSS parameters do not parse: {e}"))
            })?;
            let SignatureAlgorithm::RSASSA_PSS(params) = parsed else {
                return Err(EvidenceError::BadChain(
                    "RSASSA-PSS signature without PSS parameters".into(),
                ));
            };
            match params.hash_algorithm_oid().to_id_string().as_str() {
                OID_SHA256 => &signature::RSA_PSS_2048_8192_SHA256,
                OID_SHA384 => &signature::RSA_PSS_2048_8192_SHA384,
                other => {
                    return Err(EvidenceError::BadChain(format!(
                        "unsupported RSASSA-PSS hash `{other}`"
                    )))
                }
            }
        }
        (other, kind) => {
            return Err(EvidenceError::BadChain(format!(
                "unsupported certificate signature algorithm `{other}` for a {kind:?} issuer key"
            )))
        }
    };
    Ok(alg)
}

/// Checks that `issuer`, a CA certificate, signed `cert`.
pub(crate) fn verify_issued_by(
    cert: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
) -> Result<(), EvidenceError> {
    if cert.issuer().as_raw() != issuer.subject().as_raw() {
        return Err(EvidenceError::BadChain(format!(
            "`{}` is issued by `{}`, not by `{}`",
            cert.subject(),
            cert.issuer(),
            issuer.subject()
        )));
    }
    // Only CA certificates may issue: a leaf's key must never vouch for another certificate.
    let is_ca = matches!(issuer.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    if !is_ca {
        return Err(EvidenceError::BadChain(format!(
            "`{}` is not a CA certificate (basicConstraints cA is not set)",
            issuer.subject()
        )));
    }
    let (kind, key) = spki_key(issuer.public_key())?;
    let alg = cert_sig_alg(cert, kind)?;
    UnparsedPublicKey::new(alg, key)
        .verify(
            cert.tbs_certificate.as_ref(),
            cert.signature_value.data.as_ref(),
        )
        .map_err(|_| {
            EvidenceError::BadChain(format!(
                "signature on `{}` does not verify with the key of `{}`",
                cert.subject(),
                issuer.subject()
            ))
        })
}

/// Checks `cert`'s validity period contains `now`.
pub(crate) fn check_validity(
    cert: &X509Certificate<'_>,
    now: UnixTime,
) -> Result<(), EvidenceError> {
    let now = i64::try_from(now)
        .map_err(|_| EvidenceError::Expired(format!("time {now} is out of range")))?;
    let v = cert.validity();
    if now < v.not_before.timestamp() {
        return Err(EvidenceError::Expired(format!(
            "`{}` is not valid before {}",
            cert.subject(),
            v.not_before
        )));
    }
    if now > v.not_after.timestamp() {
        return Err(EvidenceError::Expired(format!(
            "`{}` expired at {}",
            cert.subject(),
            v.not_after
        )));
    }
    Ok(())
}

/// Whether two certificates are the same anchor: same subject and same public key. Comparing
/// keys rather than whole encodings accepts a re-issued root with the same key, which is what
/// a pinned trust anchor means.
pub(crate) fn same_anchor(a: &X509Certificate<'_>, b: &X509Certificate<'_>) -> bool {
    a.subject().as_raw() == b.subject().as_raw() && a.public_key().raw == b.public_key().raw
}

/// Builds and checks a path from `leaf` through `intermediates` to one of `anchors`, checking
/// every signature and every validity period (anchors included) at `now`. Returns the index of
/// the anchor reached.
pub(crate) fn verify_path(
    leaf: &X509Certificate<'_>,
    intermediates: &[X509Certificate<'_>],
    anchors: &[X509Certificate<'_>],
    now: UnixTime,
) -> Result<usize, EvidenceError> {
    if anchors.is_empty() {
        return Err(EvidenceError::BadChain(
            "no trust anchors configured".into(),
        ));
    }
    let mut current = leaf;
    let mut last_err: Option<EvidenceError> = None;
    for _ in 0..MAX_CHAIN_DEPTH {
        check_validity(current, now)?;
        // Anchors first: a chain ends as soon as it reaches one.
        for (i, anchor) in anchors.iter().enumerate() {
            if current.issuer().as_raw() != anchor.subject().as_raw() {
                continue;
            }
            match verify_issued_by(current, anchor) {
                Ok(()) => {
                    check_validity(anchor, now)?;
                    return Ok(i);
                }
                Err(e) => last_err = Some(e),
            }
        }
        // Several intermediates may share a subject (e.g. one built in, one from the evidence);
        // the first whose key verifies the signature is the issuer.
        let mut next = None;
        for candidate in intermediates.iter().filter(|c| {
            !std::ptr::eq(*c, current)
                && c.subject().as_raw() == current.issuer().as_raw()
                && !same_anchor(c, current)
        }) {
            match verify_issued_by(current, candidate) {
                Ok(()) => {
                    next = Some(candidate);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        match next {
            Some(issuer) => current = issuer,
            None => {
                return Err(last_err.unwrap_or_else(|| {
                    EvidenceError::BadChain(format!(
                        "no trusted issuer `{}` for `{}`",
                        current.issuer(),
                        current.subject()
                    ))
                }))
            }
        }
    }
    Err(EvidenceError::BadChain(format!(
        "certificate chain longer than {MAX_CHAIN_DEPTH}"
    )))
}

/// Finds an extension's raw value by dotted OID.
pub(crate) fn extension<'a>(cert: &'a X509Certificate<'_>, oid: &str) -> Option<&'a [u8]> {
    cert.extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == oid)
        .map(|e| e.value)
}
