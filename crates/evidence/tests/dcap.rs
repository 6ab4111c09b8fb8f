//! Intel TDX and SGX DCAP quotes with collateral from `testdata/vectors/dcap`.

mod common;

use common::*;
use veracruz_evidence::dcap::{quote_platform, DcapEvidence, DEFAULT_ACCEPTED_TCB_STATUSES};
use veracruz_evidence::{
    verifier_for, DcapConfig, EvidenceError, Platform, Verifier, VerifierConfig,
};

struct Vector {
    name: &'static str,
    quote: &'static str,
    collateral: &'static str,
    platform: Platform,
    /// Window start and end (Unix seconds) from the README.
    window: (u64, u64),
    status: &'static str,
}

const POSITIVE: [Vector; 4] = [
    Vector {
        name: "dcap-qvl sgx",
        quote: "dcap/dcap-qvl/sgx_quote",
        collateral: "dcap/dcap-qvl/sgx_quote_collateral.json",
        platform: Platform::Sgx,
        window: (1_750_330_571, 1_752_919_278),
        status: "ConfigurationAndSWHardeningNeeded",
    },
    Vector {
        name: "dcap-qvl tdx",
        quote: "dcap/dcap-qvl/tdx_quote",
        collateral: "dcap/dcap-qvl/tdx_quote_collateral.json",
        platform: Platform::Tdx,
        window: (1_750_329_147, 1_752_919_235),
        status: "UpToDate",
    },
    Vector {
        name: "dcap-qvl tdx td15ex",
        quote: "dcap/dcap-qvl/tdx_quote_td15ex",
        collateral: "dcap/dcap-qvl/tdx_quote_td15ex_collateral.json",
        platform: Platform::Tdx,
        window: (1_791_419_306, 1_794_008_711),
        status: "UpToDate",
    },
    Vector {
        name: "automata tdx",
        quote: "dcap/automata/quote_tdx_00806f050000.dat",
        collateral: "dcap/automata/collateral_v3_derived.json",
        platform: Platform::Tdx,
        window: (1_739_418_641, 1_742_009_940),
        status: "OutOfDate",
    },
];

/// Quotes whose TCB levels no collateral entry covers.
const NO_TCB_LEVEL: [Vector; 2] = [
    Vector {
        name: "dcap-qvl tdx outdated",
        quote: "dcap/dcap-qvl/tdx_quote_outdated",
        collateral: "dcap/dcap-qvl/tdx_quote_outdated_collateral.json",
        platform: Platform::Tdx,
        window: (1_771_412_331, 1_774_003_275),
        status: "",
    },
    Vector {
        name: "go-tdx-guest",
        quote: "dcap/go-tdx-guest/tdx_prod_quote_SPR_E4.dat",
        collateral: "dcap/go-tdx-guest/collateral_v3_derived.json",
        platform: Platform::Tdx,
        window: (1_687_077_778, 1_688_801_099),
        status: "",
    },
];

fn mid(w: (u64, u64)) -> u64 {
    w.0 + (w.1 - w.0) / 2
}

fn envelope_bytes(quote: &[u8], collateral_rel: &str) -> Vec<u8> {
    let collateral = serde_json::from_slice(&read(collateral_rel)).expect("collateral JSON");
    DcapEvidence::new(quote, collateral).to_bytes()
}

/// Accepts every status that is not revoked, so that each vector's chain and signatures are
/// exercised; the status policy is tested separately.
fn permissive(platform: Platform) -> Box<dyn Verifier> {
    let config = VerifierConfig {
        dcap: DcapConfig {
            accepted_tcb_statuses: Some(
                [
                    "UpToDate",
                    "SWHardeningNeeded",
                    "ConfigurationNeeded",
                    "ConfigurationAndSWHardeningNeeded",
                    "OutOfDate",
                    "OutOfDateConfigurationNeeded",
                ]
                .map(String::from)
                .to_vec(),
            ),
            ..DcapConfig::default()
        },
        ..VerifierConfig::default()
    };
    verifier_for(platform, &config).unwrap()
}

/// (measurement range, report data range, end of the signed region) in the raw quote.
fn layout(quote: &[u8]) -> (std::ops::Range<usize>, std::ops::Range<usize>, usize) {
    let version = u16::from_le_bytes([quote[0], quote[1]]);
    let tee = u32::from_le_bytes([quote[4], quote[5], quote[6], quote[7]]);
    match (version, tee) {
        (3, 0) => (48 + 64..48 + 96, 48 + 320..48 + 384, 48 + 384),
        (4, 0x81) => (48 + 136..48 + 184, 48 + 520..48 + 584, 48 + 584),
        (5, 0x81) => {
            let size = u32::from_le_bytes([quote[50], quote[51], quote[52], quote[53]]) as usize;
            (54 + 136..54 + 184, 54 + 520..54 + 584, 54 + size)
        }
        other => panic!("unexpected quote header {other:?}"),
    }
}

#[test]
fn every_positive_vector_verifies_inside_its_window() {
    for t in &POSITIVE {
        let quote = read(t.quote);
        let claims = permissive(t.platform)
            .verify(&envelope_bytes(&quote, t.collateral), mid(t.window))
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        let (meas, rd, _) = layout(&quote);
        assert_eq!(claims.platform, t.platform, "{}", t.name);
        assert_eq!(claims.tcb_status.as_deref(), Some(t.status), "{}", t.name);
        assert_eq!(claims.measurement, quote[meas], "{}", t.name);
        assert!(!claims.debug, "{}", t.name);
        assert_binding_enforced(&claims, &quote[rd]);
    }
}

#[test]
fn sgx_advisories_are_reported() {
    let t = &POSITIVE[0];
    let claims = permissive(Platform::Sgx)
        .verify(&envelope_bytes(&read(t.quote), t.collateral), mid(t.window))
        .unwrap();
    let advisories = detail(&claims, "advisory_ids").unwrap();
    assert!(advisories.contains("INTEL-SA-00289"), "{advisories}");
    assert!(advisories.contains("INTEL-SA-00615"), "{advisories}");
    assert_eq!(claims.measurement.len(), 32);
}

#[test]
fn every_positive_vector_fails_outside_its_window() {
    for t in &POSITIVE {
        let ev = envelope_bytes(&read(t.quote), t.collateral);
        let v = permissive(t.platform);
        for now in [t.window.0 - 86_400, t.window.1 + 86_400, COLLECTED] {
            let err = v.verify(&ev, now).expect_err(t.name);
            assert!(
                matches!(err, EvidenceError::Expired(_)),
                "{} at {now}: {err}",
                t.name
            );
        }
    }
}

#[test]
fn unappraisable_tcb_levels_are_refused() {
    for t in &NO_TCB_LEVEL {
        let ev = envelope_bytes(&read(t.quote), t.collateral);
        let err = permissive(t.platform)
            .verify(&ev, mid(t.window))
            .expect_err(t.name);
        assert!(matches!(err, EvidenceError::Tcb(_)), "{}: {err}", t.name);
    }
}

#[test]
fn default_status_policy_refuses_out_of_date_platforms() {
    assert!(!DEFAULT_ACCEPTED_TCB_STATUSES.contains(&"OutOfDate"));
    let t = &POSITIVE[3];
    let v = verifier_for(Platform::Tdx, &VerifierConfig::default()).unwrap();
    let err = v
        .verify(&envelope_bytes(&read(t.quote), t.collateral), mid(t.window))
        .unwrap_err();
    assert!(
        matches!(err, EvidenceError::Tcb(ref m) if m.contains("OutOfDate")),
        "{err}"
    );
    // The SGX vector's status is accepted by default.
    let t = &POSITIVE[0];
    let v = verifier_for(Platform::Sgx, &VerifierConfig::default()).unwrap();
    assert!(v
        .verify(&envelope_bytes(&read(t.quote), t.collateral), mid(t.window))
        .is_ok());
}

#[test]
fn flipping_signed_bytes_fails() {
    for t in &POSITIVE {
        let quote = read(t.quote);
        let (_, _, end) = layout(&quote);
        let collateral = t.collateral;
        let n = assert_flips_fail(
            &*permissive(t.platform),
            &quote,
            0..end,
            mid(t.window),
            |q| envelope_bytes(q, collateral),
        );
        assert!(n > 60, "{}", t.name);
    }
}

#[test]
fn platform_mismatch_is_refused() {
    let t = &POSITIVE[1];
    let err = permissive(Platform::Sgx)
        .verify(&envelope_bytes(&read(t.quote), t.collateral), mid(t.window))
        .unwrap_err();
    assert!(matches!(err, EvidenceError::Malformed(_)), "{err}");
}

#[test]
fn collateral_for_another_platform_is_refused() {
    let sgx = &POSITIVE[0];
    let tdx = &POSITIVE[1];
    let ev = envelope_bytes(&read(tdx.quote), sgx.collateral);
    assert!(permissive(Platform::Tdx)
        .verify(&ev, mid(sgx.window))
        .is_err());
}

#[test]
fn tampered_collateral_is_refused() {
    let t = &POSITIVE[1];
    let mut collateral: serde_json::Value = serde_json::from_slice(&read(t.collateral)).unwrap();
    let tcb = collateral["tcb_info"]
        .as_str()
        .unwrap()
        .replacen("UpToDate", "Revoked", 1);
    collateral["tcb_info"] = serde_json::Value::String(tcb);
    let ev = DcapEvidence::new(&read(t.quote), serde_json::from_value(collateral).unwrap());
    let err = permissive(Platform::Tdx)
        .verify(&ev.to_bytes(), mid(t.window))
        .unwrap_err();
    assert!(matches!(err, EvidenceError::BadSignature(_)), "{err}");
}

#[test]
fn partial_trustee_set_parses_as_tdx() {
    assert_eq!(
        quote_platform(&read("dcap/trustee/tdx_quote_6.dat")),
        Ok(Platform::Tdx)
    );
    assert!(matches!(
        quote_platform(&[4, 0, 2]),
        Err(EvidenceError::Malformed(_))
    ));
}

#[test]
fn malformed_envelopes() {
    let v = permissive(Platform::Tdx);
    for bad in [&b""[..], b"{}", b"{\"quote\":\"00\"}", b"[1,2,3]"] {
        assert!(matches!(
            v.verify(bad, COLLECTED),
            Err(EvidenceError::Malformed(_))
        ));
    }
}
