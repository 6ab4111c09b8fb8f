//! Test fixtures: a real attestation CA, real runtime certificates, real policies, and
//! `TestRuntimePeer`, a minimal rustls TLS 1.3 server on loopback that stands in for the
//! runtime's side of the protocol (client certificates required, matched exactly against the
//! policy's principals, as the runtime does).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

use prost::Message;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use serde_json::json;
use veracruz_attestation::{
    create_csr_pem, generate_ca, parse_pem_chain, verify_csr_pem, CaAlgorithm,
    CertificateAuthority, IssueRequest,
};
use veracruz_client::v1::{self, request, response};
use veracruz_policy::{Platform, Policy};
use veracruz_protocol::{read_frame, write_frame, DEFAULT_CHUNK_BYTES, MAX_FRAME_BYTES};

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub const GOOD_SNP: [u8; 48] = [0x11; 48];
pub const LINUX_MEASUREMENT: [u8; 32] = [0x33; 32];

pub fn make_ca(name: &str) -> CertificateAuthority {
    let g = generate_ca(name, CaAlgorithm::P256, 30).unwrap();
    CertificateAuthority::from_pem(&g.certificate_pem, &g.key_pem).unwrap()
}

/// A CA valid since 2025 (for runs that finished before a CA made now would exist).
pub fn make_old_ca(name: &str) -> CertificateAuthority {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2099, 12, 31);
    let cert = params.self_signed(&key).unwrap();
    CertificateAuthority::from_pem(&cert.pem(), &key.serialize_pem()).unwrap()
}

/// A principal: key and self-signed certificate, both PEM.
pub struct Principal {
    pub name: String,
    pub cert_pem: String,
    pub key_pem: String,
}

pub fn principal(name: &str) -> Principal {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    Principal {
        name: name.to_string(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// What the policy says about attestation.
pub struct Trust {
    pub allow_insecure: bool,
    pub measurements: BTreeMap<&'static str, Vec<Vec<u8>>>,
}

impl Trust {
    pub fn snp() -> Trust {
        Trust {
            allow_insecure: false,
            measurements: BTreeMap::from([("sev-snp", vec![GOOD_SNP.to_vec()])]),
        }
    }

    pub fn linux_allowed() -> Trust {
        Trust {
            allow_insecure: true,
            measurements: BTreeMap::from([("linux", vec![LINUX_MEASUREMENT.to_vec()])]),
        }
    }
}

/// Policy file bytes for `principals` trusting `ca`, with the server at `server`.
pub fn policy_bytes(
    ca: &CertificateAuthority,
    principals: &[&Principal],
    trust: &Trust,
    server: SocketAddr,
) -> Vec<u8> {
    let measurements: serde_json::Map<String, serde_json::Value> = trust
        .measurements
        .iter()
        .map(|(p, ms)| {
            (
                p.to_string(),
                json!(ms.iter().map(hex::encode).collect::<Vec<_>>()),
            )
        })
        .collect();
    let doc = json!({
        "version": 1,
        "principals": principals.iter().map(|p| json!({
            "name": p.name,
            "certificate": p.cert_pem,
            "roles": ["program-provider", "data-provider", "result-receiver"],
            "capabilities": {"/program/": "wx", "/input/": "wa", "/output/": "r"},
        })).collect::<Vec<_>>(),
        "programs": [
            {"path": "/program/sum.wasm", "sha256": "ab".repeat(32),
             "capabilities": {"/input/": "r", "/output/": "w"}}
        ],
        "execution": {"strategy": "interpreter", "max_memory_mib": 64, "fuel": 1000000,
                      "max_output_bytes": 1048576},
        "attestation": {"service_url": "http://127.0.0.1:3010",
                        "ca_certificate": ca.certificate_pem(),
                        "allow_insecure_platforms": trust.allow_insecure,
                        "accepted_measurements": measurements},
        "server": {"address": server.to_string()},
    });
    serde_json::to_vec_pretty(&doc).unwrap()
}

/// The runtime's key pair (P-256), as the runtime generates it inside the isolate.
pub struct RuntimeKey {
    pub pkcs8: Vec<u8>,
    pub spki_der: Vec<u8>,
}

pub fn runtime_key() -> RuntimeKey {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let csr = verify_csr_pem(&create_csr_pem(&key).unwrap()).unwrap();
    RuntimeKey {
        pkcs8: key.serialize_der(),
        spki_der: csr.spki_der,
    }
}

/// What the attestation service certifies, with defaults for a good SEV-SNP runtime.
pub struct Claims {
    pub platform: Platform,
    pub measurement: Vec<u8>,
    pub policy_hash: [u8; 32],
    pub debug: bool,
    pub issued_at: i64,
    pub lifetime_secs: u64,
}

impl Claims {
    pub fn good(policy_hash: [u8; 32]) -> Claims {
        Claims {
            platform: Platform::SevSnp,
            measurement: GOOD_SNP.to_vec(),
            policy_hash,
            debug: false,
            issued_at: now(),
            lifetime_secs: 3600,
        }
    }
}

/// Issues a runtime certificate; returns the chain PEM (leaf, then CA).
pub fn issue(ca: &CertificateAuthority, key: &RuntimeKey, c: &Claims) -> String {
    ca.issue(&IssueRequest {
        spki_der: &key.spki_der,
        platform: c.platform,
        measurement: &c.measurement,
        policy_hash: c.policy_hash,
        debug: c.debug,
        tcb_status: None,
        now: c.issued_at,
        lifetime_secs: c.lifetime_secs,
    })
    .unwrap()
    .chain_pem
}

/// Signs a receipt body with the runtime key, as the runtime does.
pub fn sign_receipt(key: &RuntimeKey, chain_pem: &str, body: &v1::ReceiptBody) -> v1::Receipt {
    let rng = SystemRandom::new();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &key.pkcs8, &rng).unwrap();
    let body = body.encode_to_vec();
    let signature = pair.sign(&rng, &body).unwrap().as_ref().to_vec();
    v1::Receipt {
        body,
        signature,
        certificate_chain: chain_pem.to_string(),
    }
}

/// Accepts exactly the certificates of the policy's principals, like the runtime.
#[derive(Debug)]
struct ExactPrincipals {
    allowed: Vec<Vec<u8>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ClientCertVerifier for ExactPrincipals {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self
            .allowed
            .iter()
            .any(|a| a.as_slice() == end_entity.as_ref())
        {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("TLS 1.2 is not offered".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What the test peer saw on its one connection.
#[derive(Debug)]
pub struct PeerLog {
    /// `Ok` if the TLS handshake completed, else the server's handshake error.
    pub handshake: Result<(), String>,
    /// Plaintext application bytes received from the client.
    pub application_bytes: u64,
    /// The requests, by kind, in order.
    pub requests: Vec<String>,
    /// Files the client wrote, as finally stored.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Counts the plaintext bytes read through it.
struct Counting<'a, S> {
    inner: &'a mut S,
    count: u64,
}

impl<S: Read> Read for Counting<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// A test stand-in for the runtime's session handling: enough of the protocol to drive every
/// client operation. Serves one connection, then reports what it saw.
pub struct TestRuntimePeer {
    pub addr: SocketAddr,
    handle: JoinHandle<PeerLog>,
}

impl TestRuntimePeer {
    /// Binds a loopback port (so the policy can name it before the certificate is issued).
    pub fn bind() -> TcpListener {
        TcpListener::bind("127.0.0.1:0").unwrap()
    }

    pub fn start(
        listener: TcpListener,
        chain_pem: &str,
        key: &RuntimeKey,
        policy: &Policy,
        initial_files: BTreeMap<String, Vec<u8>>,
    ) -> TestRuntimePeer {
        let allowed = policy
            .principals()
            .iter()
            .map(|p| p.certificate_der.clone())
            .collect();
        Self::start_allowing(listener, chain_pem, key, policy, initial_files, allowed)
    }

    /// Like [`TestRuntimePeer::start`], but accepting only the client certificates `allowed`.
    pub fn start_allowing(
        listener: TcpListener,
        chain_pem: &str,
        key: &RuntimeKey,
        policy: &Policy,
        initial_files: BTreeMap<String, Vec<u8>>,
        allowed: Vec<Vec<u8>>,
    ) -> TestRuntimePeer {
        let addr = listener.local_addr().unwrap();
        let chain: Vec<CertificateDer<'static>> = parse_pem_chain(chain_pem)
            .unwrap()
            .into_iter()
            .map(CertificateDer::from)
            .collect();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = ExactPrincipals {
            allowed,
            provider: provider.clone(),
        };
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_client_cert_verifier(Arc::new(verifier))
            .with_single_cert(
                chain,
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.pkcs8.clone())),
            )
            .unwrap();
        let policy_hash = policy.hash();
        let signer = RuntimeKey {
            pkcs8: key.pkcs8.clone(),
            spki_der: key.spki_der.clone(),
        };
        let chain_pem = chain_pem.to_string();
        let handle = std::thread::spawn(move || {
            serve(
                listener,
                config,
                policy_hash,
                signer,
                chain_pem,
                initial_files,
            )
        });
        TestRuntimePeer { addr, handle }
    }

    /// Waits for the peer's connection to end and returns what it saw.
    pub fn finish(self) -> PeerLog {
        self.handle.join().expect("test peer panicked")
    }
}

fn serve(
    listener: TcpListener,
    config: ServerConfig,
    policy_hash: [u8; 32],
    key: RuntimeKey,
    chain_pem: String,
    mut files: BTreeMap<String, Vec<u8>>,
) -> PeerLog {
    let (mut sock, _) = listener.accept().unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
    let mut log = PeerLog {
        handshake: Ok(()),
        application_bytes: 0,
        requests: Vec::new(),
        files: BTreeMap::new(),
    };
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut sock) {
            log.handshake = Err(e.to_string());
            return log;
        }
    }
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let mut receipt: Option<v1::Receipt> = None;
    let mut round = 0u64;
    loop {
        let mut counting = Counting {
            inner: &mut tls,
            count: 0,
        };
        let req: Option<v1::Request> =
            read_frame(&mut counting, MAX_FRAME_BYTES, "request").unwrap_or(None);
        log.application_bytes += counting.count;
        let Some(v1::Request { kind: Some(kind) }) = req else {
            break;
        };
        let reply = |tls: &mut rustls::StreamOwned<_, _>, r: v1::Response| {
            write_frame(tls, &r, MAX_FRAME_BYTES).unwrap();
            tls.flush().unwrap();
        };
        match kind {
            request::Kind::Status(_) => {
                log.requests.push("status".into());
                reply(
                    &mut tls,
                    v1::Response::ok("status").with_body(response::Body::Status(
                        v1::StatusReport {
                            policy_hash: hex::encode(policy_hash),
                            state: "provisioning".into(),
                            round,
                            principal: "alice".into(),
                            ..Default::default()
                        },
                    )),
                );
            }
            request::Kind::BeginWrite(w) => {
                log.requests.push(format!("write {}", w.path));
                if w.path.starts_with("/output/") {
                    reply(
                        &mut tls,
                        v1::Response::error(
                            v1::Code::Forbidden,
                            format!("alice lacks the `w` right on {}", w.path),
                        ),
                    );
                    continue;
                }
                reply(&mut tls, v1::Response::ok("send the data"));
                let mut data = Vec::new();
                loop {
                    let mut counting = Counting {
                        inner: &mut tls,
                        count: 0,
                    };
                    let c: Option<v1::Request> =
                        read_frame(&mut counting, MAX_FRAME_BYTES, "chunk").unwrap_or(None);
                    log.application_bytes += counting.count;
                    match c {
                        Some(v1::Request {
                            kind: Some(request::Kind::Chunk(c)),
                        }) => {
                            data.extend_from_slice(&c.data);
                            if c.last {
                                break;
                            }
                        }
                        // The client abandoned the write: nothing is stored.
                        _ => {
                            log.files = files;
                            return log;
                        }
                    }
                }
                let n = data.len();
                let entry = files.entry(w.path.clone()).or_default();
                if w.append {
                    entry.extend_from_slice(&data);
                } else {
                    *entry = data;
                }
                reply(
                    &mut tls,
                    v1::Response::ok(format!("wrote {n} bytes to {}", w.path)),
                );
            }
            request::Kind::Read(r) => {
                log.requests.push(format!("read {}", r.path));
                let Some(data) = files.get(&r.path).cloned() else {
                    reply(
                        &mut tls,
                        v1::Response::error(
                            v1::Code::NotFound,
                            format!("{} does not exist", r.path),
                        ),
                    );
                    continue;
                };
                reply(
                    &mut tls,
                    v1::Response::ok("reading")
                        .with_body(response::Body::FileSize(data.len() as u64)),
                );
                let mut chunks: Vec<&[u8]> = data.chunks(DEFAULT_CHUNK_BYTES).collect();
                if chunks.is_empty() {
                    chunks.push(&[]);
                }
                let count = chunks.len();
                for (i, c) in chunks.into_iter().enumerate() {
                    reply(
                        &mut tls,
                        v1::Response::ok("").with_body(response::Body::Chunk(v1::Chunk {
                            data: c.to_vec().into(),
                            last: i + 1 == count,
                        })),
                    );
                }
            }
            request::Kind::Execute(e) => {
                let program = match e.target {
                    Some(v1::execute::Target::Program(p)) => p,
                    Some(v1::execute::Target::Pipeline(p)) => p,
                    None => String::new(),
                };
                log.requests.push(format!("execute {program}"));
                if program != "/program/sum.wasm" {
                    reply(
                        &mut tls,
                        v1::Response::error(
                            v1::Code::FailedPrecondition,
                            format!("{program} is not a program of the policy"),
                        ),
                    );
                    continue;
                }
                round += 1;
                let digest = |p: &str, d: &[u8]| v1::FileDigest {
                    path: p.into(),
                    sha256: ring::digest::digest(&ring::digest::SHA256, d)
                        .as_ref()
                        .to_vec(),
                };
                let output = b"42\n".to_vec();
                let body = v1::ReceiptBody {
                    policy_hash: policy_hash.to_vec(),
                    round,
                    programs: vec![digest(&program, files.get(&program).map_or(&[][..], |v| v))],
                    pipeline: String::new(),
                    inputs: files
                        .iter()
                        .filter(|(p, _)| p.starts_with("/input/"))
                        .map(|(p, d)| digest(p, d))
                        .collect(),
                    outputs: vec![digest("/output/sum", &output)],
                    exit_code: 0,
                    finished_at: now() as u64,
                };
                files.insert("/output/sum".into(), output);
                receipt = Some(sign_receipt(&key, &chain_pem, &body));
                reply(
                    &mut tls,
                    v1::Response::ok("ran").with_body(response::Body::Result(v1::ExecuteResult {
                        round,
                        exit_code: 0,
                        program,
                    })),
                );
            }
            request::Kind::Receipt(_) => {
                log.requests.push("receipt".into());
                match &receipt {
                    Some(r) => reply(
                        &mut tls,
                        v1::Response::ok("receipt").with_body(response::Body::Receipt(r.clone())),
                    ),
                    None => reply(
                        &mut tls,
                        v1::Response::error(v1::Code::FailedPrecondition, "no run has finished"),
                    ),
                }
            }
            request::Kind::Consent(c) => {
                log.requests.push(format!("consent {} {}", c.kind, c.round));
                reply(&mut tls, v1::Response::ok("consent recorded"));
            }
            request::Kind::Shutdown(_) => {
                log.requests.push("shutdown".into());
                reply(&mut tls, v1::Response::ok("shutting down"));
            }
            request::Kind::Chunk(_) => {
                log.requests.push("stray chunk".into());
                reply(
                    &mut tls,
                    v1::Response::error(v1::Code::Invalid, "a chunk outside a write"),
                );
            }
        }
    }
    log.files = files;
    log
}
