//! The Veracruz OID arc and the certificate extensions under it.
//!
//! The arc `2.25.19312483943120966579259137555915532897` is derived from a UUID (ITU-T X.667),
//! (`0e8772f9-0c07-4ffa-80b4-a84a673aea61`), so it needs no registration and cannot collide
//! with anyone else's.

use std::sync::OnceLock;

use crate::der;

/// The arc's last component. It is wider than 64 bits, hence `u128`.
pub const ARC_UUID: u128 = 19_312_483_943_120_966_579_259_137_555_915_532_897;

/// The arc, in dotted form.
pub const ARC: &str = "2.25.19312483943120966579259137555915532897";

/// One extension the attestation service puts into runtime certificates. All are non-critical:
/// TLS stacks that do not know them still accept the certificate, and Veracruz clients check
/// them explicitly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuntimeExtension {
    /// `ARC.1`, UTF8String: the platform name (`linux`, `sev-snp`, …).
    Platform,
    /// `ARC.2`, OCTET STRING: the runtime measurement the evidence proved.
    Measurement,
    /// `ARC.3`, OCTET STRING (32 bytes): SHA-256 of the policy the runtime was attested with.
    PolicyHash,
    /// `ARC.4`, BOOLEAN: whether the isolate runs in a debug mode its host can inspect.
    Debug,
    /// `ARC.5`, UTF8String, optional: the platform's TCB verdict, where it reports one.
    TcbStatus,
}

impl RuntimeExtension {
    pub const ALL: [RuntimeExtension; 5] = [
        RuntimeExtension::Platform,
        RuntimeExtension::Measurement,
        RuntimeExtension::PolicyHash,
        RuntimeExtension::Debug,
        RuntimeExtension::TcbStatus,
    ];

    /// The last arc under [`ARC`].
    pub fn number(self) -> u128 {
        match self {
            RuntimeExtension::Platform => 1,
            RuntimeExtension::Measurement => 2,
            RuntimeExtension::PolicyHash => 3,
            RuntimeExtension::Debug => 4,
            RuntimeExtension::TcbStatus => 5,
        }
    }

    /// The dotted OID.
    pub fn oid_string(self) -> String {
        format!("{ARC}.{}", self.number())
    }

    /// The content octets of this extension's OID, for comparing with parsed certificates.
    pub fn oid_der_content(self) -> &'static [u8] {
        static CACHE: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
        let all = CACHE.get_or_init(|| {
            RuntimeExtension::ALL
                .iter()
                .map(|e| der::oid_content(&[2, 25, ARC_UUID, e.number()]))
                .collect()
        });
        &all[self.number() as usize - 1]
    }

    pub fn name(self) -> &'static str {
        match self {
            RuntimeExtension::Platform => "platform",
            RuntimeExtension::Measurement => "measurement",
            RuntimeExtension::PolicyHash => "policy hash",
            RuntimeExtension::Debug => "debug",
            RuntimeExtension::TcbStatus => "TCB status",
        }
    }
}

/// The content octets of the arc itself; extensions under it share this prefix.
pub fn arc_der_content() -> &'static [u8] {
    static CACHE: OnceLock<Vec<u8>> = OnceLock::new();
    CACHE.get_or_init(|| der::oid_content(&[2, 25, ARC_UUID]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arc_constant_matches_its_dotted_form() {
        assert_eq!(ARC, format!("2.25.{ARC_UUID}"));
    }

    #[test]
    fn arc_encoding_matches_an_independent_computation() {
        // Computed outside this crate (base-128 of the UUID 0e8772f9-0c07-4ffa-80b4-a84a673aea61
        // as an integer, after 2*40+25 = 0x69).
        assert_eq!(
            hex::encode(arc_der_content()),
            "699d87b9bea1c0babff580daaa89a6b9ebd461"
        );
        for ext in RuntimeExtension::ALL {
            let content = ext.oid_der_content();
            assert_eq!(&content[..content.len() - 1], arc_der_content());
            assert_eq!(u128::from(content[content.len() - 1]), ext.number());
        }
    }
}
