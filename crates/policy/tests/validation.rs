//! Every validation rule, each with a policy that breaks it and the specific error it must get.

use rcgen::{date_time_ymd, CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
use serde_json::{json, Value};
use veracruz_policy::{Invalid, Platform, Policy, PolicyError, Rights};

/// 2026-11-27T00:00:00Z: inside every generated certificate's window.
const NOW: i64 = 1_795_737_600;

fn cert(name: &str, from: (i32, u8, u8), to: (i32, u8, u8)) -> String {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
    params.not_before = date_time_ymd(from.0, from.1, from.2);
    params.not_after = date_time_ymd(to.0, to.1, to.2);
    params.self_signed(&key).unwrap().pem()
}

fn valid_cert(name: &str) -> String {
    cert(name, (2025, 1, 1), (2030, 1, 1))
}

fn base() -> Value {
    json!({
        "version": 1,
        "principals": [
            {"name": "alice", "certificate": valid_cert("alice"), "roles": ["program-provider"],
             "capabilities": {"/program/sum.wasm": "wx", "/output/": "r"}},
            {"name": "bob", "certificate": valid_cert("bob"), "roles": ["data-provider", "result-receiver"],
             "capabilities": {"/input/bob.csv": "w", "/output/": "r", "stdout": "r"}}
        ],
        "programs": [
            {"path": "/program/sum.wasm", "sha256": "ab".repeat(32),
             "capabilities": {"/input/": "r", "/output/": "w", "stdout": "w"}}
        ],
        "pipelines": [
            {"name": "twice", "script": "sum.wasm; if /output/x { /program/sum.wasm }",
             "capabilities": {"/input/": "r", "/output/": "rw"}}
        ],
        "inputs": ["/input/bob.csv"],
        "execution": {"strategy": "jit", "max_memory_mib": 64, "fuel": 1000000, "max_output_bytes": 1048576},
        "attestation": {"service_url": "http://127.0.0.1:3010", "ca_certificate": valid_cert("ca"),
            "allow_insecure_platforms": true, "accepted_measurements": {"linux": ["00".repeat(32)]}},
        "server": {"address": "127.0.0.1:3011"}
    })
}

fn parse(v: &Value) -> Result<Policy, PolicyError> {
    Policy::from_bytes_at(serde_json::to_string_pretty(v).unwrap().as_bytes(), NOW)
}

/// Applies `edit` to the base policy and asserts it is refused at `field` for `check`.
fn refused(edit: impl FnOnce(&mut Value), field: &str, check: impl FnOnce(&Invalid) -> bool) {
    let mut v = base();
    edit(&mut v);
    let err = parse(&v).expect_err("policy should be refused");
    assert_eq!(err.field(), Some(field), "{err}");
    let reason = err
        .reason()
        .unwrap_or_else(|| panic!("not a validation error: {err}"));
    assert!(check(reason), "unexpected reason: {err}");
    // The message names the field, so a person can find it.
    assert!(err.to_string().contains(field), "{err}");
}

#[test]
fn base_policy_is_valid_and_resolves() {
    let p = parse(&base()).unwrap();
    assert_eq!(p.principals().len(), 2);
    let bob = p.principal("bob").unwrap();
    assert_eq!(bob.capabilities.rights_for("/output/result"), Rights::READ);
    assert!(p.program("/program/sum.wasm/").is_some());
    let pl = p.pipeline("twice").unwrap();
    assert_eq!(pl.programs["sum.wasm"], "/program/sum.wasm");
    assert_eq!(p.consent_required_from(), ["alice", "bob"]);
    assert_eq!(p.shutdown_quorum(), 2);
    assert!(p.accepts(Platform::Linux, &[0; 32]));
    assert!(!p.accepts(Platform::Linux, &[1; 32]));
    assert!(!p.accepts(Platform::SevSnp, &[0; 48]));
}

#[test]
fn hash_is_sha256_of_exact_bytes() {
    use sha2::Digest;
    let text = serde_json::to_string_pretty(&base()).unwrap();
    let p = Policy::from_bytes_at(text.as_bytes(), NOW).unwrap();
    assert_eq!(
        p.hash(),
        <[u8; 32]>::from(sha2::Sha256::digest(text.as_bytes()))
    );
    // The same meaning in other bytes is another policy: no canonicalisation.
    let reformatted = text.replace('\n', "\n ");
    let r = Policy::from_bytes_at(reformatted.as_bytes(), NOW).unwrap();
    assert_ne!(p.hash(), r.hash());
}

#[test]
fn unknown_fields_are_refused_with_their_place() {
    let mut v = base();
    v["principals"][1]["capabilitys"] = json!({});
    let err = parse(&v).unwrap_err();
    assert!(matches!(err, PolicyError::Parse { .. }), "{err}");
    assert!(err.to_string().contains("capabilitys"), "{err}");
    assert!(err.field().unwrap().starts_with("principals[1]"), "{err}");

    let mut v = base();
    v["execution"]["gas"] = json!(1);
    assert!(parse(&v).unwrap_err().to_string().contains("gas"));
}

#[test]
fn missing_program_hash_is_refused() {
    let mut v = base();
    v["programs"][0].as_object_mut().unwrap().remove("sha256");
    let err = parse(&v).unwrap_err();
    assert!(err.to_string().contains("missing field `sha256`"), "{err}");
    assert_eq!(err.field(), Some("programs[0]"));
}

#[test]
fn malformed_program_hash_is_refused() {
    for bad in ["", "abc", &"zz".repeat(32), &"ab".repeat(33)] {
        let bad = bad.to_string();
        refused(
            |v| v["programs"][0]["sha256"] = json!(bad),
            "programs[0].sha256",
            |r| matches!(r, Invalid::BadSha256(_)),
        );
    }
}

#[test]
fn duplicate_principal_name() {
    refused(
        |v| v["principals"][1]["name"] = json!("alice"),
        "principals[1].name",
        |r| matches!(r, Invalid::DuplicatePrincipalName(n) if n == "alice"),
    );
}

#[test]
fn duplicate_certificate() {
    refused(
        |v| v["principals"][1]["certificate"] = v["principals"][0]["certificate"].clone(),
        "principals[1].certificate",
        |r| matches!(r, Invalid::DuplicateCertificate(n) if n == "alice"),
    );
}

#[test]
fn unparsable_certificate() {
    refused(
        |v| {
            v["principals"][0]["certificate"] =
                json!("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        },
        "principals[0].certificate",
        |r| matches!(r, Invalid::Certificate(_)),
    );
    refused(
        |v| v["principals"][0]["certificate"] = json!("hello"),
        "principals[0].certificate",
        |r| matches!(r, Invalid::Certificate(_)),
    );
}

#[test]
fn expired_certificate() {
    refused(
        |v| v["principals"][1]["certificate"] = json!(cert("bob", (2020, 1, 1), (2021, 1, 1))),
        "principals[1].certificate",
        |r| matches!(r, Invalid::CertificateExpired { .. }),
    );
}

#[test]
fn not_yet_valid_certificate() {
    refused(
        |v| v["principals"][0]["certificate"] = json!(cert("alice", (2027, 1, 1), (2030, 1, 1))),
        "principals[0].certificate",
        |r| matches!(r, Invalid::CertificateNotYetValid { .. }),
    );
}

#[test]
fn expired_attestation_ca() {
    refused(
        |v| v["attestation"]["ca_certificate"] = json!(cert("ca", (2020, 1, 1), (2021, 1, 1))),
        "attestation.ca_certificate",
        |r| matches!(r, Invalid::CertificateExpired { .. }),
    );
}

#[test]
fn rights_outside_rwax() {
    refused(
        |v| v["principals"][0]["capabilities"]["/output/"] = json!("rd"),
        "principals[0].capabilities",
        |r| r.to_string().contains("`d` is not a right"),
    );
    refused(
        |v| v["programs"][0]["capabilities"]["/input/"] = json!("rr"),
        "programs[0].capabilities",
        |r| r.to_string().contains("more than once"),
    );
}

#[test]
fn relative_dotdot_and_empty_capability_paths() {
    for (path, needle) in [
        ("output/", "relative"),
        ("/input/../etc", "`..`"),
        ("", "empty"),
    ] {
        refused(
            |v| v["principals"][1]["capabilities"][path] = json!("r"),
            "principals[1].capabilities",
            |r| r.to_string().contains(needle),
        );
    }
}

#[test]
fn program_path_nobody_can_write() {
    refused(
        |v| v["principals"][0]["capabilities"]["/program/sum.wasm"] = json!("x"),
        "programs[0].path",
        |r| matches!(r, Invalid::ProgramNotWritable(p) if p == "/program/sum.wasm"),
    );
}

#[test]
fn program_path_nobody_can_execute() {
    refused(
        |v| v["principals"][0]["capabilities"]["/program/sum.wasm"] = json!("w"),
        "programs[0].path",
        |r| matches!(r, Invalid::ProgramNotExecutable(_)),
    );
}

#[test]
fn pipeline_that_does_not_parse() {
    refused(
        |v| v["pipelines"][0]["script"] = json!("sum.wasm;\n if /x { sum.wasm"),
        "pipelines[0].script",
        |r| matches!(r, Invalid::Pipeline(e) if e.pos.line == 2 || e.message.contains("missing")),
    );
}

#[test]
fn pipeline_naming_an_unknown_program() {
    refused(
        |v| v["pipelines"][0]["script"] = json!("sum.wasm; sort.wasm"),
        "pipelines[0].script",
        |r| matches!(r, Invalid::UnknownProgram { name, pos } if name == "sort.wasm" && pos.column == 11),
    );
}

#[test]
fn measurements_of_the_wrong_length_or_not_hex() {
    refused(
        |v| v["attestation"]["accepted_measurements"]["linux"] = json!(["00".repeat(31)]),
        "attestation.accepted_measurements.linux[0]",
        |r| {
            matches!(
                r,
                Invalid::BadMeasurement {
                    platform: Platform::Linux,
                    ..
                }
            )
        },
    );
    refused(
        |v| v["attestation"]["accepted_measurements"]["sev-snp"] = json!(["xy".repeat(48)]),
        "attestation.accepted_measurements.sev-snp[0]",
        |r| matches!(r, Invalid::BadMeasurement { .. }),
    );
    refused(
        |v| v["attestation"]["accepted_measurements"]["vax"] = json!(["00"]),
        "attestation.accepted_measurements.vax",
        |r| matches!(r, Invalid::UnknownPlatform(_)),
    );
}

#[test]
fn insecure_measurements_without_permission() {
    refused(
        |v| v["attestation"]["allow_insecure_platforms"] = json!(false),
        "attestation.accepted_measurements.linux",
        |r| matches!(r, Invalid::InsecureNotAllowed(Platform::Linux)),
    );
}

#[test]
fn empty_or_non_tls13_cipher_suites() {
    refused(
        |v| v["tls"] = json!({"cipher_suites": []}),
        "tls.cipher_suites",
        |r| matches!(r, Invalid::NoCipherSuites),
    );
    refused(
        |v| v["tls"] = json!({"cipher_suites": ["TLS13_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]}),
        "tls.cipher_suites[1]",
        |r| matches!(r, Invalid::NotTls13Suite(s) if s.starts_with("TLS_ECDHE")),
    );
}

#[test]
fn unparsable_server_and_attestation_addresses() {
    refused(
        |v| v["server"]["address"] = json!("127.0.0.1"),
        "server.address",
        |r| matches!(r, Invalid::BadAddress(_)),
    );
    refused(
        |v| v["server"]["address"] = json!("localhost:70000"),
        "server.address",
        |r| matches!(r, Invalid::BadAddress(_)),
    );
    refused(
        |v| v["attestation"]["service_url"] = json!("127.0.0.1:3010"),
        "attestation.service_url",
        |r| matches!(r, Invalid::BadUrl(_)),
    );
}

#[test]
fn lifecycle_names_must_be_principals_and_quorum_must_fit() {
    refused(
        |v| v["lifecycle"] = json!({"consent_required_from": ["alice", "carol"]}),
        "lifecycle.consent_required_from[1]",
        |r| matches!(r, Invalid::UnknownPrincipal(n) if n == "carol"),
    );
    refused(
        |v| v["lifecycle"] = json!({"shutdown": {"voters": ["alice"], "quorum": 2}}),
        "lifecycle.shutdown.quorum",
        |r| {
            matches!(
                r,
                Invalid::BadQuorum {
                    quorum: 2,
                    voters: 1
                }
            )
        },
    );
}

#[test]
fn execution_must_bound_every_run() {
    refused(
        |v| {
            v["execution"].as_object_mut().unwrap().remove("fuel");
        },
        "execution",
        |r| matches!(r, Invalid::NoRunLimit),
    );
    refused(
        |v| v["execution"]["max_memory_mib"] = json!(0),
        "execution.max_memory_mib",
        |r| matches!(r, Invalid::Zero),
    );
}

#[test]
fn inputs_and_pinned_files_must_be_tree_paths() {
    refused(
        |v| v["inputs"] = json!(["stdout"]),
        "inputs[0]",
        |r| matches!(r, Invalid::StreamNotAllowed(_)),
    );
    refused(
        |v| v["files"] = json!([{"path": "/input/ref", "sha256": "00"}]),
        "files[0].sha256",
        |r| matches!(r, Invalid::BadSha256(_)),
    );
}

#[test]
fn trailing_garbage_and_oversized_files_are_refused() {
    let mut text = serde_json::to_string(&base()).unwrap();
    text.push_str("{}");
    assert!(matches!(
        Policy::from_bytes_at(text.as_bytes(), NOW),
        Err(PolicyError::Parse { .. })
    ));
    let huge = vec![b' '; veracruz_policy::validate::MAX_POLICY_BYTES + 1];
    assert!(matches!(
        Policy::from_bytes_at(&huge, NOW),
        Err(PolicyError::TooLarge { .. })
    ));
}

/// `hardware_nans` is off unless the policy says so, is read when it does, and a policy
/// written without it stays without it (so existing policies keep their bytes and hash).
#[test]
fn hardware_nans_is_opt_in() {
    let p = parse(&base()).unwrap();
    assert!(!p.document().execution.hardware_nans);
    let written = serde_json::to_value(p.document()).unwrap();
    assert!(written["execution"].get("hardware_nans").is_none());

    let mut v = base();
    v["execution"]["hardware_nans"] = serde_json::json!(true);
    assert!(parse(&v).unwrap().document().execution.hardware_nans);
    v["execution"]["hardware_nans"] = serde_json::json!("yes");
    assert!(parse(&v).is_err());
}
