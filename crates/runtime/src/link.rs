//! The channel to the host: framed [`HostToRuntime`] / [`RuntimeToHost`] messages over the
//! isolate's socket, and a byte stream per TLS session multiplexed over it.
//!
//! The host is untrusted: every frame it sends is bounded by [`MAX_HOST_FRAME_BYTES`] before it
//! is read, and everything in it is checked before use. A session's bytes are TLS records, so
//! the host can drop or corrupt them but not read or forge them.

use std::io::{self, IoSlice, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use veracruz_protocol::v1::{runtime_to_host, RuntimeToHost, SessionClose};
use veracruz_protocol::{
    write_data_frame, write_frame, Bytes, DataDirection, DataFrameHeader, FrameError,
    MAX_CHANNEL_FRAME_BYTES, MAX_CHUNK_BYTES, MAX_DATA_SLICES,
};

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
        write_frame(&mut *w, &msg, MAX_CHANNEL_FRAME_BYTES)
    }

    /// Sends `data` (the slices together) to the host as one `SessionData` frame, written
    /// straight from the slices: no encoding buffer, no copy.
    fn send_data(&self, session: u64, data: &[&[u8]]) -> io::Result<()> {
        let len = data.iter().map(|d| d.len()).sum();
        let header = DataFrameHeader::new(
            DataDirection::RuntimeToHost,
            session,
            len,
            MAX_CHANNEL_FRAME_BYTES,
        )
        .map_err(io::Error::other)?;
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        write_data_frame(&mut *w, &header, data)
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
    /// A slice of the frame the host sent (shared with it, not copied out of it).
    Data(Bytes),
}

/// One session's byte stream: reads what the host relays from the client, writes go back to
/// the host as [`SessionData`] frames. Used as the transport under a rustls server connection.
pub struct SessionIo {
    id: u64,
    rx: Receiver<Inbound>,
    pending: Bytes,
    link: Arc<HostLink>,
}

impl SessionIo {
    pub fn new(id: u64, link: Arc<HostLink>) -> (SessionIo, SyncSender<Inbound>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(SESSION_QUEUE_FRAMES);
        (
            SessionIo {
                id,
                rx,
                pending: Bytes::new(),
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
        while self.pending.is_empty() {
            match self.rx.recv() {
                Ok(Inbound::Data(data)) => self.pending = data,
                // The host closed the session (or the runtime is going away): end of stream.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending.split_to(n));
        Ok(n)
    }
}

impl Write for SessionIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    /// rustls hands over its queued TLS records as several slices; they go out as one frame
    /// (up to a chunk's worth), written from the slices themselves.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut parts: [&[u8]; MAX_DATA_SLICES] = [&[]; MAX_DATA_SLICES];
        let (mut count, mut total) = (0, 0);
        for b in bufs.iter().filter(|b| !b.is_empty()) {
            if count == MAX_DATA_SLICES || total == MAX_CHUNK_BYTES {
                break;
            }
            let take = b.len().min(MAX_CHUNK_BYTES - total);
            parts[count] = &b[..take];
            count += 1;
            total += take;
        }
        if total == 0 {
            return Ok(0);
        }
        self.link.send_data(self.id, &parts[..count])?;
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
