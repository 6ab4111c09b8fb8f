//! End to end, over real processes and loopback TCP: the attestation service, the server with
//! the runtime in its `linux` isolate, and principals connecting with the client library.

use std::path::PathBuf;

use veracruz_client::ClientError;
use veracruz_protocol::v1::Code;
use veracruz_testbed::{Deployment, PrincipalSetup, ProgramSetup, Setup};

const RUNTIME: &str = env!("CARGO_BIN_EXE_veracruz-runtime");

fn example(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/wasm/{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn intersection_sum_setup() -> Setup {
    Setup {
        inputs: vec!["/input/purchases.csv".into(), "/input/adverts.csv".into()],
        ..Setup::new(
            vec![
                PrincipalSetup::new("provider", &["program-provider"], &[("/program/intersection-sum.wasm", "w")]),
                PrincipalSetup::new("retailer", &["data-provider"], &[("/input/purchases.csv", "w"), ("/program/intersection-sum.wasm", "x")]),
                PrincipalSetup::new("advertiser", &["data-provider"], &[("/input/adverts.csv", "w")]),
                PrincipalSetup::new("analyst", &["result-receiver"], &[("/output/", "r")]),
            ],
            vec![ProgramSetup {
                path: "/program/intersection-sum.wasm".into(),
                wasm: example("intersection-sum"),
                capabilities: vec![("/input/".into(), "r".into()), ("/output/".into(), "w".into())],
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
    let (code, reason) = refused_code(d.client("retailer").unwrap().execute_program("/program/intersection-sum.wasm"));
    assert_eq!(code, Code::FailedPrecondition);
    assert!(reason.contains("/program/intersection-sum.wasm") && reason.contains("/input/adverts.csv"), "{reason}");

    write(&d, "provider", "/program/intersection-sum.wasm", &example("intersection-sum")).unwrap();
    write(&d, "retailer", "/input/purchases.csv", b"customer_id,amount\nc1,19.99\nc2,5\nc1,100.01\nc3,7.50\n").unwrap();
    let (code, reason) = refused_code(d.client("retailer").unwrap().execute_program("/program/intersection-sum.wasm"));
    assert_eq!(code, Code::FailedPrecondition);
    assert!(reason.contains("/input/adverts.csv") && !reason.contains("purchases"), "{reason}");
    write(&d, "advertiser", "/input/adverts.csv", b"customer_id\nc1\nc3\nc9\n").unwrap();

    // Reading the result before the run: refused.
    let (code, _) = refused_code(read(&d, "analyst", "/output/intersection-sum.json"));
    assert_eq!(code, Code::FailedPrecondition);

    let outcome = d.client("retailer").unwrap().execute_program("/program/intersection-sum.wasm").unwrap();
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
