//! The JSON bodies of the HTTP API, shared by the service and its client. See
//! `docs/attestation-openapi.yaml`.

use serde::{Deserialize, Serialize};

/// `POST /v1/challenges` answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChallengeResponse {
    /// 32 lowercase hex characters.
    pub challenge_id: String,
    /// The 32-byte nonce, hex; evidence must bind it.
    pub nonce: String,
    /// Unix seconds after which the challenge is refused.
    pub expires_at: i64,
}

/// `POST /v1/attestations` request. Fields absent from the JSON read as empty and are refused
/// after the challenge is consumed, so a malformed request still uses up its challenge.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AttestationRequest {
    #[serde(default)]
    pub challenge_id: String,
    /// Platform name: `linux`, `sev-snp`, `tdx`, `sgx`, `nitro`, `cca`.
    #[serde(default)]
    pub platform: String,
    /// Platform evidence, standard base64 with padding.
    #[serde(default)]
    pub evidence: String,
    /// PKCS#10 CSR, PEM.
    #[serde(default)]
    pub csr: String,
    /// SHA-256 of the policy the runtime holds, hex; the evidence must bind it.
    #[serde(default)]
    pub policy_hash: String,
}

/// `POST /v1/attestations` success.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AttestationResponse {
    /// The runtime certificate then the CA certificate, PEM.
    pub certificate_chain: String,
    /// Serial number of the runtime certificate, hex.
    pub serial: String,
    /// Validity, Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// The audit row recording this attempt.
    pub attempt_id: i64,
}

/// Any refusal or error. `check` is stable and machine-readable; `reason` is for people.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub check: String,
    pub reason: String,
    /// The audit row recording the refused attempt, where one was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_id: Option<i64>,
}

/// One audit row.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub id: i64,
    /// Unix milliseconds.
    pub time_ms: i64,
    pub challenge_id: Option<String>,
    pub platform: Option<String>,
    /// Hex.
    pub measurement: Option<String>,
    /// Hex; the policy hash the request claimed (proved only when accepted).
    pub policy_hash: Option<String>,
    /// Hex SHA-256 of the CSR's SubjectPublicKeyInfo.
    pub key_hash: Option<String>,
    pub debug: Option<bool>,
    pub tcb_status: Option<String>,
    /// `accepted` or `refused`.
    pub outcome: String,
    pub check: Option<String>,
    pub reason: Option<String>,
    /// Hex serial of the issued certificate.
    pub serial: Option<String>,
    pub not_after_ms: Option<i64>,
}

/// `GET /v1/attestations` answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuditPage {
    pub attempts: Vec<AuditEntry>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<i64>,
}
