//! Operator inputs: evidence files in text encodings, times, verifier configurations.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veracruz_evidence::{decode_evidence_text, parse_time, VerifierConfig};

fuzz_target!(|data: &[u8]| {
    let _ = decode_evidence_text(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_time(text);
    }
    if let Ok(config) = serde_json::from_slice::<VerifierConfig>(data) {
        for platform in veracruz_evidence::Platform::ALL {
            let _ = veracruz_evidence::verifier_for(platform, &config);
        }
    }
});
