//! Client operations over a real attested TLS session with the test peer: chunked writes and
//! reads with progress, refusals carrying the runtime's reason verbatim, execution, consent,
//! shutdown, and a receipt fetched live and verified.

mod common;

use std::collections::BTreeMap;
use std::io::Read;

use common::*;
use veracruz_client::v1::Code;
use veracruz_client::{verify_receipt, Client, ClientError, ClientOptions, Identity};
use veracruz_policy::Policy;
use veracruz_protocol::DEFAULT_CHUNK_BYTES;

struct Session {
    client: Client,
    peer: TestRuntimePeer,
    policy: Policy,
}

fn session(files: BTreeMap<String, Vec<u8>>) -> Session {
    let ca = make_ca("Attestation CA");
    let alice = principal("alice");
    let listener = TestRuntimePeer::bind();
    let bytes = policy_bytes(
        &ca,
        &[&alice],
        &Trust::snp(),
        listener.local_addr().unwrap(),
    );
    let policy = Policy::from_bytes(&bytes).unwrap();
    let key = runtime_key();
    let chain = issue(&ca, &key, &Claims::good(policy.hash()));
    let peer = TestRuntimePeer::start(listener, &chain, &key, &policy, files);
    let identity = Identity::from_pem(alice.cert_pem.as_bytes(), alice.key_pem.as_bytes()).unwrap();
    let client = Client::connect(&policy, &bytes, identity, &ClientOptions::default()).unwrap();
    Session {
        client,
        peer,
        policy,
    }
}

/// Deterministic bytes that are not a repeating pattern of the chunk size.
fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7919 % 251) as u8).collect()
}

#[test]
fn large_write_and_read_travel_in_chunks_with_progress() {
    let mut s = session(BTreeMap::new());
    let size = 3 * DEFAULT_CHUNK_BYTES + 12345;
    let input = data(size);

    let mut seen = Vec::new();
    let reason = s
        .client
        .write_file(
            "/input/big.bin",
            input.as_slice(),
            size as u64,
            &mut |d, t| seen.push((d, t)),
        )
        .unwrap();
    assert_eq!(reason, format!("wrote {size} bytes to /input/big.bin"));
    // Start, then one report per chunk, ending at the total.
    assert_eq!(seen.len(), 1 + 4);
    assert_eq!(seen[0], (0, size as u64));
    assert_eq!(seen[1], (DEFAULT_CHUNK_BYTES as u64, size as u64));
    assert_eq!(*seen.last().unwrap(), (size as u64, size as u64));

    s.client
        .append_file("/input/big.bin", &b"tail"[..], 4, &mut |_, _| {})
        .unwrap();

    let mut out = Vec::new();
    let mut reads = Vec::new();
    let n = s
        .client
        .read_file("/input/big.bin", &mut out, &mut |d, t| reads.push((d, t)))
        .unwrap();
    assert_eq!(n, size as u64 + 4);
    assert_eq!(&out[..size], input.as_slice());
    assert_eq!(&out[size..], b"tail");
    assert_eq!(*reads.last().unwrap(), (n, n));
    s.client.close().unwrap();

    let log = s.peer.finish();
    assert_eq!(
        log.requests,
        [
            "write /input/big.bin",
            "write /input/big.bin",
            "read /input/big.bin"
        ]
    );
    assert_eq!(log.files["/input/big.bin"].len(), size + 4);
}

#[test]
fn empty_files_round_trip() {
    let mut s = session(BTreeMap::new());
    s.client
        .write_file("/input/empty", std::io::empty(), 0, &mut |_, _| {})
        .unwrap();
    let mut out = Vec::new();
    assert_eq!(
        s.client
            .read_file("/input/empty", &mut out, &mut |_, _| {})
            .unwrap(),
        0
    );
    assert!(out.is_empty());
    drop(s.client);
    assert_eq!(s.peer.finish().files["/input/empty"], b"");
}

#[test]
fn refusals_carry_the_runtime_reason_and_the_session_goes_on() {
    let mut s = session(BTreeMap::new());
    let err = s
        .client
        .write_file("/output/x", &b"abc"[..], 3, &mut |_, _| {})
        .unwrap_err();
    match &err {
        ClientError::Refused { code, reason } => {
            assert_eq!(*code, Code::Forbidden);
            assert_eq!(reason, "alice lacks the `w` right on /output/x");
        }
        other => panic!("expected a refusal, got {other}"),
    }
    assert!(err.to_string().contains("forbidden"), "{err}");

    let err = s
        .client
        .read_file("/output/missing", std::io::sink(), &mut |_, _| {})
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Refused { code: Code::NotFound, reason } if reason == "/output/missing does not exist"),
        "{err}"
    );
    let err = s.client.execute_program("/program/other.wasm").unwrap_err();
    assert!(
        matches!(
            &err,
            ClientError::Refused {
                code: Code::FailedPrecondition,
                ..
            }
        ),
        "{err}"
    );
    let err = s.client.receipt(0).unwrap_err();
    assert!(matches!(&err, ClientError::Refused { .. }), "{err}");

    // Still usable after each refusal.
    s.client.status().unwrap();
    drop(s.client);
    assert_eq!(s.peer.finish().requests.len(), 5);
}

#[test]
fn short_input_abandons_the_write_and_the_runtime_stores_nothing() {
    let mut s = session(BTreeMap::new());
    // Announces 10 bytes but has only 4.
    let err = s
        .client
        .write_file("/input/short", &b"abcd"[..], 10, &mut |_, _| {})
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Input { path, .. } if path == "/input/short"),
        "{err}"
    );
    assert!(err.to_string().contains("after 0 of 10 bytes"), "{err}");
    assert!(matches!(s.client.status(), Err(ClientError::SessionBroken)));
    drop(s.client);
    assert!(s.peer.finish().files.is_empty());
}

#[test]
fn input_longer_than_announced_is_abandoned() {
    let mut s = session(BTreeMap::new());
    let err = s
        .client
        .write_file("/input/long", &b"abcdef"[..], 3, &mut |_, _| {})
        .unwrap_err();
    assert!(err.to_string().contains("longer than the 3 bytes"), "{err}");
    drop(s.client);
    assert!(s.peer.finish().files.is_empty());
}

#[test]
fn execute_consent_shutdown_and_a_live_receipt_that_verifies() {
    let program = b"\0asm\x01\0\0\0".to_vec();
    let mut s = session(BTreeMap::from([
        ("/program/sum.wasm".to_string(), program.clone()),
        ("/input/a.csv".to_string(), b"1,2\n".to_vec()),
    ]));
    let result = s.client.execute_program("/program/sum.wasm").unwrap();
    assert_eq!((result.round, result.exit_code), (1, 0));
    assert_eq!(result.program, "/program/sum.wasm");
    assert_eq!(result.reason, "ran");

    let mut out = Vec::new();
    s.client
        .read_file("/output/sum", &mut out, &mut |_, _| {})
        .unwrap();
    assert_eq!(out, b"42\n");

    let receipt = s.client.receipt(0).unwrap();
    let body = verify_receipt(&receipt, &s.policy, now()).unwrap();
    assert_eq!(body.round, 1);
    assert_eq!(body.policy_hash, s.policy.hash().to_vec());
    assert_eq!(body.programs.len(), 1);
    assert_eq!(
        body.programs[0].sha256,
        ring::digest::digest(&ring::digest::SHA256, &program).as_ref()
    );
    assert_eq!(body.inputs[0].path, "/input/a.csv");
    assert_eq!(body.outputs[0].path, "/output/sum");

    assert_eq!(s.client.consent_next_round(2).unwrap(), "consent recorded");
    s.client.vote_shutdown().unwrap();
    assert_eq!(s.client.shutdown().unwrap(), "shutting down");
    s.client.close().unwrap();
    let log = s.peer.finish();
    assert_eq!(
        log.requests,
        [
            "execute /program/sum.wasm",
            "read /output/sum",
            "receipt",
            "consent 1 2",
            "consent 2 0",
            "shutdown"
        ]
    );
}

#[test]
fn read_into_a_failing_writer_reports_the_local_error() {
    struct Full;
    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut s = session(BTreeMap::from([("/output/r".to_string(), data(1000))]));
    let err = s
        .client
        .read_file("/output/r", Full, &mut |_, _| {})
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Output { path, source } if path == "/output/r" && source.to_string() == "disk full"),
        "{err}"
    );
    drop(s.client);
    s.peer.finish();
}

#[test]
fn reader_errors_name_the_file() {
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("device gone"))
        }
    }
    let mut s = session(BTreeMap::new());
    let err = s
        .client
        .write_file("/input/x", Failing, 5, &mut |_, _| {})
        .unwrap_err();
    assert!(err.to_string().contains("/input/x"), "{err}");
    assert!(err.to_string().contains("device gone"), "{err}");
    drop(s.client);
    assert!(s.peer.finish().files.is_empty());
}
