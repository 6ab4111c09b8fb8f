//! DCAP envelopes: JSON with the quote and its collateral.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veracruz_evidence::dcap::DcapVerifier;
use veracruz_evidence::{DcapConfig, Platform, Verifier};

fuzz_target!(|data: &[u8]| {
    let verifier = DcapVerifier::new(Platform::Tdx, &DcapConfig::default(), true).expect("root");
    let _ = verifier.verify(data, 1_751_000_000);
});
