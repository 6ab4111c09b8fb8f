//! The attestation service's certificate authority: creating it, loading it, and issuing
//! short-lived runtime certificates that carry what the evidence proved.

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{
    EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING,
};
use sha2::{Digest, Sha256};
use veracruz_policy::Platform;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::der;
use crate::oids::RuntimeExtension;

/// Default lifetime of a runtime certificate.
pub const DEFAULT_CERTIFICATE_LIFETIME_SECS: u64 = 3600;
/// Certificates are back-dated by this much so that a verifier whose clock is slightly behind
/// still accepts a fresh one.
pub const CLOCK_SKEW_ALLOWANCE_SECS: i64 = 60;

/// The CA key's curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaAlgorithm {
    P256,
    P384,
}

impl CaAlgorithm {
    fn rcgen(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            CaAlgorithm::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            CaAlgorithm::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        }
    }

    /// DER AlgorithmIdentifier of the signature the CA makes (no parameters, RFC 5758).
    fn signature_algorithm_der(self) -> Vec<u8> {
        let arcs: &[u128] = match self {
            CaAlgorithm::P256 => &[1, 2, 840, 10045, 4, 3, 2],
            CaAlgorithm::P384 => &[1, 2, 840, 10045, 4, 3, 3],
        };
        der::sequence(&[&der::oid(&der::oid_content(arcs))])
    }
}

/// Why a CA could not be made or loaded, or a certificate issued.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("could not generate the CA: {0}")]
    Generate(String),
    #[error("CA certificate does not parse: {0}")]
    Certificate(String),
    #[error("CA key does not parse as a PKCS#8 P-256 or P-384 ECDSA key")]
    Key,
    #[error("CA key does not match the CA certificate's public key")]
    KeyMismatch,
    #[error("CA certificate is not a CA (no basicConstraints cA=true)")]
    NotCa,
    #[error(
        "measurement is {got} bytes; platform `{platform}` measurements are {expected:?} bytes"
    )]
    MeasurementLength {
        platform: Platform,
        got: usize,
        expected: &'static [usize],
    },
    #[error("certificate lifetime must be between 1 second and 30 days, got {0} s")]
    Lifetime(u64),
    #[error("TCB status must be at most 128 bytes of printable text")]
    TcbStatus,
    #[error("validity time out of range: {0}")]
    Time(String),
    #[error("system random source failed")]
    Random,
    #[error("signing failed")]
    Sign,
}

/// A newly created CA: its certificate and its key, both PEM, for writing to disk.
pub struct GeneratedCa {
    pub certificate_pem: String,
    /// PKCS#8; whoever writes it to disk must make the file readable by its owner only.
    pub key_pem: String,
}

/// Creates a CA key and its self-signed certificate, valid from now for `validity_days`.
pub fn generate_ca(
    common_name: &str,
    algorithm: CaAlgorithm,
    validity_days: u32,
) -> Result<GeneratedCa, CaError> {
    let key = rcgen::KeyPair::generate_for(algorithm.rcgen())
        .map_err(|e| CaError::Generate(e.to_string()))?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params.distinguished_name.push(
        rcgen::DnType::OrganizationName,
        "Veracruz attestation service",
    );
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::seconds(CLOCK_SKEW_ALLOWANCE_SECS);
    params.not_after = now + time::Duration::days(i64::from(validity_days));
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&random_serial()?));
    let cert = params
        .self_signed(&key)
        .map_err(|e| CaError::Generate(e.to_string()))?;
    Ok(GeneratedCa {
        certificate_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// What the attestation service certifies about a runtime key.
#[derive(Clone, Debug)]
pub struct IssueRequest<'a> {
    /// DER SubjectPublicKeyInfo from the verified CSR.
    pub spki_der: &'a [u8],
    pub platform: Platform,
    pub measurement: &'a [u8],
    pub policy_hash: [u8; 32],
    pub debug: bool,
    pub tcb_status: Option<&'a str>,
    /// Start of validity (Unix seconds); the certificate is back-dated by the skew allowance.
    pub now: i64,
    pub lifetime_secs: u64,
}

/// An issued certificate.
#[derive(Clone, Debug)]
pub struct Issued {
    /// Leaf then CA certificate, PEM.
    pub chain_pem: String,
    pub leaf_der: Vec<u8>,
    /// Serial number, big-endian magnitude.
    pub serial: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
}

/// A loaded CA, ready to issue.
pub struct CertificateAuthority {
    certificate_der: Vec<u8>,
    certificate_pem: String,
    subject_der: Vec<u8>,
    key_identifier: Option<Vec<u8>>,
    algorithm: CaAlgorithm,
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("CertificateAuthority")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Loads the CA certificate and its PKCS#8 key, both PEM, and checks that they match.
    pub fn from_pem(certificate_pem: &str, key_pem: &str) -> Result<Self, CaError> {
        let cert_block =
            pem::parse(certificate_pem).map_err(|e| CaError::Certificate(e.to_string()))?;
        if cert_block.tag() != "CERTIFICATE" {
            return Err(CaError::Certificate(format!(
                "PEM block is `{}`, expected `CERTIFICATE`",
                cert_block.tag()
            )));
        }
        let certificate_der = cert_block.into_contents();
        let (_, cert) = X509Certificate::from_der(&certificate_der)
            .map_err(|e| CaError::Certificate(e.to_string()))?;
        if !cert.is_ca() {
            return Err(CaError::NotCa);
        }
        let key_block = pem::parse(key_pem).map_err(|_| CaError::Key)?;
        if key_block.tag() != "PRIVATE KEY" {
            return Err(CaError::Key);
        }
        let rng = SystemRandom::new();
        let (key, algorithm) =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, key_block.contents(), &rng)
                .map(|k| (k, CaAlgorithm::P256))
                .or_else(|_| {
                    EcdsaKeyPair::from_pkcs8(
                        &ECDSA_P384_SHA384_ASN1_SIGNING,
                        key_block.contents(),
                        &rng,
                    )
                    .map(|k| (k, CaAlgorithm::P384))
                })
                .map_err(|_| CaError::Key)?;
        if key.public_key().as_ref() != cert.public_key().subject_public_key.data.as_ref() {
            return Err(CaError::KeyMismatch);
        }
        let key_identifier = cert
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) => {
                    Some(id.0.to_vec())
                }
                _ => None,
            });
        let subject_der = cert.subject().as_raw().to_vec();
        Ok(CertificateAuthority {
            certificate_pem: pem::encode(&pem::Pem::new("CERTIFICATE", certificate_der.clone())),
            certificate_der,
            subject_der,
            key_identifier,
            algorithm,
            key,
            rng,
        })
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    pub fn algorithm(&self) -> CaAlgorithm {
        self.algorithm
    }

    /// Issues a certificate for the request's key; see `docs/ATTESTATION.md` for its profile.
    pub fn issue(&self, req: &IssueRequest<'_>) -> Result<Issued, CaError> {
        let expected = req.platform.measurement_lengths();
        if !expected.contains(&req.measurement.len()) {
            return Err(CaError::MeasurementLength {
                platform: req.platform,
                got: req.measurement.len(),
                expected,
            });
        }
        if req.lifetime_secs == 0 || req.lifetime_secs > 30 * 24 * 3600 {
            return Err(CaError::Lifetime(req.lifetime_secs));
        }
        if let Some(tcb) = req.tcb_status {
            if tcb.len() > 128 || tcb.chars().any(|c| c.is_control()) {
                return Err(CaError::TcbStatus);
            }
        }
        let serial = self.serial()?;
        let not_before = req.now - CLOCK_SKEW_ALLOWANCE_SECS;
        // Lifetime is at most 30 days, so this cannot overflow.
        let not_after = req.now + req.lifetime_secs as i64;
        let time_err = |e: time::error::ComponentRange| CaError::Time(e.to_string());
        let validity = der::sequence(&[
            &der::x509_time(not_before).map_err(time_err)?,
            &der::x509_time(not_after).map_err(time_err)?,
        ]);
        let subject = der::sequence(&[&der::tlv(
            der::TAG_SET,
            &der::sequence(&[
                &der::oid(&der::oid_content(&[2, 5, 4, 3])),
                &der::tlv(der::TAG_UTF8_STRING, crate::RUNTIME_COMMON_NAME.as_bytes()),
            ]),
        )]);
        let extensions = self.extensions(req);
        let tbs = der::sequence(&[
            &der::explicit(0, &der::unsigned_integer(&[2])),
            &der::unsigned_integer(&serial),
            &self.algorithm.signature_algorithm_der(),
            &self.subject_der,
            &validity,
            &subject,
            req.spki_der,
            &der::explicit(
                3,
                &der::sequence(&extensions.iter().map(Vec::as_slice).collect::<Vec<_>>()),
            ),
        ]);
        let signature = self.key.sign(&self.rng, &tbs).map_err(|_| CaError::Sign)?;
        let mut bits = Vec::with_capacity(signature.as_ref().len() + 1);
        bits.push(0); // no unused bits
        bits.extend_from_slice(signature.as_ref());
        let leaf_der = der::sequence(&[
            &tbs,
            &self.algorithm.signature_algorithm_der(),
            &der::tlv(der::TAG_BIT_STRING, &bits),
        ]);
        let chain_pem = format!(
            "{}{}",
            pem::encode(&pem::Pem::new("CERTIFICATE", leaf_der.clone())),
            self.certificate_pem
        );
        Ok(Issued {
            chain_pem,
            leaf_der,
            serial,
            not_before,
            not_after,
        })
    }

    fn extensions(&self, req: &IssueRequest<'_>) -> Vec<Vec<u8>> {
        fn ext(oid_content: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
            let oid = der::oid(oid_content);
            let value = der::tlv(der::TAG_OCTET_STRING, value);
            if critical {
                der::sequence(&[&oid, &der::boolean(true), &value])
            } else {
                der::sequence(&[&oid, &value])
            }
        }
        let std_oid = |arcs: &[u128]| der::oid_content(arcs);
        let mut out = vec![
            // basicConstraints, critical, cA absent (false): a runtime can never act as a CA.
            ext(&std_oid(&[2, 5, 29, 19]), true, &der::sequence(&[])),
            // keyUsage, critical: digitalSignature only (TLS 1.3 and receipts sign).
            ext(
                &std_oid(&[2, 5, 29, 15]),
                true,
                &der::tlv(der::TAG_BIT_STRING, &[0x07, 0x80]),
            ),
            // extKeyUsage: TLS server (to clients) and TLS client (to peers that ask).
            ext(
                &std_oid(&[2, 5, 29, 37]),
                false,
                &der::sequence(&[
                    &der::oid(&std_oid(&[1, 3, 6, 1, 5, 5, 7, 3, 1])),
                    &der::oid(&std_oid(&[1, 3, 6, 1, 5, 5, 7, 3, 2])),
                ]),
            ),
            // subjectAltName dNSName: the fixed name clients use as TLS server name.
            ext(
                &std_oid(&[2, 5, 29, 17]),
                false,
                &der::sequence(&[&der::tlv(0x82, crate::RUNTIME_DNS_NAME.as_bytes())]),
            ),
            // subjectKeyIdentifier: first 20 bytes of the key hash (RFC 7093 method 1 style).
            ext(
                &std_oid(&[2, 5, 29, 14]),
                false,
                &der::tlv(der::TAG_OCTET_STRING, &Sha256::digest(req.spki_der)[..20]),
            ),
        ];
        if let Some(id) = &self.key_identifier {
            out.push(ext(
                &std_oid(&[2, 5, 29, 35]),
                false,
                &der::sequence(&[&der::tlv(0x80, id)]),
            ));
        }
        out.push(ext(
            RuntimeExtension::Platform.oid_der_content(),
            false,
            &der::tlv(der::TAG_UTF8_STRING, req.platform.as_str().as_bytes()),
        ));
        out.push(ext(
            RuntimeExtension::Measurement.oid_der_content(),
            false,
            &der::tlv(der::TAG_OCTET_STRING, req.measurement),
        ));
        out.push(ext(
            RuntimeExtension::PolicyHash.oid_der_content(),
            false,
            &der::tlv(der::TAG_OCTET_STRING, &req.policy_hash),
        ));
        out.push(ext(
            RuntimeExtension::Debug.oid_der_content(),
            false,
            &der::boolean(req.debug),
        ));
        if let Some(tcb) = req.tcb_status {
            out.push(ext(
                RuntimeExtension::TcbStatus.oid_der_content(),
                false,
                &der::tlv(der::TAG_UTF8_STRING, tcb.as_bytes()),
            ));
        }
        out
    }

    fn serial(&self) -> Result<Vec<u8>, CaError> {
        let mut serial = [0u8; 16];
        self.rng.fill(&mut serial).map_err(|_| CaError::Random)?;
        Ok(fix_serial(serial))
    }
}

/// 126 random bits as a positive 16-byte serial: the top bit is cleared so the INTEGER is
/// positive and the next one set so its DER encoding is always exactly 16 bytes.
fn fix_serial(mut serial: [u8; 16]) -> Vec<u8> {
    serial[0] = (serial[0] & 0x7f) | 0x40;
    serial.to_vec()
}

fn random_serial() -> Result<Vec<u8>, CaError> {
    let mut serial = [0u8; 16];
    SystemRandom::new()
        .fill(&mut serial)
        .map_err(|_| CaError::Random)?;
    Ok(fix_serial(serial))
}
