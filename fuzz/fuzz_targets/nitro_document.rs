//! Nitro attestation documents: COSE_Sign1, the CBOR payload, the certificate chain.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veracruz_evidence::nitro::{parse_payload, NitroVerifier, AWS_NITRO_ROOT_G1_PEM};
use veracruz_evidence::Verifier;

/// Inside the recorded fixture's validity window, so that mutated real documents get deep.
const NOW: u64 = 1_736_182_800;

fuzz_target!(|data: &[u8]| {
    let verifier = NitroVerifier::new(AWS_NITRO_ROOT_G1_PEM, true).expect("built-in root");
    let _ = verifier.verify(data, NOW);
    let _ = parse_payload(data);
});
