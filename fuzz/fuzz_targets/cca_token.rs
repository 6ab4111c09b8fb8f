//! CCA tokens: the collection, both COSE_Sign1 messages, the claims and the realm key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veracruz_evidence::cca::{parse_token, CcaVerifier};
use veracruz_evidence::{CcaConfig, CcaTrustAnchor, Verifier};

const STORE: &str = include_str!("../../testdata/vectors/cca/ta-tfa.json");

fuzz_target!(|data: &[u8]| {
    let anchors: Vec<CcaTrustAnchor> = serde_json::from_str(STORE).expect("store");
    let verifier = CcaVerifier::new(
        &CcaConfig {
            trust_anchors: anchors,
        },
        true,
    )
    .expect("cpak");
    let _ = parse_token(data);
    let _ = verifier.verify(data, 0);
});
