//! SEV-SNP: the report parser on raw bytes, and the whole verifier on envelopes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veracruz_evidence::snp::{SnpEvidence, SnpReport, SnpVerifier};
use veracruz_evidence::{SnpConfig, Verifier};

const VCEK: &[u8] = include_bytes!("../../testdata/vectors/sev-snp/trustee_vcek_milan.der");
const NOW: u64 = 1_795_737_600;

fuzz_target!(|data: &[u8]| {
    let verifier = SnpVerifier::new(&SnpConfig::default(), true).expect("built-in roots");
    if let Ok(report) = SnpReport::parse(data) {
        let _ = report.debug_allowed();
    }
    // Raw bytes as a report with a real VCEK, and raw bytes as the envelope itself.
    let _ = verifier.verify(&SnpEvidence::new(data, VCEK, None).to_bytes(), NOW);
    let _ = verifier.verify(data, NOW);
    let _ = verifier.verify_endorsement_key(data, None, NOW);
});
