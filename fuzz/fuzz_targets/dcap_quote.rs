//! DCAP quotes: arbitrary bytes as the quote, with real collateral, so the quote parser and
//! the checks behind it see every input.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use veracruz_evidence::dcap::{quote_platform, DcapEvidence, DcapVerifier};
use veracruz_evidence::{DcapConfig, Platform, Verifier};

const COLLATERAL: &str =
    include_str!("../../testdata/vectors/dcap/dcap-qvl/tdx_quote_collateral.json");

fuzz_target!(|data: &[u8]| {
    static COLL: OnceLock<serde_json::Value> = OnceLock::new();
    let coll = COLL.get_or_init(|| serde_json::from_str(COLLATERAL).expect("collateral"));
    let _ = quote_platform(data);
    let evidence = DcapEvidence::new(
        data,
        serde_json::from_value(coll.clone()).expect("collateral"),
    );
    for platform in [Platform::Tdx, Platform::Sgx] {
        let verifier = DcapVerifier::new(platform, &DcapConfig::default(), true).expect("root");
        let _ = verifier.verify(&evidence.to_bytes(), 1_751_000_000);
    }
});
