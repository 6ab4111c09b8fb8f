//! The policy walkthrough through the real binary: identities, `policy new`, `policy check`.

use std::path::Path;
use std::process::{Command, Output};

fn veracruz(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_veracruz"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("running veracruz")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = veracruz(dir, args);
    assert!(
        out.status.success(),
        "veracruz {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn new_policy_args(out: &str) -> Vec<String> {
    let measurement = "11".repeat(32);
    [
        "policy",
        "new",
        "--principal",
        "alice=ids/alice.crt",
        "--principal",
        "bob=ids/bob.crt",
        "--role",
        "alice=program-provider",
        "--role",
        "bob=data-provider",
        "--program",
        "/program/sum.wasm=sum.wasm",
        "--cap",
        "alice:/program/sum.wasm=wx",
        "--cap",
        "bob:/input/bob.csv=w",
        "--cap",
        "bob:/output/=r",
        "--program-cap",
        "/program/sum.wasm:/input/=r",
        "--program-cap",
        "/program/sum.wasm:/output/=w",
        "--input",
        "/input/bob.csv",
        "--attestation-url",
        "http://127.0.0.1:3010",
        "--attestation-ca",
        "ids/ca.crt",
        "--allow-insecure",
        "--measurement",
        &format!("linux={measurement}"),
        "--server",
        "127.0.0.1:3011",
        "--out",
        out,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn identities_policy_new_and_check_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for name in ["alice", "bob", "ca"] {
        ok(dir, &["identity", "new", name, "--out", "ids"]);
    }
    let key_mode = std::fs::metadata(dir.join("ids/alice.key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key_mode.permissions().mode() & 0o777, 0o600);
    // A second `identity new` must not silently replace a key.
    let again = veracruz(dir, &["identity", "new", "alice", "--out", "ids"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let shown = ok(dir, &["identity", "show", "ids/bob.crt", "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["subject"], "CN=bob");
    assert_eq!(shown["state"], "valid");

    std::fs::write(dir.join("sum.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let args = new_policy_args("policy.json");
    ok(dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let bytes = std::fs::read(dir.join("policy.json")).unwrap();
    assert!(bytes.ends_with(b"}\n"));

    let first: serde_json::Value =
        serde_json::from_str(&ok(dir, &["policy", "check", "policy.json", "--json"])).unwrap();
    let second: serde_json::Value =
        serde_json::from_str(&ok(dir, &["policy", "check", "policy.json", "--json"])).unwrap();
    use sha2::Digest;
    let expected = hex::encode(sha2::Sha256::digest(&bytes));
    assert_eq!(first["hash"], expected.as_str());
    assert_eq!(first["hash"], second["hash"]);
    assert_eq!(
        first["programs"][0]["sha256"],
        hex::encode(sha2::Sha256::digest(b"\0asm\x01\0\0\0")).as_str()
    );
    let rights = first["rights"].as_array().unwrap();
    assert!(rights
        .iter()
        .any(|r| r["principal"] == "bob" && r["path"] == "/output" && r["rights"] == "r"));

    // The same flags give the same bytes: the output is stable.
    let args = new_policy_args("again.json");
    ok(dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(bytes, std::fs::read(dir.join("again.json")).unwrap());

    // The human-readable check names the hash and the table.
    let text = ok(dir, &["policy", "check", "policy.json"]);
    assert!(text.contains(&expected) && text.contains("/input/bob.csv"));

    // `hardware_nans` is written only when asked for.
    let written: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert!(written["execution"].get("hardware_nans").is_none());
    let mut args = new_policy_args("fast.json");
    args.push("--hardware-nans".into());
    ok(dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let fast: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("fast.json")).unwrap()).unwrap();
    assert_eq!(fast["execution"]["hardware_nans"], true);
}

#[test]
fn check_names_the_field_of_a_bad_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for name in ["alice", "ca"] {
        ok(dir, &["identity", "new", name, "--out", "ids"]);
    }
    std::fs::write(dir.join("p.wasm"), b"\0asm\x01\0\0\0").unwrap();
    ok(
        dir,
        &[
            "policy",
            "new",
            "--principal",
            "alice=ids/alice.crt",
            "--program",
            "/p.wasm=p.wasm",
            "--cap",
            "alice:/p.wasm=wx",
            "--attestation-url",
            "http://127.0.0.1:1",
            "--attestation-ca",
            "ids/ca.crt",
            "--allow-insecure",
            "--measurement",
            &format!("linux={}", "00".repeat(32)),
            "--server",
            "127.0.0.1:2",
            "--out",
            "p.json",
        ],
    );
    let text = std::fs::read_to_string(dir.join("p.json")).unwrap();
    std::fs::write(dir.join("bad.json"), text.replace("\"wx\"", "\"wz\"")).unwrap();
    let out = veracruz(dir, &["policy", "check", "bad.json"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("principals[0].capabilities") && err.contains("`z` is not a right"),
        "{err}"
    );
}
