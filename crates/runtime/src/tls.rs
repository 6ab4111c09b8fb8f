//! TLS inside the isolate: the runtime's server configuration and the client-certificate rule.
//!
//! A peer is a principal iff it presents exactly the certificate the policy lists for that
//! principal and proves possession of its key in the handshake. There is no CA for principals:
//! the policy itself is the list of trusted identities.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use veracruz_policy::Policy;

/// Accepts exactly the certificates of the policy's principals, valid at handshake time.
#[derive(Debug)]
pub struct PolicyClientVerifier {
    policy: Arc<Policy>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PolicyClientVerifier {
    pub fn new(policy: Arc<Policy>, provider: &CryptoProvider) -> Self {
        PolicyClientVerifier {
            policy,
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for PolicyClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let Some(principal) = self.policy.principal_by_certificate(end_entity.as_ref()) else {
            tracing::info!("refused a client certificate that is not in the policy");
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ));
        };
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        veracruz_policy::validate::check_certificate_der(end_entity.as_ref(), now).map_err(|e| {
            tracing::info!(principal = %principal.name, "refused the principal's certificate: {e}");
            rustls::Error::InvalidCertificate(match e {
                veracruz_policy::Invalid::CertificateExpired { .. } => {
                    rustls::CertificateError::Expired
                }
                veracruz_policy::Invalid::CertificateNotYetValid { .. } => {
                    rustls::CertificateError::NotValidYet
                }
                _ => rustls::CertificateError::BadEncoding,
            })
        })?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Only TLS 1.3 is offered, so this is never reached; refuse rather than trust.
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The ring provider restricted to the policy's TLS 1.3 suites, in the policy's order.
pub fn provider_for(policy: &Policy) -> Result<CryptoProvider, String> {
    let mut provider = rustls::crypto::ring::default_provider();
    let all = provider.cipher_suites.clone();
    let mut chosen = Vec::new();
    for name in &policy.document().tls.cipher_suites {
        let suite = all
            .iter()
            .find(|s| format!("{:?}", s.suite()) == *name)
            .ok_or_else(|| format!("cipher suite {name} is not available in this build"))?;
        chosen.push(*suite);
    }
    provider.cipher_suites = chosen;
    Ok(provider)
}

/// The server configuration once the certificate chain is installed.
pub fn server_config(
    policy: &Arc<Policy>,
    chain: Vec<CertificateDer<'static>>,
    key_pkcs8: Vec<u8>,
) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(provider_for(policy)?);
    let verifier = Arc::new(PolicyClientVerifier::new(policy.clone(), &provider));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            chain,
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8)),
        )
        .map_err(|e| format!("the certificate chain does not match the runtime key: {e}"))?;
    // Resumption would let a session skip the client-certificate check; every session does a
    // full handshake.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}
