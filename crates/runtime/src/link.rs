//! The channel to the host: framed [`HostToRuntime`] / [`RuntimeToHost`] messages over the
//! isolate's socket, and a byte stream per TLS session multiplexed over it.
//!
//! The host is untrusted: every frame it sends is bounded by [`MAX_HOST_FRAME_BYTES`] before it
//! is read, and everything in it is checked before use. A session's bytes are TLS records, so
//! the host can drop or corrupt them but not read or forge them.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use veracruz_protocol::v1::{runtime_to_host, RuntimeToHost, SessionClose, SessionData};
use veracruz_protocol::{write_frame, FrameError, MAX_FRAME_BYTES};

/// Largest frame the host may send: a whole policy (at most 4 MiB) plus framing.
pub const MAX_HOST_FRAME_BYTES: usize = veracruz_policy::validate::MAX_POLICY_BYTES + 64 * 1024;
/// Frames queued for one session before the host reader waits for it: bounds memory per session.
pub const SESSION_QUEUE_FRAMES: usize = 64;

/// The runtime's sending half of the host socket, shared by every session.
#[derive(Debug)]
pub struct HostLink {
    writer: Mutex<UnixStream>,
}

impl HostLink {
    pub fn new(writer: UnixStream) -> Arc<HostLink> {
        Arc::new(HostLink {
            writer: Mutex::new(writer),
        })
    }

    pub fn send(&self, kind: runtime_to_host::Kind) -> Result<(), FrameError> {
        let msg = RuntimeToHost { kind: Some(kind) };
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        write_frame(&mut *w, &msg, MAX_FRAME_BYTES + 1024)
    }

    /// Tells the host something it asked for was refused; the runtime carries on.
    pub fn refuse(&self, reason: impl Into<String>) {
        let reason = reason.into();
        tracing::warn!("refusing a host request: {reason}");
        let _ = self.send(runtime_to_host::Kind::Error(reason));
    }
}

/// What the host reader hands a session.
pub enum Inbound {
    Data(Vec<u8>),
}

/// One session's byte stream: reads what the host relays from the client, writes go back to
/// the host as [`SessionData`] frames. Used as the transport under a rustls server connection.
pub struct SessionIo {
    id: u64,
    rx: Receiver<Inbound>,
    pending: Vec<u8>,
    pos: usize,
    link: Arc<HostLink>,
}

impl SessionIo {
    pub fn new(id: u64, link: Arc<HostLink>) -> (SessionIo, SyncSender<Inbound>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(SESSION_QUEUE_FRAMES);
        (
            SessionIo {
                id,
                rx,
                pending: Vec::new(),
                pos: 0,
                link,
            },
            tx,
        )
    }

    /// Tells the host this session is over (it then closes the client's connection).
    pub fn close(&self) {
        let _ = self.link.send(runtime_to_host::Kind::Close(SessionClose {
            session: self.id,
        }));
    }
}

impl Read for SessionIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.pending.len() {
            match self.rx.recv() {
                Ok(Inbound::Data(data)) => {
                    self.pending = data;
                    self.pos = 0;
                }
                // The host closed the session (or the runtime is going away): end of stream.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len() - self.pos);
        buf[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for SessionIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(MAX_FRAME_BYTES);
        self.link
            .send(runtime_to_host::Kind::Data(SessionData {
                session: self.id,
                data: buf[..n].to_vec(),
            }))
            .map_err(io::Error::other)?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
