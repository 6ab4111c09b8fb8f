//! Offline receipt verification with real runtime certificates and real ECDSA signatures.

mod common;

use common::*;
use veracruz_client::v1::{FileDigest, Receipt, ReceiptBody};
use veracruz_client::{
    decode_receipt, encode_receipt, verify_receipt, AttestationError, ReceiptError,
    RECEIPT_CLOCK_SKEW_SECS,
};
use veracruz_policy::Policy;

struct Fixture {
    ca: veracruz_attestation::CertificateAuthority,
    policy: Policy,
    key: RuntimeKey,
    chain: String,
}

fn fixture() -> Fixture {
    fixture_with(make_ca("Attestation CA"))
}

fn fixture_with(ca: veracruz_attestation::CertificateAuthority) -> Fixture {
    let alice = principal("alice");
    let addr = "127.0.0.1:3011".parse().unwrap();
    let policy = Policy::from_bytes(&policy_bytes(&ca, &[&alice], &Trust::snp(), addr)).unwrap();
    let key = runtime_key();
    let chain = issue(&ca, &key, &Claims::good(policy.hash()));
    Fixture {
        ca,
        policy,
        key,
        chain,
    }
}

fn body(policy_hash: [u8; 32], finished_at: i64) -> ReceiptBody {
    let d = |p: &str, b: u8| FileDigest {
        path: p.into(),
        sha256: vec![b; 32],
    };
    ReceiptBody {
        policy_hash: policy_hash.to_vec(),
        round: 1,
        programs: vec![d("/program/sum.wasm", 0xab)],
        pipeline: String::new(),
        inputs: vec![d("/input/a.csv", 1), d("/input/b.csv", 2)],
        outputs: vec![d("/output/sum", 3)],
        exit_code: 0,
        finished_at: finished_at as u64,
    }
}

#[test]
fn receipt_signed_by_the_attested_runtime_verifies() {
    let f = fixture();
    let b = body(f.policy.hash(), now());
    let receipt = sign_receipt(&f.key, &f.chain, &b);
    assert_eq!(verify_receipt(&receipt, &f.policy, now()).unwrap(), b);
    // The file form round-trips exactly.
    let again = decode_receipt(&encode_receipt(&receipt)).unwrap();
    assert_eq!(again, receipt);
    verify_receipt(&again, &f.policy, now()).unwrap();
}

#[test]
fn any_flipped_byte_in_body_or_signature_fails() {
    let f = fixture();
    let receipt = sign_receipt(&f.key, &f.chain, &body(f.policy.hash(), now()));
    for i in 0..receipt.body.len() {
        let mut r = receipt.clone();
        r.body[i] ^= 0x01;
        let err = verify_receipt(&r, &f.policy, now()).expect_err("flipped body must fail");
        // Most flips still decode and fail the signature; some break the encoding, or move
        // finished_at outside the certificates' validity, which is refused before it.
        assert!(
            matches!(
                err,
                ReceiptError::BadSignature
                    | ReceiptError::Body(_)
                    | ReceiptError::FromTheFuture { .. }
                    | ReceiptError::Runtime(AttestationError::Expired { .. })
                    | ReceiptError::Runtime(AttestationError::NotYetValid { .. })
                    | ReceiptError::Runtime(AttestationError::CaNotValid { .. })
            ),
            "byte {i}: {err}"
        );
    }
    // A flip inside the policy hash keeps the body decodable: only the signature catches it.
    let mut r = receipt.clone();
    let at = r
        .body
        .windows(32)
        .position(|w| w == f.policy.hash())
        .unwrap();
    r.body[at + 5] ^= 0x80;
    assert_eq!(
        verify_receipt(&r, &f.policy, now()),
        Err(ReceiptError::BadSignature)
    );
    for i in 0..receipt.signature.len() {
        let mut r = receipt.clone();
        r.signature[i] ^= 0x01;
        assert_eq!(
            verify_receipt(&r, &f.policy, now()),
            Err(ReceiptError::BadSignature),
            "signature byte {i}"
        );
    }
}

#[test]
fn receipt_for_another_policy_fails() {
    let f = fixture();
    // A runtime attested for another policy, honestly signing a receipt for it.
    let bob = principal("bob");
    let addr = "127.0.0.1:3011".parse().unwrap();
    let other = Policy::from_bytes(&policy_bytes(&f.ca, &[&bob], &Trust::snp(), addr)).unwrap();
    let key = runtime_key();
    let chain = issue(&f.ca, &key, &Claims::good(other.hash()));
    let receipt = sign_receipt(&key, &chain, &body(other.hash(), now()));
    verify_receipt(&receipt, &other, now()).unwrap();
    assert_eq!(
        verify_receipt(&receipt, &f.policy, now()),
        Err(ReceiptError::Runtime(
            AttestationError::PolicyHashMismatch {
                expected: f.policy.hash_hex(),
                got: other.hash_hex(),
            }
        ))
    );

    // A runtime attested for this policy that signs a body naming another one.
    let receipt = sign_receipt(&f.key, &f.chain, &body(other.hash(), now()));
    assert_eq!(
        verify_receipt(&receipt, &f.policy, now()),
        Err(ReceiptError::PolicyHashMismatch {
            expected: f.policy.hash_hex(),
            got: other.hash_hex(),
        })
    );
}

#[test]
fn receipt_from_an_untrusted_runtime_fails() {
    let f = fixture();
    let rogue = make_ca("Rogue CA");
    let key = runtime_key();
    let chain = issue(&rogue, &key, &Claims::good(f.policy.hash()));
    let receipt = sign_receipt(&key, &chain, &body(f.policy.hash(), now()));
    let err = verify_receipt(&receipt, &f.policy, now()).unwrap_err();
    assert!(
        matches!(
            err,
            ReceiptError::Runtime(AttestationError::UnknownCa { .. })
        ),
        "{err}"
    );

    // The right certificate with a signature made by another key.
    let receipt = sign_receipt(&key, &f.chain, &body(f.policy.hash(), now()));
    assert_eq!(
        verify_receipt(&receipt, &f.policy, now()),
        Err(ReceiptError::BadSignature)
    );

    let measured = issue(
        &f.ca,
        &key,
        &Claims {
            measurement: vec![0x44; 48],
            ..Claims::good(f.policy.hash())
        },
    );
    let receipt = sign_receipt(&key, &measured, &body(f.policy.hash(), now()));
    assert!(matches!(
        verify_receipt(&receipt, &f.policy, now()),
        Err(ReceiptError::Runtime(
            AttestationError::MeasurementNotAccepted { .. }
        ))
    ));
}

#[test]
fn validity_is_judged_when_the_run_finished() {
    let f = fixture_with(make_old_ca("Attestation CA"));
    // A certificate that expired an hour ago; the run finished while it was valid.
    let issued_at = now() - 3 * 3600;
    let chain = issue(
        &f.ca,
        &f.key,
        &Claims {
            issued_at,
            lifetime_secs: 3600,
            ..Claims::good(f.policy.hash())
        },
    );
    let in_window = sign_receipt(&f.key, &chain, &body(f.policy.hash(), issued_at + 600));
    verify_receipt(&in_window, &f.policy, now()).unwrap();

    // A run claimed after the certificate expired is refused.
    let late = issued_at + 3600 + 10;
    let after = sign_receipt(&f.key, &chain, &body(f.policy.hash(), late));
    assert_eq!(
        verify_receipt(&after, &f.policy, now()),
        Err(ReceiptError::Runtime(AttestationError::Expired {
            not_after: issued_at + 3600,
            now: late,
        }))
    );

    // A run claimed in the future is refused.
    let future = now() + RECEIPT_CLOCK_SKEW_SECS + 60;
    let r = sign_receipt(&f.key, &f.chain, &body(f.policy.hash(), future));
    assert!(matches!(
        verify_receipt(&r, &f.policy, now()),
        Err(ReceiptError::FromTheFuture { .. })
    ));
}

#[test]
fn malformed_receipts_fail_cleanly() {
    let f = fixture();
    let good = sign_receipt(&f.key, &f.chain, &body(f.policy.hash(), now()));

    let no_chain = Receipt {
        certificate_chain: String::new(),
        ..good.clone()
    };
    assert!(matches!(
        verify_receipt(&no_chain, &f.policy, now()),
        Err(ReceiptError::Chain(_))
    ));
    let long_sig = Receipt {
        signature: vec![0; 4096],
        ..good.clone()
    };
    assert!(matches!(
        verify_receipt(&long_sig, &f.policy, now()),
        Err(ReceiptError::TooLarge {
            what: "signature",
            ..
        })
    ));
    assert!(matches!(
        decode_receipt(&[0xff, 0xff, 0xff]),
        Err(ReceiptError::Decode(_))
    ));
}
