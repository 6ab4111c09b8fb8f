//! AMD SEV-SNP reports from `testdata/vectors/sev-snp`.

mod common;

use common::*;
use veracruz_evidence::snp::{SnpEvidence, SnpReport, SnpVerifier};
use veracruz_evidence::{
    verifier_for, EvidenceError, Platform, SnpConfig, SnpMinTcb, Verifier, VerifierConfig,
};

/// 2031-01-01: after every VCEK here has expired (the last one ends 2030-04-03).
const AFTER_VCEKS: u64 = 1_924_992_000;
/// 2022-01-01: before any VCEK here was issued.
const BEFORE_VCEKS: u64 = 1_640_995_200;
/// 2025-06-15, inside the VLEK's 2024-12-10..2025-12-10.
const VLEK_NOW: u64 = 1_750_000_000;

struct Vector {
    name: &'static str,
    report: Vec<u8>,
    cert: Vec<u8>,
    now: u64,
    vlek: bool,
    /// The guest policy allows debugging.
    debug: bool,
}

fn vectors_() -> Vec<Vector> {
    let virtee = hex::decode(read_text("sev-snp/virtee_report_milan.hex").trim()).unwrap();
    vec![
        Vector {
            name: "virtee",
            report: virtee,
            cert: read("sev-snp/virtee_vcek_milan.der"),
            now: COLLECTED,
            vlek: false,
            debug: false,
        },
        Vector {
            name: "go-sev-guest",
            report: read("sev-snp/gosevguest_attestation_milan.bin"),
            cert: read("sev-snp/gosevguest_vcek_milan.der"),
            now: COLLECTED,
            vlek: false,
            debug: true,
        },
        Vector {
            name: "trustee",
            report: read("sev-snp/trustee_report_milan.bin"),
            cert: read("sev-snp/trustee_vcek_milan.der"),
            now: COLLECTED,
            vlek: false,
            debug: false,
        },
        Vector {
            name: "trustee-vlek",
            report: read("sev-snp/trustee_vlek_report_milan.bin"),
            cert: read("sev-snp/trustee_vlek_milan.der"),
            now: VLEK_NOW,
            vlek: true,
            debug: false,
        },
    ]
}

fn verifier() -> Box<dyn Verifier> {
    verifier_for(Platform::SevSnp, &VerifierConfig::default()).unwrap()
}

/// Accepts debug guests, so that every vector's signature and chain are exercised.
fn debug_verifier() -> Box<dyn Verifier> {
    let config = VerifierConfig {
        allow_debug: true,
        ..VerifierConfig::default()
    };
    verifier_for(Platform::SevSnp, &config).unwrap()
}

fn envelope(report: &[u8], cert: &[u8]) -> Vec<u8> {
    SnpEvidence::new(report, cert, None).to_bytes()
}

#[test]
fn every_vector_verifies_inside_its_window() {
    let v = debug_verifier();
    for t in vectors_() {
        let claims = v
            .verify(&envelope(&t.report, &t.cert), t.now)
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        assert_eq!(claims.platform, Platform::SevSnp);
        assert_eq!(claims.measurement, t.report[0x90..0xC0], "{}", t.name);
        assert_eq!(claims.debug, t.debug, "{}", t.name);
        assert_eq!(detail(&claims, "root"), Some("ARK-Milan"), "{}", t.name);
        assert_eq!(
            detail(&claims, "signing_key"),
            Some(if t.vlek { "VLEK" } else { "VCEK" }),
            "{}",
            t.name
        );
        assert_binding_enforced(&claims, &t.report[0x50..0x90]);
    }
}

#[test]
fn debug_guests_are_refused_by_default() {
    let v = verifier();
    for t in vectors_() {
        let result = v.verify(&envelope(&t.report, &t.cert), t.now);
        if t.debug {
            assert!(matches!(result, Err(EvidenceError::Debug(_))), "{}", t.name);
        } else {
            assert!(result.is_ok(), "{}", t.name);
        }
    }
}

#[test]
fn virtee_report_claims_match_its_readme() {
    let t = &vectors_()[0];
    let claims = verifier()
        .verify(&envelope(&t.report, &t.cert), COLLECTED)
        .unwrap();
    assert_eq!(
        detail(&claims, "reported_tcb"),
        Some("bl=3 tee=0 snp=8 ucode=115")
    );
    assert_eq!(detail(&claims, "report_version"), Some("2"));
}

#[test]
fn every_vector_fails_outside_its_window() {
    let v = debug_verifier();
    for t in vectors_() {
        let outside: &[u64] = if t.vlek {
            &[COLLECTED, BEFORE_VCEKS]
        } else {
            &[AFTER_VCEKS, BEFORE_VCEKS]
        };
        for &now in outside {
            assert!(
                matches!(
                    v.verify(&envelope(&t.report, &t.cert), now),
                    Err(EvidenceError::Expired(_))
                ),
                "{} at {now}",
                t.name
            );
        }
    }
}

#[test]
fn flipping_signed_bytes_fails() {
    let v = debug_verifier();
    for t in vectors_() {
        let cert = t.cert.clone();
        let n = assert_flips_fail(&*v, &t.report, 0..0x2A0, t.now, |r| envelope(r, &cert));
        assert!(n > 90, "{}", t.name);
        // The signature itself.
        assert_flips_fail(&*v, &t.report, 0x2A0..0x2A0 + 144, t.now, |r| {
            envelope(r, &cert)
        });
    }
}

#[test]
fn report_with_another_machines_vcek_fails() {
    let all = vectors_();
    let err = verifier()
        .verify(&envelope(&all[2].report, &all[0].cert), COLLECTED)
        .unwrap_err();
    assert!(
        matches!(
            err,
            EvidenceError::BadSignature(_) | EvidenceError::BadChain(_)
        ),
        "{err}"
    );
}

#[test]
fn vlek_report_with_a_vcek_is_refused() {
    let all = vectors_();
    assert!(matches!(
        verifier().verify(&envelope(&all[3].report, &all[0].cert), VLEK_NOW),
        Err(EvidenceError::BadChain(_))
    ));
}

#[test]
fn minimum_tcb_is_enforced() {
    let t = &vectors_()[0];
    let strict = VerifierConfig {
        sev_snp: SnpConfig {
            min_tcb: SnpMinTcb {
                snp: 9,
                ..SnpMinTcb::default()
            },
            ..SnpConfig::default()
        },
        ..VerifierConfig::default()
    };
    let v = verifier_for(Platform::SevSnp, &strict).unwrap();
    assert!(matches!(
        v.verify(&envelope(&t.report, &t.cert), COLLECTED),
        Err(EvidenceError::Tcb(_))
    ));
    let exact = VerifierConfig {
        sev_snp: SnpConfig {
            min_tcb: SnpMinTcb {
                boot_loader: 3,
                snp: 8,
                microcode: 115,
                ..SnpMinTcb::default()
            },
            ..SnpConfig::default()
        },
        ..VerifierConfig::default()
    };
    let v = verifier_for(Platform::SevSnp, &exact).unwrap();
    assert!(v.verify(&envelope(&t.report, &t.cert), COLLECTED).is_ok());
}

#[test]
fn only_configured_arks_are_trusted() {
    let t = &vectors_()[0];
    let genoa_only = SnpConfig {
        ca_bundles_pem: Some(vec![read_text("sev-snp/amd_ask_ark_genoa.pem")]),
        ..SnpConfig::default()
    };
    let v = SnpVerifier::new(&genoa_only, false).unwrap();
    assert!(matches!(
        v.verify(&envelope(&t.report, &t.cert), COLLECTED),
        Err(EvidenceError::BadChain(_))
    ));
    // Supplying the Milan ASK and ARK in the envelope does not make the ARK trusted.
    let with_chain = SnpEvidence::new(
        &t.report,
        &t.cert,
        Some(&read_text("sev-snp/amd_ask_ark_milan.pem")),
    );
    assert!(matches!(
        v.verify(&with_chain.to_bytes(), COLLECTED),
        Err(EvidenceError::BadChain(_))
    ));
    // With the default roots the same envelope verifies.
    assert!(verifier().verify(&with_chain.to_bytes(), COLLECTED).is_ok());
}

#[test]
fn turin_vcek_chains_to_the_turin_ark() {
    let v = SnpVerifier::new(&SnpConfig::default(), false).unwrap();
    let der = read("sev-snp/virtee_vcek_turin.der");
    assert_eq!(
        v.verify_endorsement_key(&der, None, COLLECTED).unwrap(),
        "ARK-Turin"
    );
    let mut bad = der.clone();
    let last = bad.len() - 10;
    bad[last] ^= 1;
    assert!(v.verify_endorsement_key(&bad, None, COLLECTED).is_err());
}

#[test]
fn debug_policy_bit_is_read() {
    let mut report = vectors_()[0].report.clone();
    assert!(!SnpReport::parse(&report).unwrap().debug_allowed());
    report[0x08 + 2] |= 0x08; // bit 19
    assert!(SnpReport::parse(&report).unwrap().debug_allowed());
}

#[test]
fn malformed_envelopes_and_reports() {
    let v = verifier();
    let t = &vectors_()[0];
    for bad in [
        b"".to_vec(),
        b"{}".to_vec(),
        b"{\"report\":\"zz\",\"endorsement_key\":\"00\"}".to_vec(),
        envelope(&t.report[..1000], &t.cert),
        envelope(&t.report, &t.cert[..100]),
    ] {
        assert!(
            matches!(v.verify(&bad, COLLECTED), Err(EvidenceError::Malformed(_))),
            "{}",
            String::from_utf8_lossy(&bad)
        );
    }
    let mut v9 = t.report.clone();
    v9[0] = 9;
    assert!(matches!(
        SnpReport::parse(&v9),
        Err(EvidenceError::Malformed(_))
    ));
}
