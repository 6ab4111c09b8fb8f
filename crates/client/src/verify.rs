//! Deciding whether a runtime certificate proves a runtime this principal's policy trusts.
//!
//! The same checks serve the TLS handshake (through [`AttestedRuntimeVerifier`], a rustls
//! `ServerCertVerifier`) and offline receipt verification, so a receipt is believed exactly
//! when a live connection to the runtime that signed it would have been.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tracing::{debug, info};
use veracruz_attestation::{
    parse_pem_chain, verify_runtime_chain, IdentityError, RuntimeIdentity, RUNTIME_DNS_NAME,
};
use veracruz_policy::{Platform, Policy};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Why a runtime certificate was not trusted. Each variant names the one check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    #[error("the runtime presented no certificate")]
    NoCertificate,
    #[error(
        "the runtime certificate was not issued by the policy's attestation CA \
         (issued by `{issuer}`, the policy trusts only `{trusted}`): {detail}"
    )]
    UnknownCa {
        issuer: String,
        trusted: String,
        detail: String,
    },
    #[error("the runtime certificate expired at {not_after} (Unix seconds); it is now {now}")]
    Expired { not_after: i64, now: i64 },
    #[error(
        "the runtime certificate is not valid before {not_before} (Unix seconds); it is now {now}"
    )]
    NotYetValid { not_before: i64, now: i64 },
    #[error(
        "the policy's attestation CA certificate is not valid at {now}: \
         valid from {not_before} to {not_after} (Unix seconds)"
    )]
    CaNotValid {
        now: i64,
        not_before: i64,
        not_after: i64,
    },
    #[error("the policy's attestation CA certificate is unusable: {0}")]
    PolicyCa(String),
    #[error("the runtime certificate claims to be a CA")]
    LeafIsCa,
    #[error("the runtime certificate is malformed: {0}")]
    Malformed(IdentityError),
    #[error("the runtime certificate chain fails path validation: {0}")]
    Path(String),
    #[error(
        "the runtime was attested with another policy: its certificate carries policy hash \
         {got}, this principal's policy hashes to {expected}"
    )]
    PolicyHashMismatch { expected: String, got: String },
    #[error(
        "the runtime runs on the insecure platform `{platform}` (self-asserted evidence) and \
         the policy does not allow insecure platforms"
    )]
    InsecurePlatform { platform: Platform },
    #[error("the policy does not accept measurement {measurement} on platform `{platform}`")]
    MeasurementNotAccepted {
        platform: Platform,
        measurement: String,
    },
    #[error(
        "the runtime on `{platform}` runs in a debug mode its host can inspect; \
         refused unless debug runtimes are explicitly allowed"
    )]
    DebugRuntime { platform: Platform },
    #[error("the runtime's TLS handshake signature does not verify: {0}")]
    HandshakeSignature(String),
}

/// What a policy requires of a runtime, prepared for checking certificates against it.
#[derive(Debug, Clone)]
pub struct RuntimeRequirements {
    policy: Policy,
    ca_der: Vec<u8>,
    ca_subject: String,
    allow_debug: bool,
    provider: Arc<CryptoProvider>,
    webpki: Arc<WebPkiServerVerifier>,
}

impl RuntimeRequirements {
    /// Trusts exactly the attestation CA the policy names: no system or web roots.
    pub fn from_policy(policy: &Policy) -> Result<Self, AttestationError> {
        let pem = &policy.document().attestation.ca_certificate;
        let chain = parse_pem_chain(pem).map_err(|e| AttestationError::PolicyCa(e.to_string()))?;
        let [ca_der] = <[Vec<u8>; 1]>::try_from(chain).map_err(|c| {
            AttestationError::PolicyCa(format!("expected one certificate, found {}", c.len()))
        })?;
        let ca_subject = subject_of(&ca_der).map_err(AttestationError::PolicyCa)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(ca_der.clone()))
            .map_err(|e| AttestationError::PolicyCa(e.to_string()))?;
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| AttestationError::PolicyCa(e.to_string()))?;
        Ok(RuntimeRequirements {
            policy: policy.clone(),
            ca_der,
            ca_subject,
            allow_debug: false,
            provider,
            webpki,
        })
    }

    /// Accepts runtimes whose certificate says they run in a debug mode (off by default: the
    /// host of a debug-mode isolate can read its memory, secrets included).
    pub fn allow_debug(mut self, allow: bool) -> Self {
        self.allow_debug = allow;
        self
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Checks a runtime certificate at time `at` (Unix seconds), in this order: issued by the
    /// policy's CA (issuer name and signature), CA and runtime certificate valid at `at`, not
    /// a CA itself, its Veracruz extensions well-formed; then standard path validation
    /// (key usage, extended key usage, the fixed runtime DNS name); then policy hash,
    /// insecure platform, measurement and debug mode against the policy.
    pub fn check(&self, leaf_der: &[u8], at: i64) -> Result<RuntimeIdentity, AttestationError> {
        let identity = verify_runtime_chain(leaf_der, &self.ca_der, at)
            .map_err(|e| self.chain_error(e, leaf_der))?;
        self.path_validation(leaf_der, at)?;
        self.check_identity(&identity)?;
        Ok(identity)
    }

    fn chain_error(&self, e: IdentityError, leaf_der: &[u8]) -> AttestationError {
        match e {
            IdentityError::WrongIssuer | IdentityError::BadSignature(_) => {
                AttestationError::UnknownCa {
                    issuer: issuer_of(leaf_der).unwrap_or_else(|e| format!("<{e}>")),
                    trusted: self.ca_subject.clone(),
                    detail: e.to_string(),
                }
            }
            IdentityError::NotValid {
                what,
                now,
                not_before,
                not_after,
            } if what.starts_with("CA") => AttestationError::CaNotValid {
                now,
                not_before,
                not_after,
            },
            IdentityError::NotValid {
                now,
                not_before,
                not_after,
                ..
            } => {
                if now > not_after {
                    AttestationError::Expired { not_after, now }
                } else {
                    AttestationError::NotYetValid { not_before, now }
                }
            }
            IdentityError::LeafIsCa => AttestationError::LeafIsCa,
            IdentityError::RootNotCa => {
                AttestationError::PolicyCa("the certificate is not a CA".into())
            }
            other => AttestationError::Malformed(other),
        }
    }

    /// rustls-webpki's path validation, as any TLS client would do it. The chain is always the
    /// runtime certificate directly under the policy's CA: intermediates the peer sends are
    /// ignored, so no certificate but the policy's CA can vouch for a runtime.
    fn path_validation(&self, leaf_der: &[u8], at: i64) -> Result<(), AttestationError> {
        let name = ServerName::try_from(RUNTIME_DNS_NAME)
            .map_err(|e| AttestationError::Path(e.to_string()))?;
        let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(at.max(0) as u64));
        self.webpki
            .verify_server_cert(&CertificateDer::from(leaf_der), &[], &name, &[], at)
            .map(|_| ())
            .map_err(|e| AttestationError::Path(e.to_string()))
    }

    /// Compares what the certificate certifies with the policy.
    pub fn check_identity(&self, id: &RuntimeIdentity) -> Result<(), AttestationError> {
        if id.policy_hash != self.policy.hash() {
            return Err(AttestationError::PolicyHashMismatch {
                expected: self.policy.hash_hex(),
                got: hex::encode(id.policy_hash),
            });
        }
        if id.platform.is_insecure() && !self.policy.document().attestation.allow_insecure_platforms
        {
            return Err(AttestationError::InsecurePlatform {
                platform: id.platform,
            });
        }
        if !self.policy.accepts(id.platform, &id.measurement) {
            return Err(AttestationError::MeasurementNotAccepted {
                platform: id.platform,
                measurement: hex::encode(&id.measurement),
            });
        }
        if id.debug && !self.allow_debug {
            return Err(AttestationError::DebugRuntime {
                platform: id.platform,
            });
        }
        if id.platform.is_insecure() {
            // Callers see the platform in the returned identity and flag it themselves.
            info!(
                platform = %id.platform,
                "runtime is on an insecure platform: its evidence is self-asserted"
            );
        }
        Ok(())
    }
}

fn subject_of(der: &[u8]) -> Result<String, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    Ok(cert.subject().to_string())
}

fn issuer_of(der: &[u8]) -> Result<String, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    Ok(cert.issuer().to_string())
}

/// The rustls server-certificate verifier of a Veracruz client.
///
/// rustls calls it during the handshake, before the client sends its own Finished message and
/// so before any application byte can leave. It records the first outcome so that the client
/// can report the specific [`AttestationError`] (rustls itself only carries a generic error
/// and a TLS alert) and, on success, what was verified.
#[derive(Debug)]
pub struct AttestedRuntimeVerifier {
    requirements: RuntimeRequirements,
    outcome: Mutex<Option<Result<RuntimeIdentity, AttestationError>>>,
}

impl AttestedRuntimeVerifier {
    pub fn new(requirements: RuntimeRequirements) -> Self {
        AttestedRuntimeVerifier {
            requirements,
            outcome: Mutex::new(None),
        }
    }

    /// The verdict on the certificate the runtime presented, if the handshake got that far.
    pub fn outcome(&self) -> Option<Result<RuntimeIdentity, AttestationError>> {
        self.outcome
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn record(&self, result: Result<RuntimeIdentity, AttestationError>) {
        let mut slot = self
            .outcome
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A failure is never overwritten by a later success.
        if !matches!(*slot, Some(Err(_))) {
            *slot = Some(result);
        }
    }

    fn fail(&self, err: AttestationError) -> rustls::Error {
        // Logged at debug only: the error itself goes back to the caller.
        debug!(error = %err, "runtime certificate refused");
        // The TLS alert tells the peer roughly why; the specific reason stays in `outcome`.
        let tls = match &err {
            AttestationError::UnknownCa { .. } => CertificateError::UnknownIssuer,
            AttestationError::Expired { .. } => CertificateError::Expired,
            AttestationError::NotYetValid { .. } => CertificateError::NotValidYet,
            AttestationError::Malformed(_) => CertificateError::BadEncoding,
            AttestationError::HandshakeSignature(_) => CertificateError::BadSignature,
            _ => CertificateError::ApplicationVerificationFailure,
        };
        self.record(Err(err));
        rustls::Error::InvalidCertificate(tls)
    }
}

impl ServerCertVerifier for AttestedRuntimeVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        match self.requirements.check(end_entity.as_ref(), now) {
            Ok(identity) => {
                debug!(
                    platform = %identity.platform,
                    measurement = %hex::encode(&identity.measurement),
                    "runtime certificate accepted"
                );
                self.record(Ok(identity));
                Ok(ServerCertVerified::assertion())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // The client offers TLS 1.3 only, so a TLS 1.2 signature is a peer misbehaving.
        Err(self.fail(AttestationError::HandshakeSignature(
            "a TLS 1.2 signature was offered, but only TLS 1.3 is used".into(),
        )))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.requirements.provider.signature_verification_algorithms,
        )
        .map_err(|e| self.fail(AttestationError::HandshakeSignature(e.to_string())))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.requirements
            .provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
