//! A client for the HTTP API, used by the server that drives attestation and by tests.

use std::time::Duration;

use base64::Engine as _;

use crate::api::{
    AttestationRequest, AttestationResponse, AuditPage, ChallengeResponse, ErrorBody,
};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("attestation service unreachable or failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The service refused; `check` says which check failed.
    #[error("attestation refused at check `{}`: {}", .0.check, .0.reason)]
    Refused(ErrorBody),
    #[error("attestation service answered {status} with an unexpected body: {body}")]
    Unexpected { status: u16, body: String },
}

/// Talks to one attestation service.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// `base` is e.g. `http://127.0.0.1:3010` (no trailing slash needed).
    pub fn new(base: &str) -> Result<Client, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }

    pub async fn challenge(&self) -> Result<ChallengeResponse, ClientError> {
        let resp = self
            .http
            .post(format!("{}/v1/challenges", self.base))
            .send()
            .await?;
        decode(resp).await
    }

    /// Submits evidence (raw bytes; encoded here) and a PEM CSR.
    pub async fn attest(
        &self,
        challenge_id: &str,
        platform: &str,
        evidence: &[u8],
        csr_pem: &str,
        policy_hash: &[u8; 32],
    ) -> Result<AttestationResponse, ClientError> {
        let req = AttestationRequest {
            challenge_id: challenge_id.to_string(),
            platform: platform.to_string(),
            evidence: base64::engine::general_purpose::STANDARD.encode(evidence),
            csr: csr_pem.to_string(),
            policy_hash: hex::encode(policy_hash),
        };
        self.attest_raw(&req).await
    }

    pub async fn attest_raw(
        &self,
        req: &AttestationRequest,
    ) -> Result<AttestationResponse, ClientError> {
        let resp = self
            .http
            .post(format!("{}/v1/attestations", self.base))
            .json(req)
            .send()
            .await?;
        decode(resp).await
    }

    /// The CA certificate, PEM.
    pub async fn ca(&self) -> Result<String, ClientError> {
        let resp = self.http.get(format!("{}/v1/ca", self.base)).send().await?;
        let status = resp.status();
        let body = resp.text().await?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(ClientError::Unexpected {
                status: status.as_u16(),
                body,
            })
        }
    }

    /// One page of the audit record; `query` is e.g. `after=10&limit=50&outcome=refused`.
    pub async fn audit(&self, query: &str) -> Result<AuditPage, ClientError> {
        let resp = self
            .http
            .get(format!("{}/v1/attestations?{query}", self.base))
            .send()
            .await?;
        decode(resp).await
    }
}

async fn decode<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T, ClientError> {
    let status = resp.status();
    let body = resp.bytes().await?;
    if status.is_success() {
        if let Ok(v) = serde_json::from_slice(&body) {
            return Ok(v);
        }
    } else if let Ok(e) = serde_json::from_slice::<ErrorBody>(&body) {
        return Err(ClientError::Refused(e));
    }
    Err(ClientError::Unexpected {
        status: status.as_u16(),
        body: String::from_utf8_lossy(&body[..body.len().min(1024)]).into_owned(),
    })
}
