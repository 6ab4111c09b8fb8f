//! What TEE devices hand the runtime: the SEV-SNP certificate table and NSM responses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veracruz_evidence::provider::{parse_cert_table, parse_nsm_response};

fuzz_target!(|data: &[u8]| {
    if let Ok(certs) = parse_cert_table(data) {
        assert!(certs.iter().all(|(_, c)| c.len() <= data.len()));
    }
    let _ = parse_nsm_response(data);
});
