//! The wire protocol of Veracruz: protobuf messages (prost, compiled from
//! `proto/veracruz.proto` without `protoc`) and their framing.
//!
//! A frame is a 4-byte big-endian length and that many bytes of one encoded message. Every
//! frame is bounded by [`MAX_FRAME_BYTES`] before any allocation, so a hostile peer can make the
//! reader allocate at most one bounded buffer; files travel as many [`v1::Chunk`]s of at most
//! [`MAX_CHUNK_BYTES`].
//!
//! The bulk path is built not to copy: a frame is read into one buffer (from a
//! [`FramePool`] on the bulk path) and decoded from it, and the `bytes` fields that carry data ([`v1::SessionData::data`],
//! [`v1::Chunk::data`]) are generated as [`Bytes`] that share that buffer. Relayed session data
//! is written with a [`DataFrameHeader`] in front of bytes already in place, so it is never
//! copied into an encoding buffer.

use std::io::{self, IoSlice, Read, Write};
use std::sync::{Arc, Mutex, Weak};

pub use prost::bytes::Bytes;
use prost::Message;

/// Generated message types.
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/veracruz.v1.rs"));
}

/// Largest file chunk a peer may send (data bytes, before framing).
pub const MAX_CHUNK_BYTES: usize = 1 << 20;
/// Largest frame accepted: a full chunk plus room for the message around it.
pub const MAX_FRAME_BYTES: usize = MAX_CHUNK_BYTES + 64 * 1024;
/// Largest frame on the host channel that carries session data: a full frame plus the
/// channel message around it.
pub const MAX_CHANNEL_FRAME_BYTES: usize = MAX_FRAME_BYTES + 1024;
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
    let mut buf = Vec::new();
    encode_frame_into(msg, max, &mut buf)?;
    Ok(buf)
}

/// Encodes `msg` as one frame into `buf`, replacing its contents: a buffer kept between
/// frames is allocated once.
pub fn encode_frame_into<M: Message>(
    msg: &M,
    max: usize,
    buf: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let len = msg.encoded_len();
    if len > max {
        return Err(FrameError::TooLarge { size: len, max });
    }
    buf.clear();
    buf.reserve(4 + len);
    buf.extend_from_slice(&(len as u32).to_be_bytes());
    msg.encode(buf)
        .expect("a Vec with enough capacity cannot run out of space");
    Ok(())
}

/// Writes `msg` as one frame. Refuses (before writing anything) a message over `max` bytes.
pub fn write_frame<W: Write, M: Message>(w: &mut W, msg: &M, max: usize) -> Result<(), FrameError> {
    w.write_all(&encode_frame(msg, max)?)?;
    Ok(())
}

/// [`write_frame`], encoding into `scratch` (kept between frames) instead of a new buffer.
pub fn write_frame_with<W: Write, M: Message>(
    w: &mut W,
    msg: &M,
    max: usize,
    scratch: &mut Vec<u8>,
) -> Result<(), FrameError> {
    encode_frame_into(msg, max, scratch)?;
    w.write_all(scratch)?;
    Ok(())
}

/// Reads one frame into a buffer of its own and decodes it from there, so the message's
/// [`Bytes`] fields share that buffer. Returns `Ok(None)` on a clean end of stream between
/// frames.
pub fn read_frame<R: Read, M: Message + Default>(
    r: &mut R,
    max: usize,
    what: &'static str,
) -> Result<Option<M>, FrameError> {
    read_frame_pooled(r, max, what, &FramePool::new(0))
}

/// [`read_frame`] into a buffer from `pool`, which the buffer rejoins when the message and
/// every [`Bytes`] taken from it are dropped: once the pool is warm, no allocation.
pub fn read_frame_pooled<R: Read, M: Message + Default>(
    r: &mut R,
    max: usize,
    what: &'static str,
    pool: &FramePool,
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
    let mut buf = pool.buffer(len);
    match read_exact_or_eof(r, &mut buf)? {
        ReadState::Full => {}
        _ if len == 0 => {}
        _ => return Err(FrameError::Truncated),
    }
    decode_shared(pool.share(buf), what).map(Some)
}

/// Decodes a frame's body held in `body`, which the message's [`Bytes`] fields share.
pub fn decode_shared<M: Message + Default>(
    body: Bytes,
    what: &'static str,
) -> Result<M, FrameError> {
    M::decode(body).map_err(|source| FrameError::Decode { what, source })
}

/// Largest buffer a [`FramePool`] keeps: a full chunk's frame.
const POOLED_BUFFER_MAX: usize = MAX_CHANNEL_FRAME_BYTES;

/// Frame buffers kept for reuse on the bulk path. A buffer handed out by [`FramePool::share`]
/// as [`Bytes`] comes back when the last `Bytes` sharing it is dropped, so a reader that keeps
/// pace with its consumer allocates nothing once warm. Bounded: idle buffers together stay
/// within the pool's byte budget, and none larger than a full chunk's frame is kept (a 4 MiB
/// policy frame is not).
#[derive(Clone, Debug)]
pub struct FramePool {
    shared: Arc<PoolShared>,
}

#[derive(Debug)]
struct PoolShared {
    idle: Mutex<Idle>,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct Idle {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

impl FramePool {
    /// A pool keeping at most `max_bytes` of idle buffers (0: a pool that keeps nothing).
    pub fn new(max_bytes: usize) -> FramePool {
        FramePool {
            shared: Arc::new(PoolShared {
                idle: Mutex::new(Idle::default()),
                max_bytes,
            }),
        }
    }

    /// A buffer of `len` zero bytes, in an idle buffer's allocation when there is one.
    pub fn buffer(&self, len: usize) -> Vec<u8> {
        let mut buf = {
            let mut idle = self.shared.lock();
            match idle.buffers.pop() {
                Some(buf) => {
                    idle.bytes -= buf.capacity();
                    buf
                }
                None => Vec::new(),
            }
        };
        buf.clear();
        buf.resize(len, 0);
        buf
    }

    /// `buf` as [`Bytes`]; the buffer rejoins the pool when the last of them is dropped.
    pub fn share(&self, buf: Vec<u8>) -> Bytes {
        if self.shared.max_bytes == 0 {
            return Bytes::from(buf);
        }
        Bytes::from_owner(Pooled {
            buf,
            pool: Arc::downgrade(&self.shared),
        })
    }

    /// Idle buffers held now.
    pub fn idle_buffers(&self) -> usize {
        self.shared.lock().buffers.len()
    }
}

impl PoolShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A pooled buffer lent out as [`Bytes`].
struct Pooled {
    buf: Vec<u8>,
    pool: Weak<PoolShared>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(pool) = self.pool.upgrade() else {
            return;
        };
        let size = self.buf.capacity();
        if size == 0 || size > POOLED_BUFFER_MAX {
            return;
        }
        let mut idle = pool.lock();
        if idle.bytes + size <= pool.max_bytes {
            idle.bytes += size;
            idle.buffers.push(std::mem::take(&mut self.buf));
        }
    }
}

/// Which channel message a [`DataFrameHeader`] frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataDirection {
    /// `HostToRuntime.data`: client bytes the host relays to the runtime.
    HostToRuntime,
    /// `RuntimeToHost.data`: runtime bytes the host relays to a client.
    RuntimeToHost,
}

/// Longest [`DataFrameHeader`]: length prefix, outer key and length, session key and value,
/// data key and length.
pub const DATA_HEADER_MAX_BYTES: usize = 4 + 1 + 10 + 1 + 10 + 1 + 10;

/// Everything of a `SessionData` frame that comes before the data: written in front of bytes
/// already in place (or with a vectored write), the frame needs no encoding buffer and no copy.
/// The bytes are exactly what prost encodes for the same message.
#[derive(Clone, Copy, Debug)]
pub struct DataFrameHeader {
    bytes: [u8; DATA_HEADER_MAX_BYTES],
    len: usize,
}

impl DataFrameHeader {
    /// The header for `data_len` bytes of `session`; refuses a frame over `max` bytes.
    pub fn new(
        direction: DataDirection,
        session: u64,
        data_len: usize,
        max: usize,
    ) -> Result<DataFrameHeader, FrameError> {
        // Field numbers and wire types from proto/veracruz.proto: `data` is field 5 of
        // HostToRuntime and 3 of RuntimeToHost; SessionData is `session = 1` (varint) and
        // `data = 2` (length-delimited), each left out when it is the default, as prost does.
        let outer_key: u64 = match direction {
            DataDirection::HostToRuntime => (5 << 3) | 2,
            DataDirection::RuntimeToHost => (3 << 3) | 2,
        };
        let session_len = if session == 0 {
            0
        } else {
            1 + varint_len(session)
        };
        let data_field_len = if data_len == 0 {
            0
        } else {
            1 + varint_len(data_len as u64) + data_len
        };
        let inner = session_len + data_field_len;
        let message = 1 + varint_len(inner as u64) + inner;
        if message > max || message > u32::MAX as usize {
            return Err(FrameError::TooLarge { size: message, max });
        }
        let mut header = DataFrameHeader {
            bytes: [0; DATA_HEADER_MAX_BYTES],
            len: 0,
        };
        header.push(&(message as u32).to_be_bytes());
        header.push_varint(outer_key);
        header.push_varint(inner as u64);
        if session != 0 {
            header.push_varint(1 << 3);
            header.push_varint(session);
        }
        if data_len != 0 {
            header.push_varint((2 << 3) | 2);
            header.push_varint(data_len as u64);
        }
        Ok(header)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn push_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.push(&[(v as u8) | 0x80]);
            v >>= 7;
        }
        self.push(&[v as u8]);
    }
}

fn varint_len(v: u64) -> usize {
    // 7 bits per byte; 0 still takes one byte.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Most data slices [`write_data_frame`] takes.
pub const MAX_DATA_SLICES: usize = 8;

/// Writes `header` then `data` (at most [`MAX_DATA_SLICES`] slices, together the length the
/// header was made for) as one frame with vectored writes: no encoding buffer, no copy.
pub fn write_data_frame<W: Write>(
    w: &mut W,
    header: &DataFrameHeader,
    data: &[&[u8]],
) -> io::Result<()> {
    if data.len() > MAX_DATA_SLICES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} data slices for one frame; at most {MAX_DATA_SLICES}",
                data.len()
            ),
        ));
    }
    let mut slices = [IoSlice::new(&[]); 1 + MAX_DATA_SLICES];
    slices[0] = IoSlice::new(header.as_bytes());
    for (slot, d) in slices[1..].iter_mut().zip(data) {
        *slot = IoSlice::new(d);
    }
    let mut rest = &mut slices[..1 + data.len()];
    while !rest.is_empty() {
        match w.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
        for _ in 0..2 {
            let got: Request = read_frame(&mut r, MAX_FRAME_BYTES, "request")
                .unwrap()
                .unwrap();
            assert_eq!(got, req);
        }
        let end: Option<Request> = read_frame(&mut r, MAX_FRAME_BYTES, "request").unwrap();
        assert!(end.is_none());
    }

    #[test]
    fn oversized_frames_are_refused_before_allocation() {
        let mut wire = Vec::new();
        wire.extend_from_slice(&u32::MAX.to_be_bytes());
        let err =
            read_frame::<_, Request>(&mut wire.as_slice(), MAX_FRAME_BYTES, "request").unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");

        let big = Chunk {
            data: vec![0; MAX_FRAME_BYTES].into(),
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
        assert!(matches!(
            read_frame::<_, Response>(&mut wire.as_slice(), MAX_FRAME_BYTES, "response"),
            Err(FrameError::Truncated)
        ));
        let garbage = [0u8, 0, 0, 3, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame::<_, Response>(&mut garbage.as_slice(), MAX_FRAME_BYTES, "response"),
            Err(FrameError::Decode { .. })
        ));
    }

    /// The hand-written header plus the data is byte for byte what prost encodes, for both
    /// directions and at every varint-length boundary.
    #[test]
    fn data_frame_headers_match_prost() {
        let sessions = [0u64, 1, 127, 128, 16_383, 16_384, u64::MAX];
        let lens = [
            0usize,
            1,
            100,
            127,
            128,
            16_383,
            16_384,
            65_536,
            MAX_CHUNK_BYTES,
        ];
        for &session in &sessions {
            for &n in &lens {
                let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
                let msg = SessionData {
                    session,
                    data: data.clone().into(),
                };
                for direction in [DataDirection::HostToRuntime, DataDirection::RuntimeToHost] {
                    let expected = match direction {
                        DataDirection::HostToRuntime => encode_frame(
                            &HostToRuntime {
                                kind: Some(host_to_runtime::Kind::Data(msg.clone())),
                            },
                            MAX_FRAME_BYTES,
                        ),
                        DataDirection::RuntimeToHost => encode_frame(
                            &RuntimeToHost {
                                kind: Some(runtime_to_host::Kind::Data(msg.clone())),
                            },
                            MAX_FRAME_BYTES,
                        ),
                    }
                    .unwrap();
                    let header =
                        DataFrameHeader::new(direction, session, n, MAX_FRAME_BYTES).unwrap();
                    // Split the data over slices, as a vectored TLS write hands it over.
                    let (a, b) = data.split_at(n / 3);
                    let mut wire = Vec::new();
                    write_data_frame(&mut wire, &header, &[a, &[], b]).unwrap();
                    assert_eq!(
                        wire, expected,
                        "session {session}, {n} bytes, {direction:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn data_frame_headers_are_bounded() {
        let err =
            DataFrameHeader::new(DataDirection::HostToRuntime, 1, 1 << 20, 1 << 20).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
        let many = [&b"x"[..]; MAX_DATA_SLICES + 1];
        let header =
            DataFrameHeader::new(DataDirection::RuntimeToHost, 1, many.len(), 1 << 20).unwrap();
        let err = write_data_frame(&mut Vec::new(), &header, &many).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    /// A decoded chunk shares the frame's buffer instead of copying out of it.
    #[test]
    fn bulk_fields_share_the_frame_buffer() {
        let chunk = Chunk {
            data: vec![7u8; 4096].into(),
            last: false,
        };
        let frame = encode_frame(&chunk, MAX_FRAME_BYTES).unwrap();
        let body = frame[4..].to_vec();
        let range = body.as_ptr_range();
        let decoded: Chunk = decode_shared(Bytes::from(body), "chunk").unwrap();
        assert_eq!(decoded, chunk);
        assert!(range.contains(&decoded.data.as_ptr()));
    }

    /// A pooled frame's buffer comes back when the decoded message is dropped, and the next
    /// frame is read into it: no allocation once warm.
    #[test]
    fn pooled_frames_reuse_their_buffers() {
        let pool = FramePool::new(4 << 20);
        let chunk = Chunk {
            data: vec![9u8; 64 * 1024].into(),
            last: false,
        };
        let mut wire = Vec::new();
        for _ in 0..3 {
            write_frame(&mut wire, &chunk, MAX_FRAME_BYTES).unwrap();
        }
        let mut r = wire.as_slice();
        let first: Chunk = read_frame_pooled(&mut r, MAX_FRAME_BYTES, "chunk", &pool)
            .unwrap()
            .unwrap();
        assert_eq!(first, chunk);
        let at = first.data.as_ptr();
        assert_eq!(pool.idle_buffers(), 0, "lent out while the chunk lives");
        drop(first);
        assert_eq!(pool.idle_buffers(), 1, "back when it is dropped");
        let second: Chunk = read_frame_pooled(&mut r, MAX_FRAME_BYTES, "chunk", &pool)
            .unwrap()
            .unwrap();
        assert_eq!(second, chunk);
        assert!(
            second.data.as_ptr() >= at && second.data.as_ptr() < at.wrapping_add(70 * 1024),
            "the second frame was read into the first one's buffer"
        );
        // A slice that outlives the message keeps the buffer out of the pool until it goes.
        let kept = second.data.slice(10..20);
        drop(second);
        assert_eq!(pool.idle_buffers(), 0);
        drop(kept);
        assert_eq!(pool.idle_buffers(), 1);
    }

    #[test]
    fn pools_keep_within_their_budget() {
        let pool = FramePool::new(100 * 1024);
        let shared: Vec<Bytes> = (0..4).map(|_| pool.share(vec![0u8; 40 * 1024])).collect();
        drop(shared);
        assert_eq!(
            pool.idle_buffers(),
            2,
            "two 40 KiB buffers fit in 100 KiB, not three"
        );
        let big = pool.share(vec![0u8; 2 << 20]);
        drop(big);
        assert_eq!(
            pool.idle_buffers(),
            2,
            "a buffer larger than a chunk frame is not kept"
        );
        let none = FramePool::new(0);
        drop(none.share(vec![0u8; 1024]));
        assert_eq!(none.idle_buffers(), 0);
    }
}
