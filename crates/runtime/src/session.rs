//! One principal's TLS session: the handshake, then requests until the client leaves.
//!
//! A session that sends something malformed (an oversized frame, bytes that do not decode, a
//! request out of sequence) gets an error response where one can still be sent and is then
//! closed; other sessions and the computation are unaffected.

use std::sync::Arc;

use rustls::{ServerConfig, ServerConnection, StreamOwned};
use veracruz_protocol::v1::{self, request, response, Code, ConsentKind, Request, Response};
use veracruz_protocol::{
    read_frame_pooled, write_frame_with, FrameError, FramePool, DEFAULT_CHUNK_BYTES,
    MAX_FRAME_BYTES,
};

use crate::computation::Computation;
use crate::lifecycle::{Refusal, RunTarget, Vote};
use crate::link::SessionIo;

type Tls = StreamOwned<ServerConnection, SessionIo>;

/// What the session loop should do after a request.
enum Next {
    Continue,
    /// Close this session (the client misbehaved or left).
    Close,
    /// The computation was shut down: tell the host and exit the isolate.
    ShutDown,
}

/// Runs a session to its end. Returns true if the computation was shut down by it.
pub fn run(
    id: u64,
    io: SessionIo,
    config: Arc<ServerConfig>,
    computation: Arc<Computation>,
) -> bool {
    let conn = match ServerConnection::new(config) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(session = id, "cannot start TLS: {e}");
            io.close();
            return false;
        }
    };
    let mut tls = StreamOwned::new(conn, io);
    while tls.conn.is_handshaking() {
        if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
            tracing::info!(session = id, "TLS handshake failed: {e}");
            tls.sock.close();
            return false;
        }
    }
    let principal = tls
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| computation.policy().principal_by_certificate(c.as_ref()))
        .map(|p| p.name.clone());
    let Some(principal) = principal else {
        // The verifier admits only policy certificates, so this cannot happen; fail closed.
        tracing::error!(session = id, "session without a policy principal");
        tls.sock.close();
        return false;
    };
    tracing::info!(session = id, %principal, "session established");
    let shut_down = loop {
        let request: Request = match read_request(&mut tls) {
            Ok(Some(r)) => r,
            Ok(None) => break false,
            Err(FrameError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                // The client went away without a TLS close_notify: it is done, not hostile.
                tracing::debug!(session = id, %principal, "client left without close_notify");
                break false;
            }
            Err(e) => {
                tracing::info!(session = id, %principal, "closing session: {e}");
                if matches!(e, FrameError::TooLarge { .. } | FrameError::Decode { .. }) {
                    let code = if matches!(e, FrameError::TooLarge { .. }) {
                        Code::TooLarge
                    } else {
                        Code::Invalid
                    };
                    let _ = send(&mut tls, &Response::error(code, e.to_string()));
                }
                break false;
            }
        };
        match handle(&mut tls, &principal, request, &computation) {
            Ok(Next::Continue) => {}
            Ok(Next::Close) => break false,
            Ok(Next::ShutDown) => break true,
            Err(e) => {
                tracing::info!(session = id, %principal, "closing session: {e}");
                break false;
            }
        }
    };
    tls.conn.send_close_notify();
    let _ = tls.conn.complete_io(&mut tls.sock);
    tls.sock.close();
    shut_down
}

thread_local! {
    /// The session's response encoding buffer (each session has a thread of its own), kept so
    /// that streaming a file does not allocate one per chunk.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The session's request frames and the chunks it reads from files, reused the same way.
    static FRAMES: FramePool = FramePool::new(SESSION_FRAME_POOL_BYTES);
}

/// Idle buffers a session keeps: a few chunk frames.
const SESSION_FRAME_POOL_BYTES: usize = 4 << 20;

fn read_request(tls: &mut Tls) -> Result<Option<Request>, FrameError> {
    FRAMES.with(|pool| read_frame_pooled(tls, MAX_FRAME_BYTES, "request", pool))
}

fn send(tls: &mut Tls, response: &Response) -> Result<(), FrameError> {
    SCRATCH.with_borrow_mut(|scratch| write_frame_with(tls, response, MAX_FRAME_BYTES, scratch))?;
    std::io::Write::flush(tls)?;
    Ok(())
}

fn reply(tls: &mut Tls, result: Result<Response, Refusal>) -> Result<(), FrameError> {
    let response = result.unwrap_or_else(|r| Response::error(r.code, r.reason));
    send(tls, &response)
}

fn handle(
    tls: &mut Tls,
    principal: &str,
    request: Request,
    c: &Computation,
) -> Result<Next, FrameError> {
    let Some(kind) = request.kind else {
        send(tls, &Response::error(Code::Invalid, "empty request"))?;
        return Ok(Next::Continue);
    };
    match kind {
        request::Kind::BeginWrite(w) => return write(tls, principal, w, c),
        request::Kind::Chunk(_) => {
            send(
                tls,
                &Response::error(Code::Invalid, "a chunk arrived with no write in progress"),
            )?;
            return Ok(Next::Close);
        }
        request::Kind::Read(r) => return read(tls, principal, &r.path, c),
        request::Kind::Execute(e) => {
            let target = match e.target {
                Some(v1::execute::Target::Program(p)) => RunTarget::Program(p),
                Some(v1::execute::Target::Pipeline(p)) => RunTarget::Pipeline(p),
                None => {
                    send(
                        tls,
                        &Response::error(Code::Invalid, "execute names no program or pipeline"),
                    )?;
                    return Ok(Next::Continue);
                }
            };
            let what = target.describe();
            tracing::info!(principal, "executing {what}");
            let result = c.execute(principal, target).map(|r| {
                Response::ok(format!(
                    "run {} of {what} exited with code {}",
                    r.round, r.exit_code
                ))
                .with_body(response::Body::Result(r))
            });
            reply(tls, result)?;
        }
        request::Kind::Status(_) => {
            let status = c.status(principal);
            send(
                tls,
                &Response::ok("status").with_body(response::Body::Status(status)),
            )?;
        }
        request::Kind::Consent(consent) => match ConsentKind::try_from(consent.kind) {
            Ok(ConsentKind::NextRound) => {
                reply(tls, c.consent(principal, consent.round).map(Response::ok))?
            }
            Ok(ConsentKind::Shutdown) => return vote(tls, principal, c),
            _ => send(tls, &Response::error(Code::Invalid, "unknown consent kind"))?,
        },
        request::Kind::Shutdown(_) => return vote(tls, principal, c),
        request::Kind::Receipt(r) => {
            let result = c
                .receipt(r.round)
                .map(|receipt| Response::ok("receipt").with_body(response::Body::Receipt(receipt)));
            reply(tls, result)?;
        }
    }
    Ok(Next::Continue)
}

fn vote(tls: &mut Tls, principal: &str, c: &Computation) -> Result<Next, FrameError> {
    match c.vote_shutdown(principal) {
        Ok(Vote::ShutDown) => {
            send(
                tls,
                &Response::ok("shutdown quorum reached: the computation is shut down"),
            )?;
            Ok(Next::ShutDown)
        }
        Ok(Vote::Recorded { votes, quorum }) => {
            send(
                tls,
                &Response::ok(format!(
                    "shutdown vote recorded ({votes} of {quorum} needed)"
                )),
            )?;
            Ok(Next::Continue)
        }
        Err(r) => {
            send(tls, &Response::error(r.code, r.reason))?;
            Ok(Next::Continue)
        }
    }
}

fn write(
    tls: &mut Tls,
    principal: &str,
    begin: v1::BeginWrite,
    c: &Computation,
) -> Result<Next, FrameError> {
    let mut pending = match c.begin_write(principal, &begin) {
        Ok(p) => p,
        Err(r) => {
            send(tls, &Response::error(r.code, r.reason))?;
            return Ok(Next::Continue);
        }
    };
    send(
        tls,
        &Response::ok(format!("send {} bytes for {}", begin.size, begin.path)),
    )?;
    loop {
        let Some(req) = read_request(tls)? else {
            // The client left mid-write: the staged bytes are dropped with `pending`.
            return Ok(Next::Close);
        };
        let Some(request::Kind::Chunk(chunk)) = req.kind else {
            send(
                tls,
                &Response::error(
                    Code::Invalid,
                    format!(
                        "expected the next chunk of {}; the write was abandoned",
                        begin.path
                    ),
                ),
            )?;
            return Ok(Next::Close);
        };
        if let Err(r) = c.write_chunk(&mut pending, &chunk.data) {
            send(tls, &Response::error(r.code, r.reason))?;
            // The client is still sending chunks we will not read in order: close.
            return Ok(Next::Close);
        }
        if chunk.last {
            break;
        }
    }
    reply(tls, c.finish_write(principal, pending).map(Response::ok))?;
    Ok(Next::Continue)
}

fn read(tls: &mut Tls, principal: &str, path: &str, c: &Computation) -> Result<Next, FrameError> {
    let (canonical, size) = match c.begin_read(principal, path) {
        Ok(x) => x,
        Err(r) => {
            send(tls, &Response::error(r.code, r.reason))?;
            return Ok(Next::Continue);
        }
    };
    send(
        tls,
        &Response::ok(format!("{canonical}: {size} bytes"))
            .with_body(response::Body::FileSize(size)),
    )?;
    let mut offset = 0u64;
    loop {
        // A pooled buffer: it comes back once the response is encoded and dropped.
        let mut buf = FRAMES.with(|pool| pool.buffer(0));
        let data = match c.read_chunk(principal, &canonical, offset, DEFAULT_CHUNK_BYTES, &mut buf)
        {
            Ok(()) => FRAMES.with(|pool| pool.share(buf)),
            Err(r) => {
                // The file changed under the read; end the stream with the reason.
                send(tls, &Response::error(r.code, r.reason))?;
                return Ok(Next::Close);
            }
        };
        offset += data.len() as u64;
        let last = data.is_empty() || offset >= size;
        let chunk = v1::Chunk { data, last };
        send(
            tls,
            &Response::ok("").with_body(response::Body::Chunk(chunk)),
        )?;
        if last {
            return Ok(Next::Continue);
        }
    }
}
