//! Starting the runtime, attesting it, and relaying sessions.
//!
//! The relay copies nothing in user space. From a client: bytes are read from its TCP
//! connection into the session's buffer just behind room for a frame header, the header is
//! written in front of them, and the frame goes to the runtime from that buffer. To a client:
//! a frame is read from the runtime into a pooled buffer, and the session data written to the
//! client is a slice of it; the buffer returns to the pool once written, so once the pool is
//! warm nothing is allocated per chunk.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use veracruz_policy::Policy;
use veracruz_protocol::v1::{
    host_to_runtime, runtime_to_host, AttestationRequest, HostToRuntime, InstallCertificate,
    RuntimeToHost, SessionClose, SessionOpen,
};
use veracruz_protocol::{
    Bytes, DataDirection, DataFrameHeader, FrameError, FramePool, DATA_HEADER_MAX_BYTES,
    MAX_CHANNEL_FRAME_BYTES,
};

use crate::framing::{read_frame, write_frame};

/// Bytes read from a client connection per frame sent to the runtime (chosen by measurement:
/// docs/PERFORMANCE.md).
pub const RELAY_CHUNK_BYTES: usize = 64 * 1024;
/// Idle runtime-frame buffers kept for reuse.
const RUNTIME_FRAME_POOL_BYTES: usize = 8 << 20;
/// Largest frame the runtime may send the host.
const MAX_RUNTIME_FRAME: usize = MAX_CHANNEL_FRAME_BYTES;
/// Largest frame the host sends the runtime (a policy can be 4 MiB).
const MAX_HOST_FRAME: usize = veracruz_policy::validate::MAX_POLICY_BYTES + 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("the policy is invalid: {0}")]
    Policy(#[from] veracruz_policy::PolicyError),
    #[error("cannot start the runtime: {0}")]
    Spawn(String),
    #[error("the runtime channel failed: {0}")]
    Channel(#[from] FrameError),
    #[error("the runtime refused: {0}")]
    RuntimeRefused(String),
    #[error("the runtime exited{0}")]
    RuntimeExited(String),
    #[error("attestation failed: {0}")]
    Attestation(#[from] veracruz_attestation_service::client::ClientError),
    #[error("the attestation service sent a nonce that is not 32 bytes of hex")]
    BadNonce,
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("the runtime sent an unexpected message during {0}")]
    Unexpected(&'static str),
    #[error("invalid server options: {0}")]
    Options(String),
}

/// A started runtime process: the host's end of its channel and a way to learn how it ended.
pub struct Spawned {
    pub stream: std::os::unix::net::UnixStream,
    pub pid: u32,
    /// Resolves when the runtime process ends, with a description of how.
    pub exit: tokio::sync::oneshot::Receiver<String>,
    /// Kills the runtime when dropped or fired.
    pub kill: Option<tokio::sync::oneshot::Sender<()>>,
}

/// How to run the server.
pub struct ServerOptions {
    /// The policy file's exact bytes.
    pub policy_bytes: Vec<u8>,
    /// Overrides the policy's attestation service URL (e.g. behind a proxy).
    pub attestation_url: Option<String>,
    /// Overrides the policy's server address (e.g. `127.0.0.1:0` in tests).
    pub listen: Option<String>,
    /// Path of the runtime executable (for logs).
    pub runtime: PathBuf,
    /// Bytes read from a client per frame sent to the runtime: 1 KiB to 1 MiB, normally
    /// [`RELAY_CHUNK_BYTES`].
    pub relay_chunk_bytes: usize,
}

/// An attested runtime with a listening socket; [`Server::serve`] relays until the end.
pub struct Server {
    pub local_addr: SocketAddr,
    pub certificate_chain: String,
    pub platform: String,
    pub pid: u32,
    listener: TcpListener,
    relay_chunk_bytes: usize,
    to_runtime: ToRuntime,
    from_runtime: tokio::net::unix::OwnedReadHalf,
    exit: tokio::sync::oneshot::Receiver<String>,
    _kill: Option<tokio::sync::oneshot::Sender<()>>,
}

async fn next_message(
    reader: &mut tokio::net::unix::OwnedReadHalf,
    during: &'static str,
) -> Result<runtime_to_host::Kind, ServerError> {
    let msg: Option<RuntimeToHost> = read_frame(
        reader,
        MAX_RUNTIME_FRAME,
        "runtime message",
        &FramePool::new(0),
    )
    .await?;
    match msg.and_then(|m| m.kind) {
        None => Err(ServerError::RuntimeExited(format!(" during {during}"))),
        Some(runtime_to_host::Kind::Error(reason)) => Err(ServerError::RuntimeRefused(reason)),
        Some(kind) => Ok(kind),
    }
}

/// Hands the runtime the policy, attests it, and binds the listening socket.
pub async fn start(options: ServerOptions, spawned: Spawned) -> Result<Server, ServerError> {
    if !(1024..=veracruz_protocol::MAX_CHUNK_BYTES).contains(&options.relay_chunk_bytes) {
        return Err(ServerError::Options(format!(
            "relay_chunk_bytes is {}; it must be 1024 to {}",
            options.relay_chunk_bytes,
            veracruz_protocol::MAX_CHUNK_BYTES
        )));
    }
    let policy = Policy::from_bytes(&options.policy_bytes)?;
    spawned
        .stream
        .set_nonblocking(true)
        .map_err(|e| ServerError::Spawn(e.to_string()))?;
    let stream = tokio::net::UnixStream::from_std(spawned.stream)
        .map_err(|e| ServerError::Spawn(e.to_string()))?;
    let (mut reader, mut writer) = stream.into_split();

    write_frame(
        &mut writer,
        &HostToRuntime {
            kind: Some(host_to_runtime::Kind::Policy(options.policy_bytes.clone())),
        },
        MAX_HOST_FRAME,
    )
    .await?;

    let url = options
        .attestation_url
        .clone()
        .unwrap_or_else(|| policy.document().attestation.service_url.clone());
    let service = veracruz_attestation_service::client::Client::new(&url)?;
    let challenge = service.challenge().await?;
    let nonce = hex::decode(&challenge.nonce).map_err(|_| ServerError::BadNonce)?;
    if nonce.len() != 32 {
        return Err(ServerError::BadNonce);
    }
    write_frame(
        &mut writer,
        &HostToRuntime {
            kind: Some(host_to_runtime::Kind::Attest(AttestationRequest { nonce })),
        },
        MAX_HOST_FRAME,
    )
    .await?;
    let runtime_to_host::Kind::Evidence(evidence) =
        next_message(&mut reader, "attestation").await?
    else {
        return Err(ServerError::Unexpected("attestation"));
    };
    let policy_hash: [u8; 32] = evidence
        .policy_hash
        .as_slice()
        .try_into()
        .map_err(|_| ServerError::Unexpected("attestation"))?;
    tracing::info!(platform = %evidence.platform, "runtime produced evidence; asking the attestation service");
    let issued = service
        .attest(
            &challenge.challenge_id,
            &evidence.platform,
            &evidence.evidence,
            &evidence.csr_pem,
            &policy_hash,
        )
        .await?;
    write_frame(
        &mut writer,
        &HostToRuntime {
            kind: Some(host_to_runtime::Kind::Install(InstallCertificate {
                chain_pem: issued.certificate_chain.clone(),
            })),
        },
        MAX_HOST_FRAME,
    )
    .await?;
    match next_message(&mut reader, "certificate installation").await? {
        runtime_to_host::Kind::Ready(true) => {}
        _ => return Err(ServerError::Unexpected("certificate installation")),
    }

    let addr = options
        .listen
        .clone()
        .unwrap_or_else(|| policy.document().server.address.clone());
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| ServerError::Listen {
            addr: addr.clone(),
            source,
        })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| ServerError::Listen { addr, source })?;

    let to_runtime = ToRuntime(Arc::new(tokio::sync::Mutex::new(writer)));

    Ok(Server {
        local_addr,
        certificate_chain: issued.certificate_chain,
        platform: evidence.platform,
        pid: spawned.pid,
        listener,
        relay_chunk_bytes: options.relay_chunk_bytes,
        to_runtime,
        from_runtime: reader,
        exit: spawned.exit,
        _kill: spawned.kill,
    })
}

type Sessions = Arc<Mutex<HashMap<u64, mpsc::Sender<Bytes>>>>;

/// The host's sending half of the runtime channel, shared by every session. A frame is
/// written whole while the lock is held, so frames never interleave; a session waiting for
/// the lock is how a busy runtime slows its clients down.
#[derive(Clone)]
struct ToRuntime(Arc<tokio::sync::Mutex<OwnedWriteHalf>>);

impl ToRuntime {
    async fn send(&self, msg: &HostToRuntime) -> Result<(), FrameError> {
        let frame = veracruz_protocol::encode_frame(msg, MAX_HOST_FRAME)?;
        self.0.lock().await.write_all(&frame).await?;
        Ok(())
    }

    /// Sends `buf[DATA_HEADER_MAX_BYTES..][..n]` as the session's data, putting the frame
    /// header into the room left in front of it.
    async fn send_data(&self, session: u64, buf: &mut [u8], n: usize) -> Result<(), FrameError> {
        let header =
            DataFrameHeader::new(DataDirection::HostToRuntime, session, n, MAX_HOST_FRAME)?;
        let header = header.as_bytes();
        let start = DATA_HEADER_MAX_BYTES - header.len();
        buf[start..DATA_HEADER_MAX_BYTES].copy_from_slice(header);
        self.0
            .lock()
            .await
            .write_all(&buf[start..DATA_HEADER_MAX_BYTES + n])
            .await?;
        Ok(())
    }
}

/// How the relay ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The computation was shut down by its principals; the runtime exited.
    ShutDown,
}

impl Server {
    /// Relays sessions until the runtime shuts down (Ok) or dies (Err).
    pub async fn serve(self) -> Result<Ended, ServerError> {
        let sessions: Sessions = Arc::new(Mutex::new(HashMap::new()));
        let Server {
            listener,
            relay_chunk_bytes,
            to_runtime,
            mut from_runtime,
            exit,
            ..
        } = self;

        let accept_sessions = sessions.clone();
        let accept_tx = to_runtime.clone();
        // Every client's writer task holds a clone; when all are gone, every byte the runtime
        // sent has been handed to its client.
        let (alive, mut all_flushed) = mpsc::channel::<()>(1);
        let accept_alive = alive.clone();
        let accept = tokio::spawn(async move {
            let mut next_id = 0u64;
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        continue;
                    }
                };
                next_id += 1;
                tracing::info!(session = next_id, %peer, "client connected");
                relay_client(
                    next_id,
                    tcp,
                    relay_chunk_bytes,
                    accept_tx.clone(),
                    accept_sessions.clone(),
                    accept_alive.clone(),
                );
            }
        });

        // Frames from the runtime are read into pooled buffers; a session's data is written to
        // its client straight from one, which then comes back here.
        let frames = FramePool::new(RUNTIME_FRAME_POOL_BYTES);
        let result = loop {
            let msg: Option<RuntimeToHost> = match read_frame(
                &mut from_runtime,
                MAX_RUNTIME_FRAME,
                "runtime message",
                &frames,
            )
            .await
            {
                Ok(m) => m,
                Err(e) => break Err(ServerError::Channel(e)),
            };
            let Some(kind) = msg.map(|m| m.kind) else {
                let how = match tokio::time::timeout(std::time::Duration::from_secs(2), exit).await
                {
                    Ok(Ok(how)) => format!(": {how}"),
                    _ => String::new(),
                };
                break Err(ServerError::RuntimeExited(how));
            };
            match kind {
                Some(runtime_to_host::Kind::Data(d)) => {
                    let tx = sessions
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get(&d.session)
                        .cloned();
                    if let Some(tx) = tx {
                        // A slow client only slows its own session: the send waits on its queue.
                        let _ = tx.send(d.data).await;
                    }
                }
                Some(runtime_to_host::Kind::Close(c)) => {
                    sessions
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&c.session);
                }
                Some(runtime_to_host::Kind::Error(reason)) => tracing::warn!("runtime: {reason}"),
                Some(runtime_to_host::Kind::ShutDown(_)) => {
                    tracing::info!("the computation was shut down; the runtime exits");
                    break Ok(Ended::ShutDown);
                }
                Some(other) => tracing::warn!("unexpected runtime message: {other:?}"),
                None => {}
            }
        };
        accept.abort();
        // Dropping the senders closes every client connection once its queue is written out
        // (the last answers, such as the one to the final shutdown vote, must still arrive).
        sessions.lock().unwrap_or_else(|p| p.into_inner()).clear();
        drop(alive);
        let _ = accept.await;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), all_flushed.recv()).await;
        result
    }
}

fn relay_client(
    id: u64,
    tcp: TcpStream,
    chunk_bytes: usize,
    to_runtime: ToRuntime,
    sessions: Sessions,
    alive: mpsc::Sender<()>,
) {
    let _ = tcp.set_nodelay(true);
    let (mut tcp_read, mut tcp_write) = tcp.into_split();
    let (tx, mut rx) = mpsc::channel::<Bytes>(64);
    sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, tx);
    // Fired when the runtime ends the session, so the client's further bytes are not relayed.
    let (ended_tx, mut ended_rx) = tokio::sync::oneshot::channel::<()>();

    tokio::spawn(async move {
        while let Some(data) = rx.recv().await {
            if tcp_write.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = tcp_write.shutdown().await;
        let _ = ended_tx.send(());
        drop(alive);
    });

    tokio::spawn(async move {
        let open = HostToRuntime {
            kind: Some(host_to_runtime::Kind::Open(SessionOpen { session: id })),
        };
        if to_runtime.send(&open).await.is_err() {
            return;
        }
        // One buffer for the session's whole life: room for a frame header, then the data.
        let mut buf = vec![0u8; DATA_HEADER_MAX_BYTES + chunk_bytes];
        loop {
            let n = tokio::select! {
                read = tcp_read.read(&mut buf[DATA_HEADER_MAX_BYTES..]) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                },
                _ = &mut ended_rx => break,
            };
            if let Err(e) = to_runtime.send_data(id, &mut buf, n).await {
                tracing::warn!(session = id, "writing to the runtime failed: {e}");
                break;
            }
        }
        tracing::info!(session = id, "client disconnected");
        let close = HostToRuntime {
            kind: Some(host_to_runtime::Kind::Close(SessionClose { session: id })),
        };
        let _ = to_runtime.send(&close).await;
    });
}
