//! Parsing runtime certificates back into what the attestation service certified, and checking
//! a chain against the attestation service CA a policy names.

use veracruz_policy::Platform;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::der;
use crate::oids::{arc_der_content, RuntimeExtension};

/// Largest certificate accepted for parsing.
pub const MAX_CERTIFICATE_LEN: usize = 16 * 1024;

/// What a runtime certificate says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeIdentity {
    pub platform: Platform,
    pub measurement: Vec<u8>,
    pub policy_hash: [u8; 32],
    pub debug: bool,
    pub tcb_status: Option<String>,
    /// Validity, Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// SHA-256 of the certificate's DER SubjectPublicKeyInfo (the key hash evidence binds).
    pub spki_hash: [u8; 32],
    /// Serial number, big-endian magnitude.
    pub serial: Vec<u8>,
}

/// Why a runtime certificate or chain was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("certificate is {0} bytes, more than the {MAX_CERTIFICATE_LEN} accepted")]
    TooLarge(usize),
    #[error("certificate does not parse: {0}")]
    Malformed(String),
    #[error("PEM chain does not parse: {0}")]
    Pem(String),
    #[error("certificate lacks the {0} extension")]
    Missing(&'static str),
    #[error("certificate carries the {0} extension more than once")]
    Duplicate(&'static str),
    #[error("certificate carries an unknown extension under the Veracruz arc: {0}")]
    UnknownExtension(String),
    #[error("the {name} extension is marked critical; Veracruz extensions are non-critical")]
    Critical { name: &'static str },
    #[error("the {name} extension is malformed: {source}")]
    BadExtension {
        name: &'static str,
        source: der::DerError,
    },
    #[error("the platform extension names an unknown platform `{0}`")]
    UnknownPlatform(String),
    #[error(
        "measurement is {got} bytes; platform `{platform}` measurements are {expected:?} bytes"
    )]
    MeasurementLength {
        platform: Platform,
        got: usize,
        expected: &'static [usize],
    },
    #[error("policy hash is {0} bytes, expected 32")]
    PolicyHashLength(usize),
    #[error("certificate was not issued by the attestation service CA (issuer name differs)")]
    WrongIssuer,
    #[error("certificate signature does not verify with the CA key: {0}")]
    BadSignature(String),
    #[error("{what} is not valid at {now}: valid from {not_before} to {not_after}")]
    NotValid {
        what: &'static str,
        now: i64,
        not_before: i64,
        not_after: i64,
    },
    #[error("runtime certificate claims to be a CA")]
    LeafIsCa,
    #[error(
        "the trusted certificate is not a CA (no cA bit, or its key may not sign certificates)"
    )]
    RootNotCa,
}

/// Splits a PEM chain into DER certificates, in order; refuses anything but `CERTIFICATE` blocks.
pub fn parse_pem_chain(text: &str) -> Result<Vec<Vec<u8>>, IdentityError> {
    let blocks = pem::parse_many(text).map_err(|e| IdentityError::Pem(e.to_string()))?;
    if blocks.is_empty() {
        return Err(IdentityError::Pem("no PEM block".into()));
    }
    blocks
        .into_iter()
        .map(|b| {
            if b.tag() == "CERTIFICATE" {
                Ok(b.into_contents())
            } else {
                Err(IdentityError::Pem(format!(
                    "block is `{}`, expected `CERTIFICATE`",
                    b.tag()
                )))
            }
        })
        .collect()
}

fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, IdentityError> {
    if der.len() > MAX_CERTIFICATE_LEN {
        return Err(IdentityError::TooLarge(der.len()));
    }
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| IdentityError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(IdentityError::Malformed(format!(
            "{} trailing bytes after the certificate",
            rest.len()
        )));
    }
    Ok(cert)
}

/// Reads the Veracruz extensions and validity of a runtime certificate. Checks only what the
/// certificate says, not who signed it: see [`verify_runtime_chain`] for that.
pub fn parse_runtime_certificate(der_bytes: &[u8]) -> Result<RuntimeIdentity, IdentityError> {
    let cert = parse_cert(der_bytes)?;
    identity_of(&cert)
}

fn identity_of(cert: &X509Certificate<'_>) -> Result<RuntimeIdentity, IdentityError> {
    let mut values: [Option<&[u8]>; 5] = [None; 5];
    for ext in cert.extensions() {
        let oid = ext.oid.as_bytes();
        if !oid.starts_with(arc_der_content()) {
            continue;
        }
        let known = RuntimeExtension::ALL
            .into_iter()
            .find(|e| e.oid_der_content() == oid)
            .ok_or_else(|| UnknownOid(oid).into_error())?;
        if ext.critical {
            return Err(IdentityError::Critical { name: known.name() });
        }
        let slot = &mut values[known.number() as usize - 1];
        if slot.is_some() {
            return Err(IdentityError::Duplicate(known.name()));
        }
        *slot = Some(ext.value);
    }
    let get = |e: RuntimeExtension| values[e.number() as usize - 1];
    let bad = |e: RuntimeExtension| {
        move |source| IdentityError::BadExtension {
            name: e.name(),
            source,
        }
    };

    let platform_name =
        der::read_utf8(get(RuntimeExtension::Platform).ok_or(IdentityError::Missing("platform"))?)
            .map_err(bad(RuntimeExtension::Platform))?;
    let platform: Platform = platform_name
        .parse()
        .map_err(|_| IdentityError::UnknownPlatform(platform_name.to_string()))?;
    let measurement = der::read_single(
        get(RuntimeExtension::Measurement).ok_or(IdentityError::Missing("measurement"))?,
        der::TAG_OCTET_STRING,
    )
    .map_err(bad(RuntimeExtension::Measurement))?
    .to_vec();
    let expected = platform.measurement_lengths();
    if !expected.contains(&measurement.len()) {
        return Err(IdentityError::MeasurementLength {
            platform,
            got: measurement.len(),
            expected,
        });
    }
    let policy_hash_bytes = der::read_single(
        get(RuntimeExtension::PolicyHash).ok_or(IdentityError::Missing("policy hash"))?,
        der::TAG_OCTET_STRING,
    )
    .map_err(bad(RuntimeExtension::PolicyHash))?;
    let policy_hash: [u8; 32] = policy_hash_bytes
        .try_into()
        .map_err(|_| IdentityError::PolicyHashLength(policy_hash_bytes.len()))?;
    let debug =
        der::read_boolean(get(RuntimeExtension::Debug).ok_or(IdentityError::Missing("debug"))?)
            .map_err(bad(RuntimeExtension::Debug))?;
    let tcb_status = get(RuntimeExtension::TcbStatus)
        .map(|v| der::read_utf8(v).map(str::to_string))
        .transpose()
        .map_err(bad(RuntimeExtension::TcbStatus))?;

    let validity = cert.validity();
    Ok(RuntimeIdentity {
        platform,
        measurement,
        policy_hash,
        debug,
        tcb_status,
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
        spki_hash: crate::csr::key_hash(cert.public_key().raw),
        serial: cert.raw_serial().to_vec(),
    })
}

struct UnknownOid<'a>(&'a [u8]);

impl UnknownOid<'_> {
    fn into_error(self) -> IdentityError {
        let suffix = &self.0[arc_der_content().len()..];
        IdentityError::UnknownExtension(format!("{}.<{}>", crate::oids::ARC, hex::encode(suffix)))
    }
}

/// Checks that `leaf_der` was issued by the CA `ca_der` (the attestation service CA a policy
/// names), that both are valid at `now` (Unix seconds), and that the leaf is not a CA; returns
/// what the leaf certifies. The caller then compares platform, measurement and policy hash
/// with its own policy.
pub fn verify_runtime_chain(
    leaf_der: &[u8],
    ca_der: &[u8],
    now: i64,
) -> Result<RuntimeIdentity, IdentityError> {
    let ca = parse_cert(ca_der)?;
    let leaf = parse_cert(leaf_der)?;
    if !ca.is_ca() {
        return Err(IdentityError::RootNotCa);
    }
    // A CA certificate that restricts its key's use must allow certificate signing.
    match ca.key_usage() {
        Ok(Some(ku)) if !ku.value.key_cert_sign() => return Err(IdentityError::RootNotCa),
        Ok(_) => {}
        Err(e) => return Err(IdentityError::Malformed(format!("CA key usage: {e}"))),
    }
    if leaf.issuer().as_raw() != ca.subject().as_raw() {
        return Err(IdentityError::WrongIssuer);
    }
    leaf.verify_signature(Some(ca.public_key()))
        .map_err(|e| IdentityError::BadSignature(e.to_string()))?;
    for (what, cert) in [("CA certificate", &ca), ("runtime certificate", &leaf)] {
        let v = cert.validity();
        let (not_before, not_after) = (v.not_before.timestamp(), v.not_after.timestamp());
        if now < not_before || now > not_after {
            return Err(IdentityError::NotValid {
                what,
                now,
                not_before,
                not_after,
            });
        }
    }
    if leaf.is_ca() {
        return Err(IdentityError::LeafIsCa);
    }
    identity_of(&leaf)
}
