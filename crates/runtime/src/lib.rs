//! The trusted Veracruz runtime: everything that runs inside the isolate.
//!
//! It holds the runtime's TLS key (generated here, never leaving), produces evidence binding
//! that key and the policy hash to the attestation service's nonce, terminates every
//! principal's TLS session, enforces the policy's capabilities and lifecycle on each request,
//! runs programs with the execution engine and signs receipts. It is the trusted computing
//! base: small, no HTTP stack, no CLI framework, every input from the host bounded and checked.
//!
//! The host drives it over one socket ([`link`]): first the policy, then an attestation
//! request (nonce) answered with evidence and a CSR, then the issued certificate chain, then
//! any number of sessions whose bytes are TLS records.

pub mod computation;
pub mod lifecycle;
pub mod link;
pub mod session;
pub mod tls;

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, OnceLock};

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use rustls::pki_types::CertificateDer;
use rustls::ServerConfig;
use sha2::{Digest, Sha256};
use veracruz_evidence::Binding;
use veracruz_policy::{Platform, Policy};
use veracruz_protocol::v1::{
    host_to_runtime, runtime_to_host, Evidence, HostToRuntime, SessionClose,
};
use veracruz_protocol::{read_frame, read_frame_pooled, FrameError, FramePool};

use crate::computation::{Computation, ReceiptSigner};
use crate::link::{HostLink, Inbound, SessionIo, MAX_HOST_FRAME_BYTES};

/// Most TLS sessions served at once; further ones are closed straight away.
pub const MAX_SESSIONS: usize = 256;

/// Why the runtime stopped.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("the host channel failed: {0}")]
    Host(#[from] FrameError),
    #[error("the host closed the channel before sending the policy")]
    NoPolicy,
    #[error("the host's first message was not the policy")]
    PolicyExpected,
    #[error("the policy is invalid: {0}")]
    Policy(#[from] veracruz_policy::PolicyError),
    #[error("cannot confine the runtime: {0}")]
    Confine(String),
    #[error("cannot generate the runtime key: {0}")]
    Key(String),
    #[error("cannot set up the execution engine: {0}")]
    Engine(#[from] veracruz_engine::EngineError),
}

/// The runtime's key pair: TLS, CSR and receipts all use it.
pub struct RuntimeKey {
    rcgen: rcgen::KeyPair,
    signer: EcdsaKeyPair,
    chain_pem: OnceLock<String>,
}

impl RuntimeKey {
    pub fn generate() -> Result<RuntimeKey, RuntimeError> {
        let rcgen = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| RuntimeError::Key(e.to_string()))?;
        let signer = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            &rcgen.serialize_der(),
            &SystemRandom::new(),
        )
        .map_err(|e| RuntimeError::Key(e.to_string()))?;
        Ok(RuntimeKey {
            rcgen,
            signer,
            chain_pem: OnceLock::new(),
        })
    }

    /// SHA-256 of the DER SubjectPublicKeyInfo: what evidence binds.
    pub fn key_hash(&self) -> [u8; 32] {
        Sha256::digest(self.rcgen.public_key_der()).into()
    }
}

impl ReceiptSigner for RuntimeKey {
    fn sign(&self, body: &[u8]) -> Vec<u8> {
        self.signer
            .sign(&SystemRandom::new(), body)
            .map(|s| s.as_ref().to_vec())
            // ring fails only if the system random source fails; an unsigned receipt would be
            // useless, so fail loudly rather than return one.
            .expect("the system random source failed while signing a receipt")
    }

    fn chain_pem(&self) -> String {
        self.chain_pem.get().cloned().unwrap_or_default()
    }
}

/// Produces evidence for the platform the runtime finds itself on.
pub trait EvidenceSource {
    /// Evidence binding `binding`, and the platform it is for.
    fn evidence(&self, binding: &Binding) -> Result<(Platform, Vec<u8>), String>;
}

/// The `linux` process isolate: self-asserted evidence naming the executable's hash.
pub struct LinuxEvidence {
    pub measurement: [u8; 32],
}

impl EvidenceSource for LinuxEvidence {
    fn evidence(&self, binding: &Binding) -> Result<(Platform, Vec<u8>), String> {
        Ok((
            Platform::Linux,
            veracruz_attestation::linux::encode_evidence(&self.measurement, binding),
        ))
    }
}

/// A hardware TEE's evidence interface (SEV-SNP, TDX, Nitro), found by probing at start.
pub struct TeeEvidence(pub Box<dyn veracruz_evidence::provider::EvidenceProvider>);

impl EvidenceSource for TeeEvidence {
    fn evidence(&self, binding: &Binding) -> Result<(Platform, Vec<u8>), String> {
        let produced = self.0.produce(binding).map_err(|e| e.to_string())?;
        let platform = produced.platform();
        let bytes = produced.into_evidence(None).ok_or_else(|| {
            format!(
                "the {platform} evidence from {} needs endorsements (VCEK or DCAP collateral) \
                 that this machine did not supply",
                self.0.name()
            )
        })?;
        Ok((platform, bytes))
    }
}

/// Idle host-frame buffers kept for reuse (`FramePool`): a few dozen relay frames.
const HOST_FRAME_POOL_BYTES: usize = 8 << 20;

/// Serves the host channel until the host closes it or the computation shuts down.
/// `confine` runs once the policy has been read, before any key exists.
pub fn serve(
    stream: UnixStream,
    evidence: &dyn EvidenceSource,
    confine: impl FnOnce() -> Result<(), String>,
) -> Result<(), RuntimeError> {
    let link = HostLink::new(stream.try_clone().map_err(FrameError::Io)?);
    let mut reader = stream;
    let first: HostToRuntime = read_frame(&mut reader, MAX_HOST_FRAME_BYTES, "host message")?
        .ok_or(RuntimeError::NoPolicy)?;
    let Some(host_to_runtime::Kind::Policy(policy_bytes)) = first.kind else {
        link.refuse("the first message must be the policy");
        return Err(RuntimeError::PolicyExpected);
    };
    let policy = match Policy::from_bytes(&policy_bytes) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            link.refuse(format!("the policy is invalid: {e}"));
            return Err(e.into());
        }
    };
    drop(policy_bytes);
    tracing::info!(policy = %policy.hash_hex(), "policy received");
    confine().map_err(RuntimeError::Confine)?;

    let key = Arc::new(RuntimeKey::generate()?);
    let csr_pem = veracruz_attestation::create_csr_pem(&key.rcgen)
        .map_err(|e| RuntimeError::Key(e.to_string()))?;
    let computation = Arc::new(Computation::new(policy.clone(), key.clone())?);
    let mut config: Option<Arc<ServerConfig>> = None;
    let mut sessions: HashMap<u64, SyncSender<Inbound>> = HashMap::new();

    // Session data arrives here one frame at a time and is consumed by the session threads;
    // their buffers come back to this pool, so the bulk path does not allocate per frame.
    let frames = FramePool::new(HOST_FRAME_POOL_BYTES);
    loop {
        let Some(msg) = read_frame_pooled::<_, HostToRuntime>(
            &mut reader,
            MAX_HOST_FRAME_BYTES,
            "host message",
            &frames,
        )?
        else {
            tracing::info!("the host closed the channel");
            return Ok(());
        };
        match msg.kind {
            None | Some(host_to_runtime::Kind::Policy(_)) => {
                link.refuse("the policy was already received")
            }
            Some(host_to_runtime::Kind::Attest(req)) => {
                let Ok(nonce) = <[u8; 32]>::try_from(req.nonce.as_slice()) else {
                    link.refuse(format!("a nonce must be 32 bytes, not {}", req.nonce.len()));
                    continue;
                };
                let binding = Binding {
                    nonce,
                    key_hash: key.key_hash(),
                    policy_hash: policy.hash(),
                };
                match evidence.evidence(&binding) {
                    Ok((platform, ev)) => link.send(runtime_to_host::Kind::Evidence(Evidence {
                        platform: platform.as_str().to_string(),
                        evidence: ev,
                        csr_pem: csr_pem.clone(),
                        policy_hash: policy.hash().to_vec(),
                    }))?,
                    Err(e) => link.refuse(format!("cannot produce evidence: {e}")),
                }
            }
            Some(host_to_runtime::Kind::Install(install)) => {
                if config.is_some() {
                    link.refuse("a certificate chain is already installed");
                    continue;
                }
                match install_chain(&policy, &key, &install.chain_pem) {
                    Ok(c) => {
                        let _ = key.chain_pem.set(install.chain_pem);
                        config = Some(c);
                        tracing::info!("certificate installed; accepting sessions");
                        link.send(runtime_to_host::Kind::Ready(true))?;
                    }
                    Err(e) => link.refuse(format!("certificate chain refused: {e}")),
                }
            }
            Some(host_to_runtime::Kind::Open(open)) => {
                let id = open.session;
                let refuse = |why: &str| {
                    link.refuse(format!("session {id}: {why}"));
                    let _ = link.send(runtime_to_host::Kind::Close(SessionClose { session: id }));
                };
                let Some(cfg) = config.clone() else {
                    refuse("no certificate is installed yet");
                    continue;
                };
                if sessions.contains_key(&id) {
                    refuse("already open");
                    continue;
                }
                if sessions.len() >= MAX_SESSIONS {
                    refuse("too many sessions");
                    continue;
                }
                let (io, tx) = SessionIo::new(id, link.clone());
                sessions.insert(id, tx);
                let c = computation.clone();
                let l = link.clone();
                std::thread::Builder::new()
                    .name(format!("session-{id}"))
                    .spawn(move || {
                        if session::run(id, io, cfg, c) {
                            tracing::info!("shut down by quorum; exiting");
                            let _ = l.send(runtime_to_host::Kind::ShutDown(true));
                            // Exiting drops every secret the process holds.
                            std::process::exit(0);
                        }
                    })
                    .map_err(FrameError::Io)?;
            }
            Some(host_to_runtime::Kind::Data(data)) => match sessions.get(&data.session) {
                Some(tx) => {
                    if tx.send(Inbound::Data(data.data)).is_err() {
                        sessions.remove(&data.session);
                    }
                }
                None => link.refuse(format!("data for unknown session {}", data.session)),
            },
            Some(host_to_runtime::Kind::Close(close)) => {
                // Dropping the sender ends the session's input; its thread then finishes.
                sessions.remove(&close.session);
            }
        }
    }
}

/// Checks the issued chain is for this runtime's key and this policy, and builds the TLS config.
fn install_chain(
    policy: &Arc<Policy>,
    key: &RuntimeKey,
    chain_pem: &str,
) -> Result<Arc<ServerConfig>, String> {
    let ders = veracruz_attestation::parse_pem_chain(chain_pem).map_err(|e| e.to_string())?;
    let leaf = ders.first().ok_or("the chain is empty")?;
    let identity =
        veracruz_attestation::parse_runtime_certificate(leaf).map_err(|e| e.to_string())?;
    if identity.spki_hash != key.key_hash() {
        return Err("the certificate is for another key".into());
    }
    if identity.policy_hash != policy.hash() {
        return Err(format!(
            "the certificate names policy {} but this runtime holds {}",
            hex::encode(identity.policy_hash),
            policy.hash_hex()
        ));
    }
    let chain = ders.into_iter().map(CertificateDer::from).collect();
    tls::server_config(policy, chain, key.rcgen.serialize_der())
}
