//! Helpers shared by the vector tests: locating and loading the vectors, and the checks every
//! platform must pass (single-byte flips, binding enforcement).

#![allow(dead_code)]

use std::path::PathBuf;

use veracruz_evidence::{check_binding, Binding, Claims, EvidenceError, Verifier};

/// The real-time "now" of the vector collection (2026-11-27T00:00:00Z): every short-lived
/// chain has expired by then.
pub const COLLECTED: u64 = 1_795_737_600;

pub fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vectors")
}

pub fn read(rel: &str) -> Vec<u8> {
    let p = vectors().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

pub fn read_text(rel: &str) -> String {
    String::from_utf8(read(rel)).expect("vector is UTF-8")
}

/// Positions to flip: every 7th byte of `range` plus its first and last byte.
pub fn flip_positions(range: std::ops::Range<usize>) -> Vec<usize> {
    let mut v: Vec<usize> = range.clone().step_by(7).collect();
    v.push(range.start);
    v.push(range.end - 1);
    v.sort_unstable();
    v.dedup();
    v
}

/// Flips each position of `region` (offsets into `raw`) in turn, wraps the result with `wrap`
/// and asserts verification fails every time.
pub fn assert_flips_fail(
    verifier: &dyn Verifier,
    raw: &[u8],
    region: std::ops::Range<usize>,
    now: u64,
    wrap: impl Fn(&[u8]) -> Vec<u8>,
) -> usize {
    let positions = flip_positions(region);
    let mut survivors = Vec::new();
    for &i in &positions {
        let mut bytes = raw.to_vec();
        bytes[i] ^= 0x01;
        if let Ok(claims) = verifier.verify(&wrap(&bytes), now) {
            survivors.push((i, claims.measurement));
        }
    }
    assert!(
        survivors.is_empty(),
        "flipping these byte positions still verified: {:?}",
        survivors.iter().map(|(i, _)| *i).collect::<Vec<_>>()
    );
    positions.len()
}

/// The binding checks every platform must pass: the verified report data is the vector's own
/// (`expected_report_data`, read from the raw vector independently of the verifier), a
/// binding the evidence does not carry is refused, and if the evidence did carry a binding's
/// report data, changing any one of nonce, key hash or policy hash would be refused.
pub fn assert_binding_enforced(claims: &Claims, expected_report_data: &[u8]) {
    assert_eq!(claims.report_data, expected_report_data);
    let binding = Binding {
        nonce: [1; 32],
        key_hash: [2; 32],
        policy_hash: [3; 32],
    };
    assert_eq!(
        check_binding(claims, &binding),
        Err(EvidenceError::BindingMismatch)
    );

    let mut carrying = claims.clone();
    carrying.report_data = binding.report_data().to_vec();
    assert_eq!(check_binding(&carrying, &binding), Ok(()));
    for changed in [
        Binding {
            nonce: [9; 32],
            ..binding
        },
        Binding {
            key_hash: [9; 32],
            ..binding
        },
        Binding {
            policy_hash: [9; 32],
            ..binding
        },
    ] {
        assert_eq!(
            check_binding(&carrying, &changed),
            Err(EvidenceError::BindingMismatch)
        );
    }
}

pub fn detail<'a>(claims: &'a Claims, name: &str) -> Option<&'a str> {
    claims
        .details
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
