//! The verification pipeline: one attestation request in, a certificate or a named refusal out,
//! and an audit row either way.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use veracruz_attestation::{CertificateAuthority, CsrError, IssueRequest};
use veracruz_evidence::{check_binding, Binding, Claims, EvidenceError, Verifier};
use veracruz_policy::Platform;

use crate::api::{AttestationRequest, AttestationResponse, ChallengeResponse, ErrorBody};
use crate::check::Check;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{Challenge, Consumed, NewAttempt, Store, StoreError};

/// Largest decoded evidence accepted. Hardware reports with their certificate chains are a few
/// tens of KiB at most.
pub const MAX_EVIDENCE_LEN: usize = 256 * 1024;
/// Largest request body accepted by `POST /v1/attestations`.
pub const MAX_BODY_LEN: usize = 512 * 1024;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot read {path}: {source}")]
    ReadCa {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("CA: {0}")]
    Ca(#[from] veracruz_attestation::CaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot set up the `{platform}` evidence verifier: {source}")]
    Verifier {
        platform: Platform,
        source: EvidenceError,
    },
    #[error("HTTP server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A refusal or error on its way to the client.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub check: Check,
    pub reason: String,
    pub attempt_id: Option<i64>,
}

impl Refusal {
    fn new(check: Check, reason: impl Into<String>) -> Self {
        Refusal {
            check,
            reason: reason.into(),
            attempt_id: None,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            check: self.check.as_str().to_string(),
            reason: self.reason.clone(),
            attempt_id: self.attempt_id,
        }
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "database failure");
        Refusal::new(
            Check::Internal,
            "the service's database failed; see its log",
        )
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The attestation service: configuration, CA, database and one verifier per platform.
pub struct AttestationService {
    pub(crate) config: Config,
    pub(crate) ca: CertificateAuthority,
    pub(crate) store: Store,
    verifiers: HashMap<Platform, Arc<dyn Verifier>>,
    pub(crate) metrics: Metrics,
    rng: SystemRandom,
}

impl std::fmt::Debug for AttestationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttestationService")
            .field("config", &self.config)
            .field("platforms", &self.verifiers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl AttestationService {
    /// Loads the CA, opens the database (applying migrations) and installs a verifier for `linux`
    /// and for every hardware platform the configuration names (from `veracruz-evidence`).
    /// [`Self::with_verifier`] replaces one.
    pub async fn new(config: Config) -> Result<Self, ServiceError> {
        config.validate()?;
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path).map_err(|source| ServiceError::ReadCa {
                path: path.to_path_buf(),
                source,
            })
        };
        let ca =
            CertificateAuthority::from_pem(&read(&config.ca_certificate)?, &read(&config.ca_key)?)?;
        let store = Store::open(&config.database).await?;
        let service = AttestationService {
            config,
            ca,
            store,
            verifiers: HashMap::new(),
            metrics: Metrics::default(),
            rng: SystemRandom::new(),
        };
        let mut service =
            service.with_verifier(Arc::new(veracruz_attestation::linux::LinuxVerifier));
        // One hardware verifier per configured platform; an unusable verifier configuration
        // stops the service rather than leaving a platform silently unverifiable.
        for (platform, pc) in &service.config.platforms.clone() {
            if platform.is_insecure() {
                continue;
            }
            let mut vc = service.config.verifier.clone();
            vc.allow_debug = pc.allow_debug;
            let verifier = veracruz_evidence::verifier_for(*platform, &vc).map_err(|source| {
                ServiceError::Verifier {
                    platform: *platform,
                    source,
                }
            })?;
            service.verifiers.insert(*platform, Arc::from(verifier));
        }
        Ok(service)
    }

    /// Installs (or replaces) the verifier for its platform.
    pub fn with_verifier(mut self, verifier: Arc<dyn Verifier>) -> Self {
        self.verifiers.insert(verifier.platform(), verifier);
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn ca_certificate_pem(&self) -> &str {
        self.ca.certificate_pem()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Issues and stores a fresh single-use challenge.
    pub async fn create_challenge(&self) -> Result<ChallengeResponse, Refusal> {
        let mut id = [0u8; 16];
        let mut nonce = [0u8; 32];
        self.rng
            .fill(&mut id)
            .and_then(|()| self.rng.fill(&mut nonce))
            .map_err(|_| Refusal::new(Check::Internal, "system random source failed"))?;
        let now = now_ms();
        let challenge = Challenge {
            id: hex::encode(id),
            nonce,
            expires_at_ms: now + self.config.challenge_lifetime_secs as i64 * 1000,
        };
        self.store.insert_challenge(&challenge, now).await?;
        self.metrics.challenge_issued();
        Ok(ChallengeResponse {
            challenge_id: challenge.id,
            nonce: hex::encode(nonce),
            expires_at: challenge.expires_at_ms / 1000,
        })
    }

    /// Runs every check on a `POST /v1/attestations` body, records the attempt, and returns the
    /// certificate chain or the first failed check. No certificate leaves without its audit row.
    pub async fn attest(&self, body: &[u8]) -> Result<AttestationResponse, Refusal> {
        let started = Instant::now();
        let mut record = NewAttempt {
            time_ms: now_ms(),
            ..NewAttempt::default()
        };
        let result = self.run_checks(body, &mut record).await;
        let outcome = match result {
            Ok(issued) => {
                record.accepted = true;
                record.serial = Some(hex::encode(&issued.serial));
                record.not_after_ms = Some(issued.not_after * 1000);
                match self.store.record_attempt(&record).await {
                    Ok(id) => {
                        tracing::info!(attempt = id, platform = ?record.platform, serial = ?record.serial, "attestation accepted");
                        Ok(AttestationResponse {
                            certificate_chain: issued.chain_pem,
                            serial: hex::encode(&issued.serial),
                            not_before: issued.not_before,
                            not_after: issued.not_after,
                            attempt_id: id,
                        })
                    }
                    Err(e) => Err(Refusal::from(e)),
                }
            }
            Err(mut refusal) => {
                record.accepted = false;
                record.check = Some(refusal.check.as_str().to_string());
                record.reason = Some(refusal.reason.clone());
                match self.store.record_attempt(&record).await {
                    Ok(id) => {
                        tracing::info!(attempt = id, check = %refusal.check, reason = %refusal.reason, "attestation refused");
                        refusal.attempt_id = Some(id);
                        Err(refusal)
                    }
                    Err(e) => Err(Refusal::from(e)),
                }
            }
        };
        self.metrics
            .attestation(outcome.as_ref().err().map(|r| r.check), started.elapsed());
        outcome
    }

    async fn run_checks(
        &self,
        body: &[u8],
        record: &mut NewAttempt,
    ) -> Result<veracruz_attestation::Issued, Refusal> {
        let req: AttestationRequest = serde_json::from_slice(body).map_err(|e| {
            Refusal::new(
                Check::Request,
                format!("request body is not an attestation request: {e}"),
            )
        })?;
        // Recorded as given, bounded, so that the audit shows what was attempted.
        record.challenge_id = given(&req.challenge_id, 64);
        record.platform = given(&req.platform, 32);
        record.policy_hash = given(&req.policy_hash, 64);

        // 1. The challenge: exists, unused (now consumed), unexpired.
        let now = now_ms();
        let nonce = if !is_challenge_id(&req.challenge_id) {
            return Err(Refusal::new(
                Check::ChallengeUnknown,
                "challenge_id is not one this service issued",
            ));
        } else {
            match self.store.consume_challenge(&req.challenge_id, now).await? {
                Consumed::Unknown => {
                    return Err(Refusal::new(
                        Check::ChallengeUnknown,
                        "challenge_id is not one this service issued",
                    ))
                }
                Consumed::AlreadyUsed => {
                    return Err(Refusal::new(
                        Check::ChallengeUsed,
                        "challenge was already used; request a new one",
                    ))
                }
                Consumed::Fresh { expires_at_ms, .. } if expires_at_ms < now => {
                    return Err(Refusal::new(
                        Check::ChallengeExpired,
                        format!(
                            "challenge expired {} ms ago; request a new one",
                            now - expires_at_ms
                        ),
                    ))
                }
                Consumed::Fresh { nonce, .. } => nonce,
            }
        };

        // The remaining fields' syntax; the challenge is spent already.
        let policy_hash: [u8; 32] = hex::decode(&req.policy_hash)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| {
                Refusal::new(
                    Check::Request,
                    "policy_hash must be 64 hex characters (SHA-256)",
                )
            })?;
        if req.evidence.len() > MAX_EVIDENCE_LEN.div_ceil(3) * 4 {
            return Err(Refusal::new(
                Check::Request,
                format!("evidence is larger than {MAX_EVIDENCE_LEN} bytes"),
            ));
        }
        let evidence = base64::engine::general_purpose::STANDARD
            .decode(req.evidence.trim())
            .map_err(|e| {
                Refusal::new(
                    Check::Request,
                    format!("evidence is not standard base64: {e}"),
                )
            })?;

        // 2. The CSR parses and its self-signature verifies.
        let csr = veracruz_attestation::verify_csr_pem(&req.csr).map_err(|e| match e {
            CsrError::BadSignature(_) => Refusal::new(Check::CsrSignature, e.to_string()),
            _ => Refusal::new(Check::CsrInvalid, e.to_string()),
        })?;
        record.key_hash = Some(hex::encode(csr.key_hash));

        // 3. The evidence verifies for its platform.
        let platform: Platform =
            req.platform
                .parse()
                .map_err(|e: veracruz_policy::platform::UnknownPlatform| {
                    Refusal::new(Check::PlatformNotAccepted, e.to_string())
                })?;
        let platform_config = self.config.platforms.get(&platform).ok_or_else(|| {
            Refusal::new(
                Check::PlatformNotAccepted,
                format!("platform `{platform}` is not accepted by this service (no [platforms.{platform}] section)"),
            )
        })?;
        if platform.is_insecure() && !platform_config.allow_insecure {
            return Err(Refusal::new(
                Check::PlatformInsecure,
                format!("platform `{platform}` evidence is self-asserted and this service does not allow insecure platforms"),
            ));
        }
        let verifier = self.verifiers.get(&platform).cloned().ok_or_else(|| {
            Refusal::new(
                Check::PlatformUnsupported,
                format!("this build of the service has no verifier for `{platform}`"),
            )
        })?;
        let now_secs = (now / 1000) as u64;
        // Hardware verifiers walk certificate chains; keep that off the async workers.
        let claims: Claims =
            tokio::task::spawn_blocking(move || verifier.verify(&evidence, now_secs))
                .await
                .map_err(|e| {
                    Refusal::new(Check::Internal, format!("evidence verifier panicked: {e}"))
                })?
                .map_err(|e| match e {
                    EvidenceError::Tcb(_) => Refusal::new(Check::Tcb, e.to_string()),
                    EvidenceError::Debug(_) => Refusal::new(Check::Debug, e.to_string()),
                    _ => Refusal::new(Check::Evidence, e.to_string()),
                })?;
        if claims.platform != platform {
            return Err(Refusal::new(
                Check::Evidence,
                format!(
                    "verifier for `{platform}` returned claims for `{}`",
                    claims.platform
                ),
            ));
        }
        record.measurement = Some(hex::encode(&claims.measurement));
        record.debug = Some(claims.debug);
        record.tcb_status = claims.tcb_status.as_deref().map(|s| truncate(s, 64));

        // 4. The evidence binds this nonce, the CSR's key and the claimed policy hash.
        let binding = Binding {
            nonce,
            key_hash: csr.key_hash,
            policy_hash,
        };
        check_binding(&claims, &binding).map_err(|_| {
            Refusal::new(
                Check::Binding,
                "evidence report data does not bind this challenge's nonce, the CSR's public key hash and the given policy hash",
            )
        })?;

        // 5. The measurement is accepted for the platform; then debug mode and TCB level.
        if !self
            .config
            .accepted_measurements(platform)
            .contains(&claims.measurement)
        {
            return Err(Refusal::new(
                Check::Measurement,
                format!(
                    "measurement {} is not accepted for platform `{platform}`",
                    hex::encode(&claims.measurement)
                ),
            ));
        }
        if claims.debug && !platform_config.allow_debug {
            return Err(Refusal::new(
                Check::Debug,
                format!("the isolate runs in debug mode and `{platform}` debug isolates are not accepted"),
            ));
        }
        if let Some(accepted) = &platform_config.accepted_tcb_status {
            match &claims.tcb_status {
                Some(status) if accepted.iter().any(|a| a == status) => {}
                Some(status) => {
                    return Err(Refusal::new(
                        Check::Tcb,
                        format!("TCB status `{status}` is not one of the accepted {accepted:?}"),
                    ))
                }
                None => {
                    return Err(Refusal::new(
                        Check::Tcb,
                        format!("the evidence reports no TCB status and `{platform}` requires one of {accepted:?}"),
                    ))
                }
            }
        }

        self.ca
            .issue(&IssueRequest {
                spki_der: &csr.spki_der,
                platform,
                measurement: &claims.measurement,
                policy_hash,
                debug: claims.debug,
                tcb_status: claims.tcb_status.as_deref(),
                now: now / 1000,
                lifetime_secs: self.config.certificate_lifetime_secs,
            })
            .map_err(|e| Refusal::new(Check::Internal, format!("issuing failed: {e}")))
    }
}

fn is_challenge_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A request field for the audit record: absent when empty, bounded otherwise.
fn given(s: &str, max: usize) -> Option<String> {
    (!s.is_empty()).then(|| truncate(s, max))
}
