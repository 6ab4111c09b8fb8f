//! End to end, over real processes and loopback TCP: the attestation service, the server with
//! the runtime in its `linux` isolate, and principals connecting with the client library.

use std::path::PathBuf;

use veracruz_client::ClientError;
use veracruz_protocol::v1::Code;
use veracruz_testbed::{Deployment, PrincipalSetup, ProgramSetup, Setup};

const RUNTIME: &str = env!("CARGO_BIN_EXE_veracruz-runtime");

fn example(name: &str) -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/wasm/{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn intersection_sum_setup() -> Setup {
    Setup {
        inputs: vec!["/input/purchases.csv".into(), "/input/adverts.csv".into()],
        ..Setup::new(
            vec![
                PrincipalSetup::new(
                    "provider",
                    &["program-provider"],
                    &[("/program/intersection-sum.wasm", "w")],
                ),
                PrincipalSetup::new(
                    "retailer",
                    &["data-provider"],
                    &[
                        ("/input/purchases.csv", "w"),
                        ("/program/intersection-sum.wasm", "x"),
                    ],
                ),
                PrincipalSetup::new(
                    "advertiser",
                    &["data-provider"],
                    &[("/input/adverts.csv", "w")],
                ),
                PrincipalSetup::new("analyst", &["result-receiver"], &[("/output/", "r")]),
            ],
            vec![ProgramSetup {
                path: "/program/intersection-sum.wasm".into(),
                wasm: example("intersection-sum"),
                capabilities: vec![
                    ("/input/".into(), "r".into()),
                    ("/output/".into(), "w".into()),
                ],
            }],
        )
    }
}

fn write(d: &Deployment, who: &str, path: &str, bytes: &[u8]) -> Result<String, ClientError> {
    let mut c = d.client(who)?;
    c.write_file(path, bytes, bytes.len() as u64, &mut |_, _| {})
}

fn read(d: &Deployment, who: &str, path: &str) -> Result<Vec<u8>, ClientError> {
    let mut c = d.client(who)?;
    let mut out = Vec::new();
    c.read_file(path, &mut out, &mut |_, _| {})?;
    Ok(out)
}

fn refused_code(r: Result<impl std::fmt::Debug, ClientError>) -> (Code, String) {
    match r {
        Err(ClientError::Refused { code, reason }) => (code, reason),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn three_parties_two_data_providers_and_a_separate_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let d = Deployment::start(&intersection_sum_setup(), RUNTIME.as_ref(), dir.path()).unwrap();

    // Execute before anything is there: refused, naming what is missing.
    let (code, reason) = refused_code(
        d.client("retailer")
            .unwrap()
            .execute_program("/program/intersection-sum.wasm"),
    );
    assert_eq!(code, Code::FailedPrecondition);
    assert!(
        reason.contains("/program/intersection-sum.wasm") && reason.contains("/input/adverts.csv"),
        "{reason}"
    );

    write(
        &d,
        "provider",
        "/program/intersection-sum.wasm",
        &example("intersection-sum"),
    )
    .unwrap();
    write(
        &d,
        "retailer",
        "/input/purchases.csv",
        b"customer_id,amount\nc1,19.99\nc2,5\nc1,100.01\nc3,7.50\n",
    )
    .unwrap();
    let (code, reason) = refused_code(
        d.client("retailer")
            .unwrap()
            .execute_program("/program/intersection-sum.wasm"),
    );
    assert_eq!(code, Code::FailedPrecondition);
    assert!(
        reason.contains("/input/adverts.csv") && !reason.contains("purchases"),
        "{reason}"
    );
    write(
        &d,
        "advertiser",
        "/input/adverts.csv",
        b"customer_id\nc1\nc3\nc9\n",
    )
    .unwrap();

    // Reading the result before the run: refused.
    let (code, _) = refused_code(read(&d, "analyst", "/output/intersection-sum.json"));
    assert_eq!(code, Code::FailedPrecondition);

    let outcome = d
        .client("retailer")
        .unwrap()
        .execute_program("/program/intersection-sum.wasm")
        .unwrap();
    assert_eq!(outcome.exit_code, 0, "{outcome:?}");
    let result = read(&d, "analyst", "/output/intersection-sum.json").unwrap();
    let text = String::from_utf8(result).unwrap();
    assert!(text.contains("\"127.50\""), "{text}");

    // Without `r` on the result: refused, and the runtime keeps serving.
    let (code, _) = refused_code(read(&d, "retailer", "/output/intersection-sum.json"));
    assert_eq!(code, Code::Forbidden);
    let status = d.client("advertiser").unwrap().status().unwrap();
    assert_eq!(status.round, 1);
    assert_eq!(status.state, "finished");
}

fn wat(src: &str) -> Vec<u8> {
    wat::parse_str(src).expect("valid WAT")
}

/// One principal who provides, runs and reads, with the given program at /program/p.wasm.
fn solo(wasm: Vec<u8>) -> Setup {
    Setup::new(
        vec![PrincipalSetup::new(
            "solo",
            &["program-provider", "data-provider", "result-receiver"],
            &[
                ("/program/p.wasm", "wx"),
                ("/input/", "w"),
                ("/output/", "r"),
            ],
        )],
        vec![ProgramSetup {
            path: "/program/p.wasm".into(),
            wasm,
            capabilities: vec![
                ("/input/".into(), "r".into()),
                ("/output/".into(), "w".into()),
            ],
        }],
    )
}

#[test]
fn one_principal_writes_runs_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = example("intersection-sum");
    let d = Deployment::start(&solo(wasm.clone()), RUNTIME.as_ref(), dir.path()).unwrap();
    let mut c = d.client("solo").unwrap();
    // The client saw what the attestation service certified.
    assert_eq!(c.runtime().measurement, d.measurement.to_vec());
    assert_eq!(c.runtime().policy_hash, d.policy.hash());
    c.write_file(
        "/program/p.wasm",
        wasm.as_slice(),
        wasm.len() as u64,
        &mut |_, _| {},
    )
    .unwrap();
    let purchases = b"customer_id,amount\na,1.50\nb,2\n";
    c.write_file(
        "/input/purchases.csv",
        &purchases[..],
        purchases.len() as u64,
        &mut |_, _| {},
    )
    .unwrap();
    let adverts = b"customer_id\na\n";
    c.write_file(
        "/input/adverts.csv",
        &adverts[..],
        adverts.len() as u64,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(c.execute_program("/program/p.wasm").unwrap().exit_code, 0);
    let mut out = Vec::new();
    c.read_file("/output/intersection-sum.json", &mut out, &mut |_, _| {})
        .unwrap();
    assert!(String::from_utf8_lossy(&out).contains("\"1.50\""));
    // The receipt verifies offline against the policy and names what ran on what.
    let receipt = c.receipt(0).unwrap();
    let body = veracruz_client::verify_receipt(&receipt, &d.policy, now()).unwrap();
    assert_eq!(body.round, 1);
    assert_eq!(body.exit_code, 0);
    assert_eq!(body.programs[0].sha256, sha256(&wasm));
    let input = body
        .inputs
        .iter()
        .find(|i| i.path == "/input/purchases.csv")
        .unwrap();
    assert_eq!(input.sha256, sha256(purchases));
    let output = body
        .outputs
        .iter()
        .find(|o| o.path == "/output/intersection-sum.json")
        .unwrap();
    assert_eq!(output.sha256, sha256(&out));
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn sha256(b: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(b).to_vec()
}

#[test]
fn two_principals_program_provider_and_data_provider_who_reads_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = example("intersection-sum");
    let setup = Setup::new(
        vec![
            PrincipalSetup::new(
                "provider",
                &["program-provider"],
                &[("/program/p.wasm", "w")],
            ),
            PrincipalSetup::new(
                "owner",
                &["data-provider", "result-receiver"],
                &[
                    ("/program/p.wasm", "x"),
                    ("/input/", "w"),
                    ("/output/", "r"),
                ],
            ),
        ],
        vec![ProgramSetup {
            path: "/program/p.wasm".into(),
            wasm: wasm.clone(),
            capabilities: vec![
                ("/input/".into(), "r".into()),
                ("/output/".into(), "w".into()),
            ],
        }],
    );
    let d = Deployment::start(&setup, RUNTIME.as_ref(), dir.path()).unwrap();
    write(&d, "provider", "/program/p.wasm", &wasm).unwrap();
    // The program provider cannot run it, nor read results.
    let (code, _) = refused_code(
        d.client("provider")
            .unwrap()
            .execute_program("/program/p.wasm"),
    );
    assert_eq!(code, Code::Forbidden);
    write(
        &d,
        "owner",
        "/input/purchases.csv",
        b"customer_id,amount\nx,3\n",
    )
    .unwrap();
    write(&d, "owner", "/input/adverts.csv", b"customer_id\nx\n").unwrap();
    assert_eq!(
        d.client("owner")
            .unwrap()
            .execute_program("/program/p.wasm")
            .unwrap()
            .exit_code,
        0
    );
    assert!(
        String::from_utf8(read(&d, "owner", "/output/intersection-sum.json").unwrap())
            .unwrap()
            .contains("\"3.00\"")
    );
    let (code, _) = refused_code(read(&d, "provider", "/output/intersection-sum.json"));
    assert_eq!(code, Code::Forbidden);
}

#[test]
fn four_principals_one_never_connects_and_writes_happen_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let mut setup = intersection_sum_setup();
    setup.principals.push(PrincipalSetup::new(
        "auditor",
        &["observer"],
        &[("/output/", "r")],
    ));
    let d = Deployment::start(&setup, RUNTIME.as_ref(), dir.path()).unwrap();
    let wasm = example("intersection-sum");
    let purchases: Vec<u8> = {
        let mut s = String::from("customer_id,amount\n");
        for i in 0..20_000 {
            s.push_str(&format!("c{},{}.{:02}\n", i % 5000, i % 100, i % 97));
        }
        s.into_bytes()
    };
    let adverts = b"customer_id\nc1\nc2\nc3\n".to_vec();
    std::thread::scope(|s| {
        let d = &d;
        let a = s.spawn(|| write(d, "provider", "/program/intersection-sum.wasm", &wasm));
        let b = s.spawn(|| write(d, "retailer", "/input/purchases.csv", &purchases));
        let c = s.spawn(|| write(d, "advertiser", "/input/adverts.csv", &adverts));
        a.join().unwrap().unwrap();
        b.join().unwrap().unwrap();
        c.join().unwrap().unwrap();
    });
    let outcome = d
        .client("retailer")
        .unwrap()
        .execute_program("/program/intersection-sum.wasm")
        .unwrap();
    assert_eq!(outcome.exit_code, 0);
    // Expected: the spend of c1, c2, c3 computed here independently.
    let mut cents = 0i64;
    for i in 0..20_000i64 {
        if [1, 2, 3].contains(&(i % 5000)) {
            cents += (i % 100) * 100 + i % 97;
        }
    }
    let text =
        String::from_utf8(read(&d, "analyst", "/output/intersection-sum.json").unwrap()).unwrap();
    assert!(
        text.contains(&format!("\"{}.{:02}\"", cents / 100, cents % 100)),
        "{text}"
    );
}

#[test]
fn three_rounds_each_further_round_needs_every_consent() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = example("number-stream-accumulation");
    let mut setup = Setup::new(
        vec![
            PrincipalSetup::new(
                "sensor",
                &["data-provider", "program-provider"],
                &[("/program/acc.wasm", "w"), ("/input/batch.csv", "w")],
            ),
            PrincipalSetup::new(
                "monitor",
                &["result-receiver"],
                &[("/output/total.csv", "r"), ("/program/acc.wasm", "x")],
            ),
        ],
        vec![ProgramSetup {
            path: "/program/acc.wasm".into(),
            wasm: wasm.clone(),
            capabilities: vec![
                ("/input/".into(), "r".into()),
                ("/output/".into(), "rw".into()),
                ("stderr".into(), "w".into()),
            ],
        }],
    );
    setup.inputs = vec!["/input/batch.csv".into()];
    let d = Deployment::start(&setup, RUNTIME.as_ref(), dir.path()).unwrap();
    write(&d, "sensor", "/program/acc.wasm", &wasm).unwrap();
    let mut total = 0i64;
    for round in 1..=3u64 {
        let batch: Vec<i64> = (0..50)
            .map(|i| (i * 37 + round as i64 * 1000) % 2001 - 1000)
            .collect();
        total += batch.iter().sum::<i64>();
        let mut csv = String::from("value\n");
        for v in &batch {
            csv.push_str(&format!("{v}\n"));
        }
        write(&d, "sensor", "/input/batch.csv", csv.as_bytes()).unwrap();
        if round > 1 {
            // Without every consent the round is refused, naming who is missing.
            let (code, reason) = refused_code(
                d.client("monitor")
                    .unwrap()
                    .execute_program("/program/acc.wasm"),
            );
            assert_eq!(code, Code::FailedPrecondition);
            assert!(
                reason.contains(&format!("run {round} needs consent")),
                "{reason}"
            );
            d.client("sensor")
                .unwrap()
                .consent_next_round(round)
                .unwrap();
            let (_, reason) = refused_code(
                d.client("monitor")
                    .unwrap()
                    .execute_program("/program/acc.wasm"),
            );
            assert!(reason.contains("still missing: monitor"), "{reason}");
            // A consent for another round is refused.
            let (code, _) =
                refused_code(d.client("monitor").unwrap().consent_next_round(round + 1));
            assert_eq!(code, Code::FailedPrecondition);
            d.client("monitor")
                .unwrap()
                .consent_next_round(round)
                .unwrap();
        }
        let outcome = d
            .client("monitor")
            .unwrap()
            .execute_program("/program/acc.wasm")
            .unwrap();
        assert_eq!((outcome.round, outcome.exit_code), (round, 0));
        let text = String::from_utf8(read(&d, "monitor", "/output/total.csv").unwrap()).unwrap();
        assert!(
            text.contains(&format!("{round},{},{total}", 50 * round)),
            "round {round}: {text}"
        );
    }
}

#[test]
fn refusals_name_the_problem_and_the_runtime_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let d = Deployment::start(&intersection_sum_setup(), RUNTIME.as_ref(), dir.path()).unwrap();
    let wasm = example("intersection-sum");

    // Program bytes that do not match the pinned hash.
    let mut other = wasm.clone();
    other.push(0);
    let (code, reason) = refused_code(write(
        &d,
        "provider",
        "/program/intersection-sum.wasm",
        &other,
    ));
    assert_eq!(code, Code::HashMismatch);
    assert!(reason.contains("the policy pins"), "{reason}");
    // The refused write left nothing behind: the real program can still be written, once.
    write(&d, "provider", "/program/intersection-sum.wasm", &wasm).unwrap();
    let (code, reason) = refused_code(write(
        &d,
        "provider",
        "/program/intersection-sum.wasm",
        &wasm,
    ));
    assert_eq!(code, Code::FailedPrecondition);
    assert!(reason.contains("already been provisioned"), "{reason}");
    // Writing where the principal has no right.
    let (code, _) = refused_code(write(&d, "advertiser", "/input/purchases.csv", b"x"));
    assert_eq!(code, Code::Forbidden);
    // Execute without `x`.
    let (code, reason) = refused_code(
        d.client("analyst")
            .unwrap()
            .execute_program("/program/intersection-sum.wasm"),
    );
    assert_eq!(code, Code::Forbidden);
    assert!(reason.contains("`x`"), "{reason}");
    // Shutdown needs every principal (the default quorum): one vote is not enough.
    let msg = d.client("analyst").unwrap().vote_shutdown().unwrap();
    assert!(msg.contains("1 of 4"), "{msg}");
    let status = d.client("retailer").unwrap().status().unwrap();
    assert_eq!(status.shutdown_votes, vec!["analyst".to_string()]);
    assert_eq!(
        status.programs_present,
        vec!["/program/intersection-sum.wasm".to_string()]
    );
    assert_eq!(status.inputs_missing.len(), 2);
}

fn guest(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/guests/{name}"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn programs_that_trap_loop_or_exceed_memory_are_stopped_with_the_named_limit() {
    let dir = tempfile::tempdir().unwrap();
    let caps = vec![
        ("/output/".to_string(), "w".to_string()),
        ("stdout".to_string(), "w".to_string()),
    ];
    let programs = [
        ("/program/loop.wasm", wat("(module (memory (export \"memory\") 1) (func (export \"_start\") (loop $l (br $l))))")),
        ("/program/trap.wasm", wat("(module (memory (export \"memory\") 1) (func (export \"_start\") unreachable))")),
        ("/program/bomb.wasm", guest("membomb.wasm")),
    ];
    let mut setup = Setup::new(
        vec![PrincipalSetup::new(
            "solo",
            &[],
            &[("/program/", "wx"), ("/output/", "r")],
        )],
        programs
            .iter()
            .map(|(p, w)| ProgramSetup {
                path: p.to_string(),
                wasm: w.clone(),
                capabilities: caps.clone(),
            })
            .collect(),
    );
    setup.execution.fuel = Some(50_000_000);
    setup.execution.max_memory_mib = 32;
    setup.lifecycle.runs_without_consent = 10;
    let d = Deployment::start(&setup, RUNTIME.as_ref(), dir.path()).unwrap();
    for (path, wasm) in &programs {
        write(&d, "solo", path, wasm).unwrap();
    }
    let mut c = d.client("solo").unwrap();
    for (path, needle) in [
        ("/program/loop.wasm", "fuel"),
        ("/program/trap.wasm", "unreachable"),
        ("/program/bomb.wasm", "memory"),
    ] {
        let (code, reason) = refused_code(c.execute_program(path));
        assert_eq!(code, Code::ExecutionFailed, "{path}: {reason}");
        assert!(reason.contains(needle), "{path}: {reason}");
    }
    // The runtime survived all three, recorded them as runs, and keeps serving.
    let status = c.status().unwrap();
    assert_eq!(status.round, 3);
    let receipt = c.receipt(3).unwrap();
    let body = veracruz_client::verify_receipt(&receipt, &d.policy, now()).unwrap();
    assert_eq!(body.exit_code, -1);
}

#[test]
fn shutdown_follows_the_quorum_and_the_isolate_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut setup = intersection_sum_setup();
    setup.lifecycle.shutdown.voters = Some(vec![
        "retailer".into(),
        "advertiser".into(),
        "analyst".into(),
    ]);
    setup.lifecycle.shutdown.quorum = Some(2);
    let mut d = Deployment::start(&setup, RUNTIME.as_ref(), dir.path()).unwrap();
    let (code, _) = refused_code(d.client("provider").unwrap().vote_shutdown());
    assert_eq!(code, Code::Forbidden);
    assert!(d
        .client("retailer")
        .unwrap()
        .vote_shutdown()
        .unwrap()
        .contains("1 of 2"));
    assert!(d
        .client("analyst")
        .unwrap()
        .shutdown()
        .unwrap()
        .contains("shut down"));
    let ended = d
        .wait_server(std::time::Duration::from_secs(10))
        .expect("the server stops");
    assert_eq!(ended, Ok(veracruz_host::Ended::ShutDown));
    // Nothing answers any more.
    assert!(d.client("retailer").is_err());
}

#[test]
fn the_isolate_is_confined() {
    let dir = tempfile::tempdir().unwrap();
    let d = Deployment::start(&intersection_sum_setup(), RUNTIME.as_ref(), dir.path()).unwrap();
    let view = veracruz_isolate::inspect(d.runtime_pid).unwrap();
    for ns in ["user", "mnt", "pid", "net", "ipc", "uts"] {
        assert!(
            view.namespace(ns).unwrap().is_separate(),
            "{ns} namespace is shared with the host"
        );
    }
    assert_eq!(view.seccomp_mode, 2);
    assert!(view.no_new_privs);
    assert_eq!(view.dumpable(), Some(false));
    assert!(view.limit("Max data size").is_some());
}

/// A relay that forwards bytes both ways but flips one byte of the client's stream at `at`.
fn flipping_proxy(target: std::net::SocketAddr, at: usize) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let mut server = std::net::TcpStream::connect(target).unwrap();
        let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut s2, &mut c2);
            let _ = c2.shutdown(std::net::Shutdown::Both);
        });
        let mut seen = 0usize;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match client.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if seen <= at && at < seen + n {
                buf[at - seen] ^= 0x01;
            }
            seen += n;
            if server.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = server.shutdown(std::net::Shutdown::Both);
    });
    addr
}

#[test]
fn hostile_network_and_impostors_are_refused_and_the_runtime_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let d = Deployment::start(&intersection_sum_setup(), RUNTIME.as_ref(), dir.path()).unwrap();

    // A relay that flips one byte of ciphertext in the middle of an upload.
    let proxy = flipping_proxy(d.server_addr, 100_000);
    let options = veracruz_client::ClientOptions {
        server: Some(proxy.to_string()),
        ..Default::default()
    };
    let mut c = veracruz_client::Client::connect(
        &d.policy,
        &d.policy_bytes,
        d.identity("retailer"),
        &options,
    )
    .unwrap();
    let data = vec![b'7'; 300_000];
    let result = c.write_file(
        "/input/purchases.csv",
        data.as_slice(),
        data.len() as u64,
        &mut |_, _| {},
    );
    assert!(
        result.is_err(),
        "a corrupted upload must fail, got {result:?}"
    );
    // Nothing of it landed.
    let status = d.client("retailer").unwrap().status().unwrap();
    assert!(
        status
            .inputs_missing
            .contains(&"/input/purchases.csv".to_string()),
        "{status:?}"
    );

    // Random bytes instead of TLS.
    {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(d.server_addr).unwrap();
        let garbage: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        tcp.write_all(&garbage).unwrap();
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut sink = Vec::new();
        let _ = tcp.read_to_end(&mut sink);
    }

    // A certificate that is not in the policy, and a policy certificate with the wrong key.
    let stranger = veracruz_testbed::make_identity("stranger").unwrap();
    assert!(raw::status(&d, &stranger.certificate_pem, &stranger.key_pem).is_err());
    let impostor_key = veracruz_testbed::make_identity("retailer").unwrap().key_pem;
    assert!(raw::status(&d, &d.principals["retailer"].certificate_pem, &impostor_key).is_err());
    // The real retailer passes the same test peer, so the refusals above are the runtime's.
    let ok = raw::status(
        &d,
        &d.principals["retailer"].certificate_pem,
        &d.principals["retailer"].key_pem,
    )
    .unwrap();
    assert_eq!(ok.status(), Code::Ok);

    // An authenticated principal sending a frame over the maximum size: refused, session closed.
    let resp = raw::send_raw(&d, "retailer", &[0x7f, 0xff, 0xff, 0xff]).unwrap();
    assert_eq!(resp.status(), Code::TooLarge, "{}", resp.reason);
    // Garbage inside TLS: refused as undecodable.
    let resp = raw::send_raw(&d, "retailer", &[0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff]).unwrap();
    assert_eq!(resp.status(), Code::Invalid, "{}", resp.reason);

    // And after all that, the runtime still serves.
    assert_eq!(
        d.client("advertiser").unwrap().status().unwrap().principal,
        "advertiser"
    );
}

#[test]
fn clients_refuse_a_runtime_their_policy_does_not_describe() {
    let dir = tempfile::tempdir().unwrap();
    let mut setup = intersection_sum_setup();
    setup.certificate_lifetime_secs = 3;
    let d = Deployment::start(&setup, RUNTIME.as_ref(), dir.path()).unwrap();

    // A client whose policy differs in one byte (same meaning, other bytes): another computation.
    let mut bytes = d.policy_bytes.clone();
    let brace = bytes.iter().rposition(|b| *b == b'}').unwrap();
    bytes.insert(brace, b' ');
    let policy = veracruz_policy::Policy::from_bytes(&bytes).unwrap();
    let err = veracruz_client::Client::connect(
        &policy,
        &bytes,
        d.identity("retailer"),
        &Default::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Attestation(veracruz_client::AttestationError::PolicyHashMismatch { .. })
        ),
        "{err}"
    );

    // The runtime certificate expires: clients refuse it, naming the expiry.
    std::thread::sleep(std::time::Duration::from_secs(5));
    let err = d.client("retailer").unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Attestation(veracruz_client::AttestationError::Expired { .. })
        ),
        "{err}"
    );
}

#[test]
fn clients_refuse_a_measurement_the_policy_does_not_accept() {
    let dir = tempfile::tempdir().unwrap();
    let mut setup = intersection_sum_setup();
    setup.accept_runtime_measurement = false;
    let d = Deployment::start(&setup, RUNTIME.as_ref(), dir.path()).unwrap();
    let err = d.client("retailer").unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Attestation(
                veracruz_client::AttestationError::MeasurementNotAccepted { .. }
            )
        ),
        "{err}"
    );
}

#[test]
fn killing_the_runtime_mid_run_gives_clients_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut setup = solo(wat(
        "(module (memory (export \"memory\") 1) (func (export \"_start\") (loop $l (br $l))))",
    ));
    setup.execution.fuel = None;
    setup.execution.time_limit_ms = Some(60_000);
    let mut d = Deployment::start(&setup, RUNTIME.as_ref(), dir.path()).unwrap();
    let wasm = setup.programs[0].wasm.clone();
    write(&d, "solo", "/program/p.wasm", &wasm).unwrap();
    let pid = d.runtime_pid;
    let killer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
    });
    let err = d
        .client("solo")
        .unwrap()
        .execute_program("/program/p.wasm")
        .unwrap_err();
    killer.join().unwrap();
    assert!(
        matches!(
            err,
            ClientError::Closed | ClientError::Frame(_) | ClientError::PeerAlert(_)
        ),
        "{err}"
    );
    let ended = d
        .wait_server(std::time::Duration::from_secs(10))
        .expect("the server stops");
    let reason = ended.unwrap_err();
    assert!(
        reason.contains("runtime exited") && reason.contains("signal 9"),
        "{reason}"
    );
}

/// A bare TLS client that trusts any server: a test peer that lets the runtime's own checks be
/// exercised without the client library's.
mod raw {
    use std::io::Write;
    use std::net::TcpStream;
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::client::ResolvesClientCert;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
    use rustls::sign::CertifiedKey;
    use rustls::{
        ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned,
    };
    use veracruz_protocol::v1::{request, Request, Response, StatusRequest};
    use veracruz_protocol::{read_frame, write_frame, MAX_FRAME_BYTES};
    use veracruz_testbed::Deployment;

    #[derive(Debug)]
    struct AnyServer;

    impl ServerCertVerifier for AnyServer {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }

    /// Presents `cert` and signs with `key` even when they do not match (rustls's own
    /// consistency check would stop an impostor before the runtime sees it).
    #[derive(Debug)]
    struct Presents(Arc<CertifiedKey>);

    impl ResolvesClientCert for Presents {
        fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
            Some(self.0.clone())
        }
        fn has_certs(&self) -> bool {
            true
        }
    }

    fn connect(
        d: &Deployment,
        cert_pem: &str,
        key_pem: &str,
    ) -> std::io::Result<StreamOwned<ClientConnection, TcpStream>> {
        let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
        let key = rustls::crypto::ring::sign::any_supported_type(&key).unwrap();
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(&[&rustls::version::TLS13])
                .unwrap()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServer))
                .with_client_cert_resolver(Arc::new(Presents(Arc::new(CertifiedKey::new(
                    vec![cert],
                    key,
                )))));
        let conn = ClientConnection::new(
            Arc::new(config),
            ServerName::try_from("runtime.veracruz.invalid").unwrap(),
        )
        .unwrap();
        let tcp = TcpStream::connect(d.server_addr)?;
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
        let mut tls = StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        Ok(tls)
    }

    /// Connects with the given identity and asks for the status.
    pub fn status(d: &Deployment, cert_pem: &str, key_pem: &str) -> Result<Response, String> {
        let mut tls = connect(d, cert_pem, key_pem).map_err(|e| e.to_string())?;
        let req = Request {
            kind: Some(request::Kind::Status(StatusRequest {})),
        };
        write_frame(&mut tls, &req, MAX_FRAME_BYTES).map_err(|e| e.to_string())?;
        tls.flush().map_err(|e| e.to_string())?;
        read_frame::<_, Response>(&mut tls, MAX_FRAME_BYTES, "response")
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "closed".to_string())
    }

    /// Connects as a principal and sends `bytes` as they are; returns the runtime's answer.
    pub fn send_raw(d: &Deployment, who: &str, bytes: &[u8]) -> Result<Response, String> {
        let p = &d.principals[who];
        let mut tls = connect(d, &p.certificate_pem, &p.key_pem).map_err(|e| e.to_string())?;
        tls.write_all(bytes).map_err(|e| e.to_string())?;
        tls.flush().map_err(|e| e.to_string())?;
        read_frame::<_, Response>(&mut tls, MAX_FRAME_BYTES, "response")
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "closed".to_string())
    }
}

/// The policy's `execution.hardware_nans` reaches the engine: the same program prints the
/// canonical NaN by default and the CPU's (x86-64: sign bit set) when the policy allows it.
#[test]
fn the_policy_decides_whether_nan_bits_are_canonical() {
    let program = wat(r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (func (export "_start")
          (i32.store (i32.const 100) (i32.reinterpret_f32 (f32.sqrt (f32.const -1))))
          (i32.store (i32.const 0) (i32.const 100))
          (i32.store (i32.const 4) (i32.const 4))
          (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))"#);
    let mut seen = Vec::new();
    for hardware_nans in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut setup = Setup::new(
            vec![PrincipalSetup::new(
                "solo",
                &[],
                &[("/program/", "wx"), ("stdout", "r")],
            )],
            vec![ProgramSetup {
                path: "/program/nan.wasm".into(),
                wasm: program.clone(),
                capabilities: vec![("stdout".to_string(), "w".to_string())],
            }],
        );
        setup.execution.hardware_nans = hardware_nans;
        let d = Deployment::start(&setup, RUNTIME.as_ref(), dir.path()).unwrap();
        write(&d, "solo", "/program/nan.wasm", &program).unwrap();
        let mut c = d.client("solo").unwrap();
        assert_eq!(c.execute_program("/program/nan.wasm").unwrap().exit_code, 0);
        seen.push(read(&d, "solo", "stdout").unwrap());
    }
    assert_eq!(
        seen[0],
        0x7fc0_0000u32.to_le_bytes(),
        "canonical by default"
    );
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        seen[1],
        0xffc0_0000u32.to_le_bytes(),
        "the CPU's NaN when allowed"
    );
}
