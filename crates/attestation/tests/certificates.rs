//! Issuing runtime certificates and reading them back, checked with independent verifiers
//! (x509-parser for the structure, rustls-webpki for path validation as a TLS client would).

use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use veracruz_attestation::*;
use veracruz_policy::Platform;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Fixture {
    ca: CertificateAuthority,
    runtime_key: rcgen::KeyPair,
    csr: VerifiedCsr,
}

fn fixture(alg: CaAlgorithm) -> Fixture {
    let generated = generate_ca("Test attestation CA", alg, 365).unwrap();
    let ca =
        CertificateAuthority::from_pem(&generated.certificate_pem, &generated.key_pem).unwrap();
    assert_eq!(ca.algorithm(), alg);
    let runtime_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let csr = verify_csr_pem(&create_csr_pem(&runtime_key).unwrap()).unwrap();
    Fixture {
        ca,
        runtime_key,
        csr,
    }
}

fn request<'a>(f: &'a Fixture, measurement: &'a [u8], tcb: Option<&'a str>) -> IssueRequest<'a> {
    IssueRequest {
        spki_der: &f.csr.spki_der,
        platform: Platform::SevSnp,
        measurement,
        policy_hash: [0xab; 32],
        debug: false,
        tcb_status: tcb,
        now: now(),
        lifetime_secs: DEFAULT_CERTIFICATE_LIFETIME_SECS,
    }
}

#[test]
fn issued_certificate_parses_back_to_what_was_certified() {
    for alg in [CaAlgorithm::P256, CaAlgorithm::P384] {
        let f = fixture(alg);
        let measurement = [0x5a; 48];
        let issued =
            f.ca.issue(&request(&f, &measurement, Some("UpToDate")))
                .unwrap();
        let chain = parse_pem_chain(&issued.chain_pem).unwrap();
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[0], issued.leaf_der);
        assert_eq!(chain[1], f.ca.certificate_der());

        let id = verify_runtime_chain(&chain[0], &chain[1], now()).unwrap();
        assert_eq!(id.platform, Platform::SevSnp);
        assert_eq!(id.measurement, measurement.to_vec());
        assert_eq!(id.policy_hash, [0xab; 32]);
        assert!(!id.debug);
        assert_eq!(id.tcb_status.as_deref(), Some("UpToDate"));
        assert_eq!(id.spki_hash, key_hash(&f.runtime_key.public_key_der()));
        assert_eq!(id.serial, issued.serial);
        assert_eq!(
            id.not_after - id.not_before,
            3600 + CLOCK_SKEW_ALLOWANCE_SECS
        );
        assert_eq!(parse_runtime_certificate(&chain[0]).unwrap(), id);
    }
}

#[test]
fn webpki_accepts_the_chain_as_a_tls_server_certificate() {
    let f = fixture(CaAlgorithm::P256);
    let issued = f.ca.issue(&request(&f, &[1; 48], None)).unwrap();
    let ca_der = CertificateDer::from(f.ca.certificate_der().to_vec());
    let anchor = webpki::anchor_from_trusted_cert(&ca_der).unwrap();
    let leaf_der = CertificateDer::from(issued.leaf_der.clone());
    let leaf = webpki::EndEntityCert::try_from(&leaf_der).unwrap();
    let algs = [
        webpki::ring::ECDSA_P256_SHA256,
        webpki::ring::ECDSA_P384_SHA384,
    ];
    leaf.verify_for_usage(
        &algs,
        &[anchor],
        &[],
        UnixTime::now(),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .unwrap();
    let name = ServerName::try_from(RUNTIME_DNS_NAME).unwrap();
    leaf.verify_is_valid_for_subject_name(&name).unwrap();
}

#[test]
fn serials_differ_and_are_positive() {
    let f = fixture(CaAlgorithm::P256);
    let a = f.ca.issue(&request(&f, &[1; 48], None)).unwrap();
    let b = f.ca.issue(&request(&f, &[1; 48], None)).unwrap();
    assert_ne!(a.serial, b.serial);
    for s in [&a.serial, &b.serial] {
        assert_eq!(s.len(), 16);
        assert_eq!(s[0] & 0x80, 0);
    }
}

#[test]
fn chain_checks_refuse_wrong_ca_expiry_and_tampering() {
    let f = fixture(CaAlgorithm::P256);
    let issued = f.ca.issue(&request(&f, &[1; 48], None)).unwrap();
    let ca = f.ca.certificate_der();

    // Another CA with the same name: the issuer name matches, the signature cannot.
    let other = fixture(CaAlgorithm::P256);
    let other_same_name = {
        let g = generate_ca("Test attestation CA", CaAlgorithm::P256, 365).unwrap();
        parse_pem_chain(&g.certificate_pem).unwrap().remove(0)
    };
    assert!(matches!(
        verify_runtime_chain(&issued.leaf_der, &other_same_name, now()),
        Err(IdentityError::BadSignature(_))
    ));
    let other_name = {
        let g = generate_ca("Another CA", CaAlgorithm::P256, 365).unwrap();
        parse_pem_chain(&g.certificate_pem).unwrap().remove(0)
    };
    assert_eq!(
        verify_runtime_chain(&issued.leaf_der, &other_name, now()),
        Err(IdentityError::WrongIssuer)
    );
    drop(other);

    assert!(matches!(
        verify_runtime_chain(&issued.leaf_der, ca, now() + 3601),
        Err(IdentityError::NotValid {
            what: "runtime certificate",
            ..
        })
    ));
    assert!(matches!(
        verify_runtime_chain(&issued.leaf_der, ca, now() - 3600),
        Err(IdentityError::NotValid { .. })
    ));

    // Flip one byte of the policy hash inside the signed certificate.
    let mut tampered = issued.leaf_der.clone();
    let pos = tampered.windows(32).position(|w| w == [0xab; 32]).unwrap();
    tampered[pos] ^= 1;
    assert!(matches!(
        verify_runtime_chain(&tampered, ca, now()),
        Err(IdentityError::BadSignature(_))
    ));
    // The leaf is not a CA: using it as the trusted root is refused.
    assert_eq!(
        verify_runtime_chain(&issued.leaf_der, &issued.leaf_der, now()),
        Err(IdentityError::RootNotCa)
    );
}

#[test]
fn issue_refuses_bad_requests() {
    let f = fixture(CaAlgorithm::P256);
    let short = [1u8; 32];
    assert!(matches!(
        f.ca.issue(&request(&f, &short, None)),
        Err(CaError::MeasurementLength { got: 32, .. })
    ));
    let mut r = request(&f, &[1; 48], None);
    r.lifetime_secs = 0;
    assert!(matches!(f.ca.issue(&r), Err(CaError::Lifetime(0))));
    let r = request(&f, &[1; 48], Some("bad\nstatus"));
    assert!(matches!(f.ca.issue(&r), Err(CaError::TcbStatus)));
}

#[test]
fn ca_loading_refuses_mismatched_key_and_non_ca() {
    let a = generate_ca("A", CaAlgorithm::P256, 1).unwrap();
    let b = generate_ca("B", CaAlgorithm::P256, 1).unwrap();
    assert!(matches!(
        CertificateAuthority::from_pem(&a.certificate_pem, &b.key_pem),
        Err(CaError::KeyMismatch)
    ));
    assert!(matches!(
        CertificateAuthority::from_pem(&a.certificate_pem, "garbage"),
        Err(CaError::Key)
    ));
    let f = fixture(CaAlgorithm::P256);
    let issued = f.ca.issue(&request(&f, &[1; 48], None)).unwrap();
    let leaf_pem = issued
        .chain_pem
        .split_inclusive("-----END CERTIFICATE-----")
        .next()
        .unwrap();
    assert!(matches!(
        CertificateAuthority::from_pem(leaf_pem, &f.runtime_key.serialize_pem()),
        Err(CaError::NotCa)
    ));
}

#[test]
fn linux_certificate_round_trip_with_debug_flag() {
    let f = fixture(CaAlgorithm::P256);
    let mut r = request(&f, &[7; 32], None);
    r.platform = Platform::Linux;
    r.debug = true;
    let issued = f.ca.issue(&r).unwrap();
    let id = parse_runtime_certificate(&issued.leaf_der).unwrap();
    assert_eq!(id.platform, Platform::Linux);
    assert!(id.debug);
    assert_eq!(id.tcb_status, None);
}
