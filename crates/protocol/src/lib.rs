//! The wire protocol of Veracruz: protobuf messages (prost, compiled from
//! `proto/veracruz.proto` without `protoc`) and their framing.
//!
//! A frame is a 4-byte big-endian length and that many bytes of one encoded message. Every
//! frame is bounded by [`MAX_FRAME_BYTES`] before any allocation, so a hostile peer can make the
//! reader allocate at most one bounded buffer; files travel as many [`v1::Chunk`]s of at most
//! [`MAX_CHUNK_BYTES`].

use std::io::{self, Read, Write};

use prost::Message;

/// Generated message types.
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/veracruz.v1.rs"));
}

/// Largest file chunk a peer may send (data bytes, before framing).
pub const MAX_CHUNK_BYTES: usize = 1 << 20;
/// Largest frame accepted: a full chunk plus room for the message around it.
pub const MAX_FRAME_BYTES: usize = MAX_CHUNK_BYTES + 64 * 1024;
/// Default chunk size senders use.
pub const DEFAULT_CHUNK_BYTES: usize = 256 * 1024;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {size} bytes is larger than the {max}-byte maximum")]
    TooLarge { size: usize, max: usize },
    #[error("frame does not decode as {what}: {source}")]
    Decode {
        what: &'static str,
        source: prost::DecodeError,
    },
    #[error("peer closed the connection in the middle of a frame")]
    Truncated,
    #[error("i/o error on the connection: {0}")]
    Io(#[from] io::Error),
}

/// Encodes `msg` as one frame (length prefix and message). Refuses a message over `max` bytes.
pub fn encode_frame<M: Message>(msg: &M, max: usize) -> Result<Vec<u8>, FrameError> {
    let len = msg.encoded_len();
    if len > max {
        return Err(FrameError::TooLarge { size: len, max });
    }
    let mut buf = Vec::with_capacity(4 + len);
    buf.extend_from_slice(&(len as u32).to_be_bytes());
    msg.encode(&mut buf)
        .expect("a Vec with enough capacity cannot run out of space");
    Ok(buf)
}

/// Writes `msg` as one frame. Refuses (before writing anything) a message over `max` bytes.
pub fn write_frame<W: Write, M: Message>(w: &mut W, msg: &M, max: usize) -> Result<(), FrameError> {
    w.write_all(&encode_frame(msg, max)?)?;
    Ok(())
}

/// Reads one frame into `buf` (reused between calls) and decodes it.
/// Returns `Ok(None)` on a clean end of stream between frames.
pub fn read_frame<R: Read, M: Message + Default>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    what: &'static str,
) -> Result<Option<M>, FrameError> {
    let mut len = [0u8; 4];
    match read_exact_or_eof(r, &mut len)? {
        ReadState::Eof => return Ok(None),
        ReadState::Partial => return Err(FrameError::Truncated),
        ReadState::Full => {}
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(FrameError::TooLarge { size: len, max });
    }
    buf.clear();
    buf.resize(len, 0);
    match read_exact_or_eof(r, buf)? {
        ReadState::Full => {}
        _ if len == 0 => {}
        _ => return Err(FrameError::Truncated),
    }
    M::decode(buf.as_slice())
        .map(Some)
        .map_err(|source| FrameError::Decode { what, source })
}

enum ReadState {
    Full,
    Partial,
    Eof,
}

fn read_exact_or_eof<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<ReadState> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(ReadState::Eof),
            Ok(0) => return Ok(ReadState::Partial),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(ReadState::Full)
}

impl v1::Response {
    pub fn ok(reason: impl Into<String>) -> Self {
        v1::Response {
            code: v1::Code::Ok as i32,
            reason: reason.into(),
            body: None,
        }
    }

    pub fn error(code: v1::Code, reason: impl Into<String>) -> Self {
        v1::Response {
            code: code as i32,
            reason: reason.into(),
            body: None,
        }
    }

    pub fn with_body(mut self, body: v1::response::Body) -> Self {
        self.body = Some(body);
        self
    }

    /// The status code, with unknown values (from a newer peer) read as `Internal`.
    pub fn status(&self) -> v1::Code {
        v1::Code::try_from(self.code).unwrap_or(v1::Code::Internal)
    }

    pub fn is_ok(&self) -> bool {
        self.status() == v1::Code::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::v1::*;
    use super::*;

    #[test]
    fn frames_round_trip() {
        let req = Request {
            kind: Some(request::Kind::BeginWrite(BeginWrite {
                path: "/input/a.csv".into(),
                append: false,
                size: 42,
            })),
        };
        let mut wire = Vec::new();
        write_frame(&mut wire, &req, MAX_FRAME_BYTES).unwrap();
        write_frame(&mut wire, &req, MAX_FRAME_BYTES).unwrap();
        let mut r = wire.as_slice();
        let mut buf = Vec::new();
        for _ in 0..2 {
            let got: Request = read_frame(&mut r, &mut buf, MAX_FRAME_BYTES, "request")
                .unwrap()
                .unwrap();
            assert_eq!(got, req);
        }
        let end: Option<Request> =
            read_frame(&mut r, &mut buf, MAX_FRAME_BYTES, "request").unwrap();
        assert!(end.is_none());
    }

    #[test]
    fn oversized_frames_are_refused_before_allocation() {
        let mut wire = Vec::new();
        wire.extend_from_slice(&u32::MAX.to_be_bytes());
        let mut buf = Vec::new();
        let err =
            read_frame::<_, Request>(&mut wire.as_slice(), &mut buf, MAX_FRAME_BYTES, "request")
                .unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
        assert!(buf.capacity() < 1024);

        let big = Chunk {
            data: vec![0; MAX_FRAME_BYTES],
            last: true,
        };
        assert!(matches!(
            write_frame(&mut Vec::new(), &big, MAX_FRAME_BYTES),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn truncation_and_garbage_are_errors() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &Response::ok("fine"), MAX_FRAME_BYTES).unwrap();
        wire.truncate(wire.len() - 1);
        let mut buf = Vec::new();
        assert!(matches!(
            read_frame::<_, Response>(&mut wire.as_slice(), &mut buf, MAX_FRAME_BYTES, "response"),
            Err(FrameError::Truncated)
        ));
        let garbage = [0u8, 0, 0, 3, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame::<_, Response>(
                &mut garbage.as_slice(),
                &mut buf,
                MAX_FRAME_BYTES,
                "response"
            ),
            Err(FrameError::Decode { .. })
        ));
    }
}
