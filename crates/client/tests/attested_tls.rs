//! The client's attestation checks over real TLS 1.3 on loopback: each refusal names the check
//! that failed, and the test peer standing in for the runtime sees no application data.

mod common;

use std::collections::BTreeMap;

use common::*;
use veracruz_client::{AttestationError, Client, ClientError, ClientOptions, Identity};
use veracruz_policy::{Platform, Policy};

/// One scenario: a policy the runtime was attested with, a certificate issued by `ca` with
/// `claims(policy_hash)`, and a client holding `client_policy(bytes)`.
struct Scenario {
    alice: Principal,
    server_policy: Vec<u8>,
    client_policy: Vec<u8>,
    peer: TestRuntimePeer,
}

fn scenario(
    trusted_ca: &veracruz_attestation::CertificateAuthority,
    issuing_ca: &veracruz_attestation::CertificateAuthority,
    trust: Trust,
    claims: impl FnOnce([u8; 32]) -> Claims,
    client_policy: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Scenario {
    let alice = principal("alice");
    let listener = TestRuntimePeer::bind();
    let server_policy = policy_bytes(
        trusted_ca,
        &[&alice],
        &trust,
        listener.local_addr().unwrap(),
    );
    let policy = Policy::from_bytes(&server_policy).unwrap();
    let key = runtime_key();
    let chain = issue(issuing_ca, &key, &claims(policy.hash()));
    let peer = TestRuntimePeer::start(listener, &chain, &key, &policy, BTreeMap::new());
    let client_policy = client_policy(&server_policy);
    Scenario {
        alice,
        server_policy,
        client_policy,
        peer,
    }
}

fn connect(s: &Scenario) -> Result<Client, ClientError> {
    let policy = Policy::from_bytes(&s.client_policy).unwrap();
    let identity = Identity::from_pem(s.alice.cert_pem.as_bytes(), s.alice.key_pem.as_bytes())?;
    Client::connect(
        &policy,
        &s.client_policy,
        identity,
        &ClientOptions::default(),
    )
}

/// Asserts the client refused with an attestation error matching `expected`, and that the
/// test peer's handshake failed on the client's alert with no application byte received.
fn assert_refused(s: Scenario, expected: impl FnOnce(&AttestationError) -> bool) {
    let err = connect(&s).expect_err("the client must refuse this runtime");
    let ClientError::Attestation(a) = &err else {
        panic!("expected an attestation error, got: {err}");
    };
    assert!(expected(a), "unexpected attestation error: {a}");
    let log = s.peer.finish();
    let peer_err = log
        .handshake
        .expect_err("the runtime side must not complete the handshake");
    assert!(
        peer_err.contains("received fatal alert"),
        "the peer should have been told by an alert: {peer_err}"
    );
    assert_eq!(
        log.application_bytes, 0,
        "no application data may reach the runtime"
    );
    assert!(log.requests.is_empty());
}

#[test]
fn attested_runtime_is_accepted_and_identity_exposed() {
    let ca = make_ca("Attestation CA");
    let s = scenario(&ca, &ca, Trust::snp(), Claims::good, <[u8]>::to_vec);
    let mut client = connect(&s).unwrap();
    let policy = Policy::from_bytes(&s.client_policy).unwrap();
    let id = client.runtime().clone();
    assert_eq!(id.platform, Platform::SevSnp);
    assert_eq!(id.measurement, GOOD_SNP.to_vec());
    assert_eq!(id.policy_hash, policy.hash());
    assert!(id.not_before <= now() && now() <= id.not_after);
    assert_eq!(client.principal(), "alice");
    assert_eq!(client.server(), s.peer.addr);

    let status = client.status().unwrap();
    assert_eq!(status.policy_hash, policy.hash_hex());
    assert_eq!(status.state, "provisioning");
    client.close().unwrap();

    let log = s.peer.finish();
    log.handshake.unwrap();
    assert_eq!(log.requests, ["status"]);
    assert!(log.application_bytes > 0);
}

#[test]
fn insecure_platform_is_accepted_when_the_policy_allows_it() {
    let ca = make_ca("Attestation CA");
    let claims = |h| Claims {
        platform: Platform::Linux,
        measurement: LINUX_MEASUREMENT.to_vec(),
        ..Claims::good(h)
    };
    let s = scenario(&ca, &ca, Trust::linux_allowed(), claims, <[u8]>::to_vec);
    let mut client = connect(&s).unwrap();
    assert_eq!(client.runtime().platform, Platform::Linux);
    client.status().unwrap();
    drop(client);
    s.peer.finish().handshake.unwrap();
}

#[test]
fn chain_from_another_ca_is_refused() {
    let trusted = make_ca("Attestation CA");
    let rogue = make_ca("Rogue CA");
    let s = scenario(&trusted, &rogue, Trust::snp(), Claims::good, <[u8]>::to_vec);
    assert_refused(s, |e| {
        matches!(e, AttestationError::UnknownCa { issuer, trusted, .. }
            if issuer.contains("Rogue CA") && trusted.contains("Attestation CA"))
    });

    // A rogue CA that copies the trusted CA's name is caught by the signature.
    let impostor = make_ca("Attestation CA");
    let s = scenario(
        &trusted,
        &impostor,
        Trust::snp(),
        Claims::good,
        <[u8]>::to_vec,
    );
    assert_refused(
        s,
        |e| matches!(e, AttestationError::UnknownCa { detail, .. } if detail.contains("signature")),
    );
}

#[test]
fn expired_runtime_certificate_is_refused() {
    let ca = make_ca("Attestation CA");
    let claims = |h| Claims {
        issued_at: now() - 7200,
        lifetime_secs: 3600,
        ..Claims::good(h)
    };
    let s = scenario(&ca, &ca, Trust::snp(), claims, <[u8]>::to_vec);
    assert_refused(
        s,
        |e| matches!(e, AttestationError::Expired { not_after, now } if not_after < now),
    );
}

#[test]
fn client_policy_differing_in_one_byte_is_refused() {
    let ca = make_ca("Attestation CA");
    // One indentation space becomes a tab: the same meaning, another policy.
    let edit = |bytes: &[u8]| {
        let mut v = bytes.to_vec();
        let i = v.windows(3).position(|w| w == b"\n  ").unwrap() + 1;
        v[i] = b'\t';
        v
    };
    let s = scenario(&ca, &ca, Trust::snp(), Claims::good, edit);
    assert_eq!(
        s.server_policy
            .iter()
            .zip(&s.client_policy)
            .filter(|(a, b)| a != b)
            .count(),
        1
    );
    let expected = hex::encode(Policy::from_bytes(&s.client_policy).unwrap().hash());
    let got = hex::encode(Policy::from_bytes(&s.server_policy).unwrap().hash());
    assert_refused(s, |e| {
        *e == AttestationError::PolicyHashMismatch { expected, got }
    });
}

#[test]
fn measurement_not_accepted_is_refused() {
    let ca = make_ca("Attestation CA");
    let claims = |h| Claims {
        measurement: vec![0x22; 48],
        ..Claims::good(h)
    };
    let s = scenario(&ca, &ca, Trust::snp(), claims, <[u8]>::to_vec);
    assert_refused(s, |e| {
        *e == AttestationError::MeasurementNotAccepted {
            platform: Platform::SevSnp,
            measurement: "22".repeat(48),
        }
    });
}

#[test]
fn insecure_platform_is_refused_when_the_policy_does_not_allow_it() {
    let ca = make_ca("Attestation CA");
    let claims = |h| Claims {
        platform: Platform::Linux,
        measurement: LINUX_MEASUREMENT.to_vec(),
        ..Claims::good(h)
    };
    let s = scenario(&ca, &ca, Trust::snp(), claims, <[u8]>::to_vec);
    assert_refused(s, |e| {
        *e == AttestationError::InsecurePlatform {
            platform: Platform::Linux,
        }
    });
}

#[test]
fn debug_mode_runtime_is_refused_by_default() {
    let ca = make_ca("Attestation CA");
    let claims = |h| Claims {
        debug: true,
        ..Claims::good(h)
    };
    let s = scenario(&ca, &ca, Trust::snp(), claims, <[u8]>::to_vec);
    assert_refused(s, |e| {
        *e == AttestationError::DebugRuntime {
            platform: Platform::SevSnp,
        }
    });
}

#[test]
fn identity_outside_the_policy_is_refused_before_connecting() {
    let ca = make_ca("Attestation CA");
    let s = scenario(&ca, &ca, Trust::snp(), Claims::good, <[u8]>::to_vec);
    let mallory = principal("mallory");
    let policy = Policy::from_bytes(&s.client_policy).unwrap();
    let identity =
        Identity::from_pem(mallory.cert_pem.as_bytes(), mallory.key_pem.as_bytes()).unwrap();
    let err = Client::connect(
        &policy,
        &s.client_policy,
        identity,
        &ClientOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ClientError::NotAPrincipal), "{err}");
    // The peer is still waiting for its one connection; the good client gets it.
    connect(&s).unwrap().close().unwrap();
    s.peer.finish().handshake.unwrap();
}

#[test]
fn certificate_with_a_key_that_does_not_match_is_refused_locally() {
    let ca = make_ca("Attestation CA");
    let s = scenario(&ca, &ca, Trust::snp(), Claims::good, <[u8]>::to_vec);
    let other_key = principal("other").key_pem;
    let policy = Policy::from_bytes(&s.client_policy).unwrap();
    let identity = Identity::from_pem(s.alice.cert_pem.as_bytes(), other_key.as_bytes());
    // rustls checks that the key matches the certificate before anything is sent.
    let outcome = identity
        .and_then(|id| Client::connect(&policy, &s.client_policy, id, &ClientOptions::default()));
    let err = outcome.expect_err("a key that does not match the certificate must fail");
    assert!(matches!(err, ClientError::Identity(_)), "{err}");
    connect(&s).unwrap().close().unwrap();
    s.peer.finish().handshake.unwrap();
}

#[test]
fn unreachable_server_is_a_connect_error() {
    let ca = make_ca("Attestation CA");
    let s = scenario(&ca, &ca, Trust::snp(), Claims::good, <[u8]>::to_vec);
    let policy = Policy::from_bytes(&s.client_policy).unwrap();
    // A port that was just free: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let options = ClientOptions {
        server: Some(port.to_string()),
        ..ClientOptions::default()
    };
    let identity =
        Identity::from_pem(s.alice.cert_pem.as_bytes(), s.alice.key_pem.as_bytes()).unwrap();
    let err = Client::connect(&policy, &s.client_policy, identity, &options).unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }), "{err}");
    connect(&s).unwrap().close().unwrap();
    s.peer.finish();
}

#[test]
fn runtime_rejecting_the_client_certificate_is_reported_as_its_alert() {
    let ca = make_ca("Attestation CA");
    let alice = principal("alice");
    let listener = TestRuntimePeer::bind();
    let bytes = policy_bytes(
        &ca,
        &[&alice],
        &Trust::snp(),
        listener.local_addr().unwrap(),
    );
    let policy = Policy::from_bytes(&bytes).unwrap();
    let key = runtime_key();
    let chain = issue(&ca, &key, &Claims::good(policy.hash()));
    // This peer accepts nobody, as a runtime would refuse a certificate not in its policy.
    let peer =
        TestRuntimePeer::start_allowing(listener, &chain, &key, &policy, BTreeMap::new(), vec![]);
    let identity = Identity::from_pem(alice.cert_pem.as_bytes(), alice.key_pem.as_bytes()).unwrap();
    // In TLS 1.3 the client finishes its side of the handshake before the server has judged
    // the client certificate, so the refusal arrives as an alert on the first answer.
    let mut client = Client::connect(&policy, &bytes, identity, &ClientOptions::default()).unwrap();
    let err = client.status().unwrap_err();
    assert!(
        matches!(&err, ClientError::PeerAlert(alert) if alert.contains("AccessDenied")),
        "{err}"
    );
    let log = peer.finish();
    assert!(log.handshake.is_err());
    assert_eq!(log.application_bytes, 0);
}
