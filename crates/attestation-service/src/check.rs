//! The named checks an attestation can fail, in the order they run.

/// A failed check. The string forms are part of the API: clients and monitoring match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Check {
    /// The body is not the expected JSON, or a field is malformed.
    Request,
    ChallengeUnknown,
    ChallengeExpired,
    ChallengeUsed,
    /// The CSR does not parse, is too large, or its key is not ECDSA P-256/P-384.
    CsrInvalid,
    CsrSignature,
    /// Unknown platform name, or no section for it in the configuration.
    PlatformNotAccepted,
    /// The platform's evidence is self-asserted and the configuration does not allow that.
    PlatformInsecure,
    /// This build has no verifier for the platform.
    PlatformUnsupported,
    /// The platform verifier refused the evidence (signature, chain, collateral, format).
    Evidence,
    /// The evidence does not bind this nonce, the CSR key hash and the claimed policy hash.
    Binding,
    Measurement,
    Debug,
    Tcb,
    /// Not a check: the service itself failed (e.g. its database).
    Internal,
}

impl Check {
    pub const ALL: [Check; 15] = [
        Check::Request,
        Check::ChallengeUnknown,
        Check::ChallengeExpired,
        Check::ChallengeUsed,
        Check::CsrInvalid,
        Check::CsrSignature,
        Check::PlatformNotAccepted,
        Check::PlatformInsecure,
        Check::PlatformUnsupported,
        Check::Evidence,
        Check::Binding,
        Check::Measurement,
        Check::Debug,
        Check::Tcb,
        Check::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Check::Request => "request",
            Check::ChallengeUnknown => "challenge_unknown",
            Check::ChallengeExpired => "challenge_expired",
            Check::ChallengeUsed => "challenge_used",
            Check::CsrInvalid => "csr_invalid",
            Check::CsrSignature => "csr_signature",
            Check::PlatformNotAccepted => "platform_not_accepted",
            Check::PlatformInsecure => "platform_insecure",
            Check::PlatformUnsupported => "platform_unsupported",
            Check::Evidence => "evidence",
            Check::Binding => "binding",
            Check::Measurement => "measurement",
            Check::Debug => "debug",
            Check::Tcb => "tcb",
            Check::Internal => "internal",
        }
    }

    /// HTTP status of a refusal at this check.
    pub fn status(self) -> u16 {
        match self {
            Check::Request => 400,
            Check::Internal => 500,
            _ => 403,
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
