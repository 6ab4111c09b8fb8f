//! Isolation platforms a runtime can be attested on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a runtime runs. The name is what policies, evidence and certificates use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    /// A sandboxed Linux process. Its evidence is self-asserted: insecure, for development.
    Linux,
    /// AMD SEV-SNP confidential VM; measurement is the 48-byte launch `MEASUREMENT`.
    SevSnp,
    /// Intel TDX trust domain; measurement is the 48-byte `MRTD`.
    Tdx,
    /// Intel SGX enclave; measurement is the 32-byte `MRENCLAVE`.
    Sgx,
    /// AWS Nitro Enclave; measurement is the 48-byte `PCR0` (SHA-384 of the image).
    Nitro,
    /// Arm CCA realm; measurement is the realm initial measurement (32 or 64 bytes).
    Cca,
}

impl Platform {
    /// Every platform, in a stable order.
    pub const ALL: [Platform; 6] = [
        Platform::Linux,
        Platform::SevSnp,
        Platform::Tdx,
        Platform::Sgx,
        Platform::Nitro,
        Platform::Cca,
    ];

    /// The name used in policies, configuration and certificates.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Linux => "linux",
            Platform::SevSnp => "sev-snp",
            Platform::Tdx => "tdx",
            Platform::Sgx => "sgx",
            Platform::Nitro => "nitro",
            Platform::Cca => "cca",
        }
    }

    /// Byte lengths a measurement may have on this platform.
    pub fn measurement_lengths(self) -> &'static [usize] {
        match self {
            Platform::Linux | Platform::Sgx => &[32],
            Platform::SevSnp | Platform::Tdx | Platform::Nitro => &[48],
            Platform::Cca => &[32, 48, 64],
        }
    }

    /// Whether the platform's evidence proves anything (hardware-rooted) or is self-asserted.
    pub fn is_insecure(self) -> bool {
        matches!(self, Platform::Linux)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name was not one of [`Platform::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform `{0}` (expected one of linux, sev-snp, tdx, sgx, nitro, cca)")]
pub struct UnknownPlatform(pub String);

impl FromStr for Platform {
    type Err = UnknownPlatform;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPlatform(s.to_string()))
    }
}
