//! AWS Nitro attestation documents from `testdata/vectors/nitro`.

mod common;

use base64::Engine;
use common::*;
use veracruz_evidence::nitro::{parse_payload, NitroVerifier, AWS_NITRO_ROOT_G1_PEM};
use veracruz_evidence::{cose, verifier_for, EvidenceError, Platform, Verifier, VerifierConfig};

const FIXTURE: &str = "nitro/nitro_attest_fixture_eu-central-1_20250106.cose";
/// 2025-01-06T17:00:00Z, inside the fixture's 16:07:02..19:07:05 window.
const FIXTURE_NOW: u64 = 1_736_182_800;
/// 2024-09-09T20:00:00Z, inside the debug example's 19:49:09..22:49:12 window.
const RAV_NOW: u64 = 1_725_912_000;

fn b64(rel: &str) -> Vec<u8> {
    let text: String = read_text(rel).split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("vector is base64")
}

fn verifier(allow_debug: bool) -> Box<dyn Verifier> {
    verifier_for(
        Platform::Nitro,
        &VerifierConfig {
            allow_debug,
            ..VerifierConfig::default()
        },
    )
    .expect("Nitro verifier")
}

fn user_data(doc: &[u8]) -> Vec<u8> {
    let sign1 = cose::parse_sign1(doc, 1 << 16, "test").unwrap();
    parse_payload(&sign1.payload)
        .unwrap()
        .user_data
        .unwrap_or_default()
}

#[test]
fn embedded_root_is_the_published_aws_root() {
    let der = x509_parser::pem::parse_x509_pem(AWS_NITRO_ROOT_G1_PEM.as_bytes())
        .unwrap()
        .1
        .contents;
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&der)),
        "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
    );
}

#[test]
fn fixture_verifies_inside_its_window() {
    let doc = read(FIXTURE);
    let claims = verifier(false).verify(&doc, FIXTURE_NOW).expect("verifies");
    assert_eq!(claims.platform, Platform::Nitro);
    assert_eq!(claims.measurement.len(), 48);
    assert!(!claims.debug);
    assert_eq!(
        detail(&claims, "module_id"),
        Some("i-0bee92034f3d60691-enc01943c5eaab3ad6a")
    );
    assert_eq!(detail(&claims, "timestamp_ms"), Some("1736179625472"));
    assert_binding_enforced(&claims, &user_data(&doc));
}

#[test]
fn fixture_fails_outside_its_window() {
    let doc = read(FIXTURE);
    let v = verifier(false);
    for now in [FIXTURE_NOW - 3 * 3600, FIXTURE_NOW + 3 * 3600, COLLECTED] {
        assert!(
            matches!(v.verify(&doc, now), Err(EvidenceError::Expired(_))),
            "at {now}"
        );
    }
}

#[test]
fn fixture_byte_flips_fail() {
    let doc = read(FIXTURE);
    let n = assert_flips_fail(&*verifier(false), &doc, 0..doc.len(), FIXTURE_NOW, |b| {
        b.to_vec()
    });
    assert!(n > 600);
}

#[test]
fn debug_mode_document_is_refused_unless_allowed() {
    let doc = b64("nitro/rav_example_us-east-1_20240909.cose.b64");
    assert!(matches!(
        verifier(false).verify(&doc, RAV_NOW),
        Err(EvidenceError::Debug(_))
    ));
    let claims = verifier(true)
        .verify(&doc, RAV_NOW)
        .expect("verifies with debug allowed");
    assert!(claims.debug);
    assert!(claims.measurement.iter().all(|b| *b == 0));
    assert_eq!(claims.report_data.len(), 68);
    // The README calls the nonce "20 B zeros"; its last byte is in fact 1.
    assert_eq!(
        detail(&claims, "nonce"),
        Some("0000000000000000000000000000000000000001")
    );
    assert_binding_enforced(&claims, &user_data(&doc));
    assert!(matches!(
        verifier(true).verify(&doc, COLLECTED),
        Err(EvidenceError::Expired(_))
    ));
    let n = assert_flips_fail(&*verifier(true), &doc, 0..doc.len(), RAV_NOW, |b| {
        b.to_vec()
    });
    assert!(n > 100);
}

#[test]
fn tampered_payload_fails_on_the_signature() {
    let doc = b64("nitro/rav_invalid_attestation.cose.b64");
    assert!(matches!(
        verifier(true).verify(&doc, 1_721_770_180),
        Err(EvidenceError::BadSignature(_))
    ));
}

#[test]
fn other_roots_are_refused() {
    // An anchor that is a real root, but not the one the document chains to.
    let other = include_str!("../roots/amd/amd_ask_ark_milan.pem");
    let v = NitroVerifier::new(other, false).unwrap();
    assert!(matches!(
        v.verify(&read(FIXTURE), FIXTURE_NOW),
        Err(EvidenceError::BadChain(_))
    ));
}

#[test]
fn garbage_is_malformed() {
    let v = verifier(false);
    for input in [
        &b""[..],
        b"\x84\x40\xa0\x40",
        b"not cbor at all",
        &[0xff; 64],
    ] {
        assert!(matches!(
            v.verify(input, FIXTURE_NOW),
            Err(EvidenceError::Malformed(_))
        ));
    }
}

/// The evervault RA-TLS certificate carries a real (debug-mode) Nitro document, hex-encoded in
/// its DNS subject alternative name, whose `user_data` is the certificate's own public key:
/// the same key binding Veracruz uses, in another vendor's layout.
#[test]
fn ra_tls_certificate_document_binds_its_key() {
    use x509_parser::extensions::GeneralName;
    let pem = read("ratls/evervault_cert_with_nitro_doc_in_san_20221116.pem");
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let cert = pem.parse_x509().unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap();
    let doc_hex: String = san
        .value
        .general_names
        .iter()
        .filter_map(|n| match n {
            // `<hex document>.<domain>`
            GeneralName::DNSName(d) => d
                .split('.')
                .next()
                .filter(|l| l.len() > 64 && l.bytes().all(|b| b.is_ascii_hexdigit())),
            _ => None,
        })
        .collect();
    let doc = hex::decode(doc_hex).unwrap();
    // 2022-11-16T09:13:00Z, inside the chain's 09:12:26..12:12:29 window.
    let now = 1_668_589_980;
    let refused = verifier(false).verify(&doc, now);
    assert!(
        matches!(refused, Err(EvidenceError::Debug(_))),
        "{refused:?}"
    );
    let claims = verifier(true).verify(&doc, now).expect("verifies");
    assert_eq!(claims.report_data, cert.public_key().raw);
    assert!(detail(&claims, "nonce").is_some());
    assert!(matches!(
        verifier(true).verify(&doc, now + 4 * 3600),
        Err(EvidenceError::Expired(_))
    ));
}
