//! The attested session with a runtime and the requests a principal can make over it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::{ring as ring_provider, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, StreamOwned, SupportedCipherSuite};
use tracing::{debug, info};
use veracruz_attestation::{RuntimeIdentity, RUNTIME_DNS_NAME};
use veracruz_policy::{policy_hash, Policy};
use veracruz_protocol::v1::{self, request, response};
use veracruz_protocol::{
    read_frame_pooled, write_frame_with, FrameError, FramePool, DEFAULT_CHUNK_BYTES,
    MAX_CHUNK_BYTES, MAX_FRAME_BYTES,
};

use crate::verify::{AttestationError, AttestedRuntimeVerifier, RuntimeRequirements};

/// Largest identity file (certificate or key PEM) accepted.
pub const MAX_IDENTITY_PEM_BYTES: usize = 64 * 1024;

/// Idle frame and chunk buffers a client keeps for reuse.
const CLIENT_FRAME_POOL_BYTES: usize = 4 << 20;

/// Progress of a transfer: `(bytes done, bytes in total)`.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the identity is unusable: {0}")]
    Identity(String),
    #[error("the identity certificate is not the certificate of any principal in the policy")]
    NotAPrincipal,
    #[error(
        "the policy bytes given do not hash to the policy given (expected {expected}, got {got})"
    )]
    PolicyBytesMismatch { expected: String, got: String },
    #[error("the policy cannot be used for TLS: {0}")]
    Config(String),
    #[error("invalid client options: {0}")]
    Options(String),
    #[error("cannot resolve server address `{addr}`: {source}")]
    Resolve { addr: String, source: io::Error },
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    /// The runtime's certificate failed a check: nothing was sent to it.
    #[error("runtime attestation failed: {0}")]
    Attestation(#[from] AttestationError),
    #[error("TLS handshake with {addr} failed: {source}")]
    Handshake { addr: String, source: io::Error },
    #[error("the runtime ended the session with the TLS alert `{0}` (for a client certificate: it is not a principal of the runtime's policy, or its key does not match)")]
    PeerAlert(String),
    /// The runtime answered with a non-OK status; `reason` is its text, verbatim.
    #[error("the runtime refused ({}): {reason}", code_name(*code))]
    Refused { code: v1::Code, reason: String },
    #[error("the runtime broke the protocol: {0}")]
    Protocol(String),
    #[error("the runtime closed the session")]
    Closed,
    #[error("connection to the runtime: {0}")]
    Frame(FrameError),
    #[error("reading the local data for {path}: {source}")]
    Input { path: String, source: io::Error },
    #[error("writing the local copy of {path}: {source}")]
    Output { path: String, source: io::Error },
    #[error("the session is unusable: an earlier transfer was abandoned in the middle")]
    SessionBroken,
}

impl From<FrameError> for ClientError {
    fn from(e: FrameError) -> Self {
        if let FrameError::Io(io) = &e {
            if let Some(alert) = peer_alert(io) {
                return ClientError::PeerAlert(alert);
            }
        }
        ClientError::Frame(e)
    }
}

/// A TLS alert the peer sent, if that is what the I/O error is.
fn peer_alert(e: &io::Error) -> Option<String> {
    match e.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(alert) => Some(format!("{alert:?}")),
        _ => None,
    }
}

/// A stable lower-case name for a status code, for messages and JSON.
pub fn code_name(code: v1::Code) -> &'static str {
    match code {
        v1::Code::Ok => "ok",
        v1::Code::Invalid => "invalid",
        v1::Code::Forbidden => "forbidden",
        v1::Code::NotFound => "not-found",
        v1::Code::FailedPrecondition => "failed-precondition",
        v1::Code::HashMismatch => "hash-mismatch",
        v1::Code::ExecutionFailed => "execution-failed",
        v1::Code::TooLarge => "too-large",
        v1::Code::ShutDown => "shut-down",
        v1::Code::Internal => "internal",
    }
}

/// A principal's key and certificate: the TLS client identity.
pub struct Identity {
    certificate: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Identity").finish_non_exhaustive()
    }
}

impl Identity {
    /// Reads a PEM certificate (the one the policy names; only the first block is used) and
    /// a PEM private key (PKCS#8, SEC1 or PKCS#1).
    pub fn from_pem(certificate_pem: &[u8], key_pem: &[u8]) -> Result<Self, ClientError> {
        for (what, bytes) in [("certificate", certificate_pem), ("key", key_pem)] {
            if bytes.len() > MAX_IDENTITY_PEM_BYTES {
                return Err(ClientError::Identity(format!(
                    "the {what} file is {} bytes, more than {MAX_IDENTITY_PEM_BYTES}",
                    bytes.len()
                )));
            }
        }
        let certificate = CertificateDer::pem_slice_iter(certificate_pem)
            .next()
            .ok_or_else(|| ClientError::Identity("no CERTIFICATE block in the certificate".into()))?
            .map_err(|e| ClientError::Identity(format!("certificate: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| ClientError::Identity(format!("private key: {e}")))?;
        Ok(Identity { certificate, key })
    }

    pub fn certificate_der(&self) -> &[u8] {
        self.certificate.as_ref()
    }
}

/// How to connect.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// `host:port` to connect to instead of the policy's `server.address`.
    pub server: Option<String>,
    /// Bound on establishing the TCP connection.
    pub connect_timeout: Duration,
    /// Bound on the TLS handshake, attestation checks included.
    pub handshake_timeout: Duration,
    /// Bound on each read or write after the handshake; `None` waits as long as the runtime
    /// takes (a run may legitimately take long; the policy limits it, not the client).
    pub io_timeout: Option<Duration>,
    /// Accept a runtime whose certificate says it runs in a debug mode.
    pub allow_debug_runtime: bool,
    /// Bytes per chunk when sending a file: 1 to `MAX_CHUNK_BYTES` (1 MiB). The default
    /// (256 KiB) was chosen by measurement (docs/PERFORMANCE.md).
    pub chunk_bytes: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            server: None,
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(30),
            io_timeout: None,
            allow_debug_runtime: false,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
        }
    }
}

/// What an execution reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecuteOutcome {
    pub round: u64,
    pub exit_code: i32,
    pub program: String,
    /// The runtime's description of what happened.
    pub reason: String,
}

/// An attested session with a runtime. Every request goes over TLS that terminates inside
/// the isolate, and only after the runtime's certificate passed every check.
pub struct Client {
    stream: StreamOwned<ClientConnection, TcpStream>,
    runtime: RuntimeIdentity,
    principal: String,
    server: SocketAddr,
    /// Encoding buffer kept between requests.
    scratch: Vec<u8>,
    /// Buffers for response frames and outgoing chunks, reused.
    frames: FramePool,
    chunk_bytes: usize,
    broken: bool,
    closed: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.server)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// Maps the policy's suite names to ring's implementations, in the policy's order.
fn provider_for(policy: &Policy) -> Result<CryptoProvider, ClientError> {
    let all = ring_provider::ALL_CIPHER_SUITES;
    let mut suites: Vec<SupportedCipherSuite> = Vec::new();
    for name in &policy.document().tls.cipher_suites {
        let suite = all
            .iter()
            .find(|s| s.tls13().is_some() && format!("{:?}", s.suite()) == *name)
            .ok_or_else(|| {
                ClientError::Config(format!(
                    "`{name}` is not a TLS 1.3 cipher suite this client has"
                ))
            })?;
        suites.push(*suite);
    }
    if suites.is_empty() {
        return Err(ClientError::Config(
            "the policy names no cipher suite".into(),
        ));
    }
    Ok(CryptoProvider {
        cipher_suites: suites,
        ..ring_provider::default_provider()
    })
}

fn connect_tcp(addr: &str, timeout: Duration) -> Result<TcpStream, ClientError> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|source| ClientError::Resolve {
            addr: addr.to_string(),
            source,
        })?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name resolves to no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(ClientError::Connect {
        addr: addr.to_string(),
        source: last,
    })
}

impl Client {
    /// Connects to the runtime through the delegate's server and completes an attested TLS 1.3
    /// handshake. Returns only once the runtime's certificate passed every check of
    /// [`RuntimeRequirements::check`] and the handshake signature verified; until then not one
    /// application byte is sent.
    ///
    /// The TLS server name is the fixed [`RUNTIME_DNS_NAME`] every runtime certificate carries,
    /// and no SNI is sent: the runtime's identity is its attested measurement and policy hash,
    /// not a host name, and the address is the untrusted delegate's, so naming it proves nothing.
    pub fn connect(
        policy: &Policy,
        policy_bytes: &[u8],
        identity: Identity,
        options: &ClientOptions,
    ) -> Result<Client, ClientError> {
        if !(1..=MAX_CHUNK_BYTES).contains(&options.chunk_bytes) {
            return Err(ClientError::Options(format!(
                "chunk_bytes is {}; it must be 1 to {MAX_CHUNK_BYTES}",
                options.chunk_bytes
            )));
        }
        let got = policy_hash(policy_bytes);
        if got != policy.hash() {
            return Err(ClientError::PolicyBytesMismatch {
                expected: policy.hash_hex(),
                got: hex::encode(got),
            });
        }
        let principal = policy
            .principal_by_certificate(identity.certificate_der())
            .ok_or(ClientError::NotAPrincipal)?
            .name
            .clone();
        let requirements =
            RuntimeRequirements::from_policy(policy)?.allow_debug(options.allow_debug_runtime);
        let verifier = Arc::new(AttestedRuntimeVerifier::new(requirements));
        let mut config = ClientConfig::builder_with_provider(Arc::new(provider_for(policy)?))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| ClientError::Config(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_client_auth_cert(vec![identity.certificate], identity.key)
            .map_err(|e| ClientError::Identity(e.to_string()))?;
        config.enable_sni = false;
        config.enable_early_data = false;
        config.resumption = rustls::client::Resumption::disabled();

        let addr = options
            .server
            .clone()
            .unwrap_or_else(|| policy.document().server.address.clone());
        let sock = connect_tcp(&addr, options.connect_timeout)?;
        let server = sock.peer_addr().map_err(|source| ClientError::Connect {
            addr: addr.clone(),
            source,
        })?;
        // Requests and answers are small frames; do not let Nagle hold them back.
        let _ = sock.set_nodelay(true);
        let set_timeouts = |s: &TcpStream, t: Option<Duration>| {
            s.set_read_timeout(t)
                .and_then(|_| s.set_write_timeout(t))
                .map_err(|source| ClientError::Connect {
                    addr: addr.clone(),
                    source,
                })
        };
        set_timeouts(&sock, Some(options.handshake_timeout))?;

        let name = ServerName::try_from(RUNTIME_DNS_NAME)
            .map_err(|e| ClientError::Config(e.to_string()))?;
        let conn = ClientConnection::new(Arc::new(config), name)
            .map_err(|e| ClientError::Config(e.to_string()))?;
        let mut stream = StreamOwned::new(conn, sock);
        debug!(%server, "TLS handshake");
        while stream.conn.is_handshaking() {
            if let Err(source) = stream.conn.complete_io(&mut stream.sock) {
                if let Some(Err(e)) = verifier.outcome() {
                    return Err(ClientError::Attestation(e));
                }
                if let Some(alert) = peer_alert(&source) {
                    return Err(ClientError::PeerAlert(alert));
                }
                return Err(ClientError::Handshake { addr, source });
            }
        }
        let runtime = match verifier.outcome() {
            Some(Ok(id)) => id,
            Some(Err(e)) => return Err(ClientError::Attestation(e)),
            None => return Err(ClientError::Attestation(AttestationError::NoCertificate)),
        };
        set_timeouts(&stream.sock, options.io_timeout)?;
        info!(
            %server,
            principal,
            platform = %runtime.platform,
            measurement = %hex::encode(&runtime.measurement),
            "attested session established"
        );
        Ok(Client {
            stream,
            runtime,
            principal,
            server,
            scratch: Vec::new(),
            frames: FramePool::new(CLIENT_FRAME_POOL_BYTES),
            chunk_bytes: options.chunk_bytes,
            broken: false,
            closed: false,
        })
    }

    /// What was verified about the runtime during the handshake.
    pub fn runtime(&self) -> &RuntimeIdentity {
        &self.runtime
    }

    /// The policy's name for this client's identity.
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// The address actually connected to (the delegate's server).
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    fn usable(&self) -> Result<(), ClientError> {
        if self.broken {
            Err(ClientError::SessionBroken)
        } else {
            Ok(())
        }
    }

    fn send(&mut self, kind: request::Kind) -> Result<(), ClientError> {
        let req = v1::Request { kind: Some(kind) };
        let sent = write_frame_with(&mut self.stream, &req, MAX_FRAME_BYTES, &mut self.scratch)
            .and_then(|_| self.stream.flush().map_err(FrameError::Io));
        sent.map_err(|e| {
            self.broken = true;
            e.into()
        })
    }

    fn recv(&mut self) -> Result<v1::Response, ClientError> {
        match read_frame_pooled(&mut self.stream, MAX_FRAME_BYTES, "response", &self.frames) {
            Ok(Some(r)) => Ok(r),
            Ok(None) => {
                self.broken = true;
                Err(ClientError::Closed)
            }
            Err(e) => {
                self.broken = true;
                Err(e.into())
            }
        }
    }

    /// Receives one answer and turns a non-OK status into [`ClientError::Refused`].
    fn recv_ok(&mut self) -> Result<v1::Response, ClientError> {
        let r = self.recv()?;
        if r.is_ok() {
            Ok(r)
        } else {
            Err(ClientError::Refused {
                code: r.status(),
                reason: r.reason,
            })
        }
    }

    /// One request, one answer.
    fn call(&mut self, kind: request::Kind) -> Result<v1::Response, ClientError> {
        self.usable()?;
        if let Err(e) = self.send(kind) {
            return Err(self.reason_after_failed_send().unwrap_or(e));
        }
        self.recv_ok()
    }

    /// Writes `size` bytes from `reader` to `path` in the runtime's file system, replacing it.
    /// Returns the runtime's description of what it did.
    pub fn write_file(
        &mut self,
        path: &str,
        reader: impl Read,
        size: u64,
        progress: Progress<'_>,
    ) -> Result<String, ClientError> {
        self.transfer_in(path, false, reader, size, progress)
    }

    /// Appends `size` bytes from `reader` to `path`.
    pub fn append_file(
        &mut self,
        path: &str,
        reader: impl Read,
        size: u64,
        progress: Progress<'_>,
    ) -> Result<String, ClientError> {
        self.transfer_in(path, true, reader, size, progress)
    }

    fn transfer_in(
        &mut self,
        path: &str,
        append: bool,
        mut reader: impl Read,
        size: u64,
        progress: Progress<'_>,
    ) -> Result<String, ClientError> {
        self.call(request::Kind::BeginWrite(v1::BeginWrite {
            path: path.to_string(),
            append,
            size,
        }))?;
        debug!(path, size, append, "sending file");
        let chunk_len = usize::try_from(size).map_or(self.chunk_bytes, |s| s.min(self.chunk_bytes));
        let mut done = 0u64;
        progress(0, size);
        loop {
            let n = (size - done).min(chunk_len as u64) as usize;
            // Read into a pooled buffer that the request carries as it is (no copy into the
            // message) and that comes back once the request is encoded.
            let mut chunk = self.frames.buffer(n);
            if let Err(source) = reader.read_exact(&mut chunk) {
                return Err(self.abandon(ClientError::Input {
                    path: path.to_string(),
                    source: io::Error::new(
                        source.kind(),
                        format!("after {done} of {size} bytes: {source}"),
                    ),
                }));
            }
            let last = done + n as u64 == size;
            if last && has_more(&mut reader) {
                // The source grew after its size was announced: sending a prefix would store
                // something other than what the caller meant, so the write is abandoned and
                // the runtime discards it.
                return Err(self.abandon(ClientError::Input {
                    path: path.to_string(),
                    source: io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the data is longer than the {size} bytes announced (did it change while being sent?)"),
                    ),
                }));
            }
            let sent = self.send(request::Kind::Chunk(v1::Chunk {
                data: self.frames.share(chunk),
                last,
            }));
            if let Err(e) = sent {
                // The runtime may have refused in the middle and closed; its answer says why.
                return Err(self.reason_after_failed_send().unwrap_or(e));
            }
            done += n as u64;
            progress(done, size);
            if last {
                break;
            }
        }
        Ok(self.recv_ok()?.reason)
    }

    /// Marks the session unusable (a transfer cannot be resumed in the middle) and closes it,
    /// so the runtime discards the partial write.
    fn abandon(&mut self, err: ClientError) -> ClientError {
        self.broken = true;
        let _ = self.stream.sock.shutdown(std::net::Shutdown::Both);
        err
    }

    /// After a failed send, the runtime may already have said why it gave up: a refusal, or
    /// a TLS alert (for instance rejecting this client's certificate).
    fn reason_after_failed_send(&mut self) -> Option<ClientError> {
        let _ = self
            .stream
            .sock
            .set_read_timeout(Some(Duration::from_secs(2)));
        match read_frame_pooled::<_, v1::Response>(
            &mut self.stream,
            MAX_FRAME_BYTES,
            "response",
            &self.frames,
        ) {
            Ok(Some(r)) if !r.is_ok() => Some(ClientError::Refused {
                code: r.status(),
                reason: r.reason,
            }),
            Err(FrameError::Io(e)) => peer_alert(&e).map(ClientError::PeerAlert),
            _ => None,
        }
    }

    /// Reads `path` from the runtime into `writer`; returns the number of bytes read.
    pub fn read_file(
        &mut self,
        path: &str,
        mut writer: impl Write,
        progress: Progress<'_>,
    ) -> Result<u64, ClientError> {
        let head = self.call(request::Kind::Read(v1::ReadFile {
            path: path.to_string(),
        }))?;
        let size = match head.body {
            Some(response::Body::FileSize(n)) => n,
            other => {
                self.broken = true;
                return Err(ClientError::Protocol(format!(
                    "the answer to a read of {path} carries {} instead of the file size",
                    body_name(&other)
                )));
            }
        };
        debug!(path, size, "receiving file");
        progress(0, size);
        let mut done = 0u64;
        loop {
            let r = self.recv()?;
            if !r.is_ok() {
                // The runtime gave up in the middle; the stream ends here.
                return Err(ClientError::Refused {
                    code: r.status(),
                    reason: r.reason,
                });
            }
            let chunk = match r.body {
                Some(response::Body::Chunk(c)) => c,
                other => {
                    self.broken = true;
                    return Err(ClientError::Protocol(format!(
                        "expected a chunk of {path}, got {}",
                        body_name(&other)
                    )));
                }
            };
            if chunk.data.len() > MAX_CHUNK_BYTES {
                self.broken = true;
                return Err(ClientError::Protocol(format!(
                    "a chunk of {} bytes exceeds the {MAX_CHUNK_BYTES}-byte maximum",
                    chunk.data.len()
                )));
            }
            done += chunk.data.len() as u64;
            if done > size {
                self.broken = true;
                return Err(ClientError::Protocol(format!(
                    "the runtime announced {size} bytes of {path} but sent more"
                )));
            }
            if let Err(source) = writer.write_all(&chunk.data) {
                return Err(self.abandon(ClientError::Output {
                    path: path.to_string(),
                    source,
                }));
            }
            progress(done, size);
            if chunk.last {
                break;
            }
        }
        if done != size {
            self.broken = true;
            return Err(ClientError::Protocol(format!(
                "the runtime announced {size} bytes of {path} but sent {done}"
            )));
        }
        writer.flush().map_err(|source| ClientError::Output {
            path: path.to_string(),
            source,
        })?;
        Ok(done)
    }

    fn execute(&mut self, target: v1::execute::Target) -> Result<ExecuteOutcome, ClientError> {
        let r = self.call(request::Kind::Execute(v1::Execute {
            target: Some(target),
        }))?;
        match r.body {
            Some(response::Body::Result(res)) => Ok(ExecuteOutcome {
                round: res.round,
                exit_code: res.exit_code,
                program: res.program,
                reason: r.reason,
            }),
            other => Err(ClientError::Protocol(format!(
                "the answer to an execution carries {} instead of its result",
                body_name(&other)
            ))),
        }
    }

    /// Asks the runtime to run the program at `path` (a program of the policy).
    pub fn execute_program(&mut self, path: &str) -> Result<ExecuteOutcome, ClientError> {
        self.execute(v1::execute::Target::Program(path.to_string()))
    }

    /// Asks the runtime to run the pipeline the policy calls `name`.
    pub fn execute_pipeline(&mut self, name: &str) -> Result<ExecuteOutcome, ClientError> {
        self.execute(v1::execute::Target::Pipeline(name.to_string()))
    }

    /// The lifecycle state as the runtime reports it.
    pub fn status(&mut self) -> Result<v1::StatusReport, ClientError> {
        let r = self.call(request::Kind::Status(v1::StatusRequest {}))?;
        match r.body {
            Some(response::Body::Status(s)) => Ok(s),
            other => Err(ClientError::Protocol(format!(
                "the answer to a status request carries {}",
                body_name(&other)
            ))),
        }
    }

    /// Consents to the run numbered `round` (the next one).
    pub fn consent_next_round(&mut self, round: u64) -> Result<String, ClientError> {
        Ok(self
            .call(request::Kind::Consent(v1::Consent {
                kind: v1::ConsentKind::NextRound as i32,
                round,
            }))?
            .reason)
    }

    /// Votes to shut the computation down.
    pub fn vote_shutdown(&mut self) -> Result<String, ClientError> {
        Ok(self
            .call(request::Kind::Consent(v1::Consent {
                kind: v1::ConsentKind::Shutdown as i32,
                round: 0,
            }))?
            .reason)
    }

    /// Asks the runtime to shut down (it does once the policy's quorum has voted).
    pub fn shutdown(&mut self) -> Result<String, ClientError> {
        Ok(self
            .call(request::Kind::Shutdown(v1::ShutdownRequest {}))?
            .reason)
    }

    /// Fetches the signed receipt of the run numbered `round` (0: the latest). Verify it with
    /// [`crate::verify_receipt`] before relying on it.
    pub fn receipt(&mut self, round: u64) -> Result<v1::Receipt, ClientError> {
        let r = self.call(request::Kind::Receipt(v1::ReceiptRequest { round }))?;
        match r.body {
            Some(response::Body::Receipt(rc)) => Ok(rc),
            other => Err(ClientError::Protocol(format!(
                "the answer to a receipt request carries {}",
                body_name(&other)
            ))),
        }
    }

    /// Ends the session cleanly (TLS close_notify), reporting a failure to do so. Dropping a
    /// client does the same, silently.
    pub fn close(mut self) -> Result<(), ClientError> {
        self.closed = true;
        self.stream.conn.send_close_notify();
        self.stream.flush().map_err(|e| FrameError::Io(e).into())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // A broken session's connection is already shut; a closed one has said goodbye.
        if !self.broken && !self.closed {
            self.stream.conn.send_close_notify();
            let _ = self.stream.flush();
        }
    }
}

/// Whether a reader has at least one more byte.
fn has_more(reader: &mut impl Read) -> bool {
    let mut one = [0u8; 1];
    loop {
        match reader.read(&mut one) {
            Ok(n) => return n > 0,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

fn body_name(body: &Option<response::Body>) -> &'static str {
    match body {
        None => "nothing",
        Some(response::Body::FileSize(_)) => "a file size",
        Some(response::Body::Status(_)) => "a status report",
        Some(response::Body::Result(_)) => "an execution result",
        Some(response::Body::Receipt(_)) => "a receipt",
        Some(response::Body::Chunk(_)) => "a file chunk",
    }
}
