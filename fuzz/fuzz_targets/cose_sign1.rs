//! The shared CBOR decoder and COSE_Sign1 parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veracruz_evidence::cose;

fuzz_target!(|data: &[u8]| {
    let _ = cose::decode(data, 1 << 16, "fuzz");
    if let Ok(msg) = cose::parse_sign1(data, 1 << 16, "fuzz") {
        assert!(msg.signature.len() <= data.len());
    }
});
