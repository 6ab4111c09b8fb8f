//! The `linux` platform's self-asserted evidence.
//!
//! A runtime running as an ordinary (sandboxed) Linux process has no hardware to vouch for it,
//! so it simply states its measurement and report data. The format is fixed-size binary:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `VCZLINUX` |
//! | 8 | 2 | format version, big-endian, currently 1 |
//! | 10 | 32 | measurement: SHA-256 of the runtime executable |
//! | 42 | 64 | report data: [`Binding::report_data`] |
//!
//! Nothing signs it: anyone can write such bytes, which is why the platform is insecure and the
//! attestation service accepts it only where its configuration allows insecure platforms.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};
use veracruz_evidence::{Binding, Claims, EvidenceError, UnixTime, Verifier};
use veracruz_policy::Platform;

/// Leading bytes of every `linux` evidence blob.
pub const MAGIC: &[u8; 8] = b"VCZLINUX";
/// The only format version this build writes and reads.
pub const VERSION: u16 = 1;
/// Exact size of an evidence blob.
pub const EVIDENCE_LEN: usize = 8 + 2 + 32 + 64;

/// Encodes evidence for a runtime with this measurement and binding.
pub fn encode_evidence(measurement: &[u8; 32], binding: &Binding) -> Vec<u8> {
    let mut out = Vec::with_capacity(EVIDENCE_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(measurement);
    out.extend_from_slice(&binding.report_data());
    out
}

/// SHA-256 of a file, read in blocks so a large executable is never held in memory whole.
pub fn measure_file(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// What the runtime calls: evidence whose measurement is the SHA-256 of the running executable.
pub fn evidence_for_current_executable(binding: &Binding) -> std::io::Result<Vec<u8>> {
    let exe = std::env::current_exe()?;
    let measurement = measure_file(&exe)?;
    tracing::debug!(exe = %exe.display(), measurement = %hex::encode(measurement), "linux evidence");
    Ok(encode_evidence(&measurement, binding))
}

/// Checks the structure of `linux` evidence. There is no signature to check.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinuxVerifier;

impl Verifier for LinuxVerifier {
    fn platform(&self) -> Platform {
        Platform::Linux
    }

    fn verify(&self, evidence: &[u8], _now: UnixTime) -> Result<Claims, EvidenceError> {
        if evidence.len() != EVIDENCE_LEN {
            return Err(EvidenceError::Malformed(format!(
                "linux evidence must be exactly {EVIDENCE_LEN} bytes, got {}",
                evidence.len()
            )));
        }
        if &evidence[..8] != MAGIC {
            return Err(EvidenceError::Malformed(
                "linux evidence does not start with the magic `VCZLINUX`".into(),
            ));
        }
        let version = u16::from_be_bytes([evidence[8], evidence[9]]);
        if version != VERSION {
            return Err(EvidenceError::Malformed(format!(
                "linux evidence version {version} is not supported (expected {VERSION})"
            )));
        }
        Ok(Claims {
            platform: Platform::Linux,
            measurement: evidence[10..42].to_vec(),
            report_data: evidence[42..].to_vec(),
            debug: false,
            tcb_status: None,
            details: vec![("evidence".into(), "self-asserted, unsigned".into())],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veracruz_evidence::check_binding;

    fn binding() -> Binding {
        Binding {
            nonce: [1; 32],
            key_hash: [2; 32],
            policy_hash: [3; 32],
        }
    }

    #[test]
    fn round_trips_and_binds() {
        let ev = encode_evidence(&[9; 32], &binding());
        let claims = LinuxVerifier.verify(&ev, 0).unwrap();
        assert_eq!(claims.platform, Platform::Linux);
        assert_eq!(claims.measurement, vec![9; 32]);
        check_binding(&claims, &binding()).unwrap();
        let mut other = binding();
        other.nonce[0] ^= 1;
        assert_eq!(
            check_binding(&claims, &other),
            Err(EvidenceError::BindingMismatch)
        );
    }

    #[test]
    fn refuses_malformed_evidence() {
        let ev = encode_evidence(&[9; 32], &binding());
        for bad in [&ev[..EVIDENCE_LEN - 1], &[ev.clone(), vec![0]].concat()[..]] {
            assert!(matches!(
                LinuxVerifier.verify(bad, 0),
                Err(EvidenceError::Malformed(_))
            ));
        }
        let mut wrong_magic = ev.clone();
        wrong_magic[0] = b'X';
        assert!(
            matches!(LinuxVerifier.verify(&wrong_magic, 0), Err(EvidenceError::Malformed(m)) if m.contains("magic"))
        );
        let mut wrong_version = ev;
        wrong_version[9] = 2;
        assert!(
            matches!(LinuxVerifier.verify(&wrong_version, 0), Err(EvidenceError::Malformed(m)) if m.contains("version 2"))
        );
    }

    #[test]
    fn current_executable_is_measured() {
        let ev = evidence_for_current_executable(&binding()).unwrap();
        let claims = LinuxVerifier.verify(&ev, 0).unwrap();
        let expected = measure_file(&std::env::current_exe().unwrap()).unwrap();
        assert_eq!(claims.measurement, expected.to_vec());
    }
}
