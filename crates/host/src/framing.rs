//! Async framing for the host channel: the same 4-byte big-endian length prefix and bounds as
//! `veracruz_protocol`, over tokio streams. A frame is read into a pooled buffer and decoded
//! from it, so relayed session data shares that buffer (no copy on the way through).

use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use veracruz_protocol::{FrameError, FramePool};

pub async fn write_frame<W: AsyncWrite + Unpin, M: Message>(
    w: &mut W,
    msg: &M,
    max: usize,
) -> Result<(), FrameError> {
    w.write_all(&veracruz_protocol::encode_frame(msg, max)?)
        .await?;
    Ok(())
}

/// Reads one frame into a buffer from `pool` (which it rejoins when the message and its
/// `Bytes` are dropped); `Ok(None)` on a clean end of stream between frames.
pub async fn read_frame<R: AsyncRead + Unpin, M: Message + Default>(
    r: &mut R,
    max: usize,
    what: &'static str,
    pool: &FramePool,
) -> Result<Option<M>, FrameError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(FrameError::TooLarge { size: len, max });
    }
    let mut buf = pool.buffer(len);
    r.read_exact(&mut buf).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            FrameError::Truncated
        } else {
            e.into()
        }
    })?;
    veracruz_protocol::decode_shared(pool.share(buf), what).map(Some)
}
