//! Arm CCA attestation tokens from `testdata/vectors/cca`. CCA keys are raw public keys with no
//! validity period, so unlike the other platforms there is no time window to test.

mod common;

use common::*;
use veracruz_evidence::cca::{parse_token, CcaVerifier, Jwk};
use veracruz_evidence::{
    cose, verifier_for, CcaConfig, CcaTrustAnchor, EvidenceError, Platform, Verifier,
    VerifierConfig,
};

fn store(rel: &str) -> Vec<CcaTrustAnchor> {
    serde_json::from_slice(&read(rel)).expect("trust anchor store")
}

fn bare_cpak() -> Vec<CcaTrustAnchor> {
    let pkey: Jwk = serde_json::from_slice(&read("cca/cpak.json")).unwrap();
    vec![CcaTrustAnchor {
        pkey,
        implementation_id: None,
        instance_id: None,
    }]
}

fn verifier(anchors: Vec<CcaTrustAnchor>) -> Box<dyn Verifier> {
    let config = VerifierConfig {
        cca: CcaConfig {
            trust_anchors: anchors,
        },
        ..VerifierConfig::default()
    };
    verifier_for(Platform::Cca, &config).unwrap()
}

/// (token, trust anchors) pairs that must verify.
fn positives() -> Vec<(&'static str, Vec<CcaTrustAnchor>)> {
    vec![
        ("cca/cca-token-01.cbor", bare_cpak()),
        ("cca/cca-token-02.cbor", store("cca/ta-02-ok.json")),
        ("cca/cca-token-draft-ffm-00.cbor", store("cca/ta-tfa.json")),
        ("cca/trustee_cca-example-token.cbor", bare_cpak()),
    ]
}

/// Reads a realm claim straight from the token, independently of the verifier.
fn realm_claim(token: &[u8], key: i64) -> Vec<u8> {
    let t = parse_token(token).unwrap();
    let claims = cose::decode(&t.realm.payload, 1 << 16, "realm").unwrap();
    let ciborium::value::Value::Map(m) = claims else {
        panic!("realm claims")
    };
    m.iter()
        .find(|(k, _)| *k == ciborium::value::Value::Integer(key.into()))
        .and_then(|(_, v)| v.as_bytes().cloned())
        .expect("claim present")
}

#[test]
fn every_positive_token_verifies() {
    for (file, anchors) in positives() {
        let token = read(file);
        let claims = verifier(anchors)
            .verify(&token, COLLECTED)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(claims.platform, Platform::Cca);
        assert_eq!(claims.measurement, realm_claim(&token, 44238), "{file}");
        assert!(!claims.debug, "{file}");
        assert_eq!(
            detail(&claims, "realm_personalization_value"),
            Some(hex::encode(realm_claim(&token, 44235)).as_str()),
            "{file}"
        );
        assert_binding_enforced(&claims, &realm_claim(&token, 10));
    }
}

#[test]
fn draft_profile_token_reports_its_profile() {
    let claims = verifier(store("cca/ta-tfa.json"))
        .verify(&read("cca/cca-token-draft-ffm-00.cbor"), COLLECTED)
        .unwrap();
    assert_eq!(
        detail(&claims, "platform_profile"),
        Some("tag:arm.com,2023:cca_platform#1.0.0")
    );
}

#[test]
fn wrong_cpak_for_the_instance_fails_the_signature() {
    let err = verifier(store("cca/ta-02-bad.json"))
        .verify(&read("cca/cca-token-02.cbor"), COLLECTED)
        .unwrap_err();
    assert!(matches!(err, EvidenceError::BadSignature(_)), "{err}");
}

#[test]
fn unknown_instance_has_no_trust_anchor() {
    let err = verifier(store("cca/ta.json"))
        .verify(&read("cca/cca-token-01.cbor"), COLLECTED)
        .unwrap_err();
    assert!(matches!(err, EvidenceError::BadChain(_)), "{err}");
}

#[test]
fn flipping_any_sampled_byte_fails() {
    for (file, anchors) in positives() {
        let token = read(file);
        let n = assert_flips_fail(
            &*verifier(anchors),
            &token,
            0..token.len(),
            COLLECTED,
            |b| b.to_vec(),
        );
        assert!(n > 100, "{file}");
    }
}

#[test]
fn a_verifier_needs_a_cpak() {
    assert!(matches!(
        CcaVerifier::new(&CcaConfig::default(), false),
        Err(EvidenceError::Config(_))
    ));
    let bad = Jwk {
        kty: "EC".into(),
        crv: "P-521".into(),
        x: String::new(),
        y: String::new(),
    };
    let config = CcaConfig {
        trust_anchors: vec![CcaTrustAnchor {
            pkey: bad,
            implementation_id: None,
            instance_id: None,
        }],
    };
    assert!(matches!(
        CcaVerifier::new(&config, false),
        Err(EvidenceError::Config(_))
    ));
}

#[test]
fn malformed_tokens() {
    let v = verifier(bare_cpak());
    for bad in [
        &b""[..],
        &[0xd9, 0x01, 0x8f, 0xa0],
        &[0xd9, 0x01, 0x90, 0xa0],
        b"\xa1\x01\x02",
    ] {
        assert!(matches!(
            v.verify(bad, COLLECTED),
            Err(EvidenceError::Malformed(_))
        ));
    }
}

/// Tokens built here with fresh keys, to reach the checks the published vectors only pass:
/// the platform/realm binding, the lifecycle states and COSE_Key realm keys.
mod synthetic {
    use super::*;
    use base64::Engine;
    use ciborium::value::{Integer, Value};
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P384_SHA384_FIXED_SIGNING};

    fn key() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
    }

    fn cbor(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(v, &mut out).unwrap();
        out
    }

    fn int(i: i64) -> Value {
        Value::Integer(Integer::from(i))
    }

    fn sign1(payload: &[u8], key: &EcdsaKeyPair) -> Vec<u8> {
        let protected = cbor(&Value::Map(vec![(int(1), int(-35))]));
        let tbs = cbor(&Value::Array(vec![
            Value::Text("Signature1".into()),
            Value::Bytes(protected.clone()),
            Value::Bytes(vec![]),
            Value::Bytes(payload.to_vec()),
        ]));
        let sig = key.sign(&SystemRandom::new(), &tbs).unwrap();
        cbor(&Value::Tag(
            18,
            Box::new(Value::Array(vec![
                Value::Bytes(protected),
                Value::Map(vec![]),
                Value::Bytes(payload.to_vec()),
                Value::Bytes(sig.as_ref().to_vec()),
            ])),
        ))
    }

    struct Spec {
        /// The RAK claim as it goes in the token (raw point or COSE_Key).
        rak_claim: Vec<u8>,
        rak_hash_alg: &'static str,
        platform_challenge: Vec<u8>,
        lifecycle: i64,
    }

    fn token(spec: &Spec, cpak: &EcdsaKeyPair, realm_signer: &EcdsaKeyPair) -> Vec<u8> {
        let realm = cbor(&Value::Map(vec![
            (int(10), Value::Bytes(vec![0xAB; 64])),
            (int(44235), Value::Bytes(vec![0xCD; 64])),
            (int(44236), Value::Text("sha-256".into())),
            (int(44237), Value::Bytes(spec.rak_claim.clone())),
            (int(44238), Value::Bytes(vec![0x11; 32])),
            (int(44239), Value::Array(vec![Value::Bytes(vec![0; 32]); 4])),
            (int(44240), Value::Text(spec.rak_hash_alg.into())),
        ]));
        let platform = cbor(&Value::Map(vec![
            (
                int(265),
                Value::Text("tag:arm.com,2023:cca_platform#1.0.0".into()),
            ),
            (int(10), Value::Bytes(spec.platform_challenge.clone())),
            (int(2396), Value::Bytes(vec![0x7f; 32])),
            (int(256), Value::Bytes([vec![1], vec![2; 32]].concat())),
            (int(2395), int(spec.lifecycle)),
            (int(2399), Value::Array(vec![])),
            (int(2402), Value::Text("sha-256".into())),
        ]));
        cbor(&Value::Tag(
            399,
            Box::new(Value::Map(vec![
                (int(44234), Value::Bytes(sign1(&platform, cpak))),
                (int(44241), Value::Bytes(sign1(&realm, realm_signer))),
            ])),
        ))
    }

    fn anchor(cpak: &EcdsaKeyPair) -> Vec<CcaTrustAnchor> {
        let point = cpak.public_key().as_ref();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        vec![CcaTrustAnchor {
            pkey: Jwk {
                kty: "EC".into(),
                crv: "P-384".into(),
                x: b64.encode(&point[1..49]),
                y: b64.encode(&point[49..97]),
            },
            implementation_id: None,
            instance_id: None,
        }]
    }

    fn sha512(b: &[u8]) -> Vec<u8> {
        ring::digest::digest(&ring::digest::SHA512, b)
            .as_ref()
            .to_vec()
    }

    fn bound(rak: &EcdsaKeyPair) -> Spec {
        let raw = rak.public_key().as_ref().to_vec();
        Spec {
            platform_challenge: sha512(&raw),
            rak_claim: raw,
            rak_hash_alg: "sha-512",
            lifecycle: 0x3000,
        }
    }

    fn allow_debug(cpak: &EcdsaKeyPair) -> Box<dyn Verifier> {
        let config = VerifierConfig {
            allow_debug: true,
            cca: CcaConfig {
                trust_anchors: anchor(cpak),
            },
            ..VerifierConfig::default()
        };
        verifier_for(Platform::Cca, &config).unwrap()
    }

    #[test]
    fn a_bound_token_verifies() {
        let (cpak, rak) = (key(), key());
        let claims = verifier(anchor(&cpak))
            .verify(&token(&bound(&rak), &cpak, &rak), 0)
            .unwrap();
        assert_eq!(claims.measurement, vec![0x11; 32]);
        assert_eq!(claims.report_data, vec![0xAB; 64]);
        assert!(!claims.debug);
    }

    #[test]
    fn realm_key_as_cose_key_verifies() {
        let (cpak, rak) = (key(), key());
        let point = rak.public_key().as_ref();
        let cose_key = cbor(&Value::Map(vec![
            (int(1), int(2)),
            (int(-1), int(2)),
            (int(-2), Value::Bytes(point[1..49].to_vec())),
            (int(-3), Value::Bytes(point[49..97].to_vec())),
        ]));
        let spec = Spec {
            platform_challenge: sha512(&cose_key),
            rak_claim: cose_key,
            ..bound(&rak)
        };
        assert!(verifier(anchor(&cpak))
            .verify(&token(&spec, &cpak, &rak), 0)
            .is_ok());
    }

    #[test]
    fn platform_challenge_must_be_the_rak_hash() {
        let (cpak, rak) = (key(), key());
        let raw = rak.public_key().as_ref().to_vec();
        for challenge in [
            vec![0u8; 64],
            // The right bytes under the wrong algorithm.
            ring::digest::digest(&ring::digest::SHA256, &raw)
                .as_ref()
                .to_vec(),
        ] {
            let spec = Spec {
                platform_challenge: challenge,
                ..bound(&rak)
            };
            let err = verifier(anchor(&cpak))
                .verify(&token(&spec, &cpak, &rak), 0)
                .unwrap_err();
            assert!(
                matches!(err, EvidenceError::BadSignature(ref m) if m.contains("not bound")),
                "{err}"
            );
        }
    }

    #[test]
    fn realm_token_must_be_signed_by_its_rak() {
        let (cpak, rak, other) = (key(), key(), key());
        let err = verifier(anchor(&cpak))
            .verify(&token(&bound(&rak), &cpak, &other), 0)
            .unwrap_err();
        assert!(
            matches!(err, EvidenceError::BadSignature(ref m) if m.contains("realm")),
            "{err}"
        );
    }

    #[test]
    fn lifecycle_states() {
        let (cpak, rak) = (key(), key());
        let with = |lifecycle| {
            token(
                &Spec {
                    lifecycle,
                    ..bound(&rak)
                },
                &cpak,
                &rak,
            )
        };
        assert!(matches!(
            verifier(anchor(&cpak)).verify(&with(0x5000), 0),
            Err(EvidenceError::Debug(_))
        ));
        assert!(allow_debug(&cpak).verify(&with(0x5000), 0).unwrap().debug);
        for refused in [0x0000, 0x2000, 0x6000] {
            assert!(matches!(
                allow_debug(&cpak).verify(&with(refused), 0),
                Err(EvidenceError::Tcb(_))
            ));
        }
    }
}
