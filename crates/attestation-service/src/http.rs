//! The HTTP API over [`AttestationService`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::api::{AuditEntry, AuditPage, ErrorBody};
use crate::check::Check;
use crate::service::{AttestationService, Refusal, MAX_BODY_LEN};
use crate::store::AttemptQuery;

/// Default and largest page of the audit record.
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

/// All routes of the API.
pub fn router(service: Arc<AttestationService>) -> Router {
    Router::new()
        .route("/v1/challenges", post(create_challenge))
        .route("/v1/attestations", post(attest).get(audit))
        .route("/v1/ca", get(ca))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_LEN))
        .with_state(service)
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.check.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.body())).into_response()
    }
}

fn error(status: StatusCode, check: Check, reason: String) -> Response {
    (
        status,
        Json(ErrorBody {
            check: check.as_str().to_string(),
            reason,
            attempt_id: None,
        }),
    )
        .into_response()
}

async fn create_challenge(State(s): State<Arc<AttestationService>>) -> Response {
    match s.create_challenge().await {
        Ok(c) => (StatusCode::CREATED, Json(c)).into_response(),
        Err(r) => r.into_response(),
    }
}

async fn attest(State(s): State<Arc<AttestationService>>, body: Bytes) -> Response {
    match s.attest(&body).await {
        Ok(ok) => (StatusCode::OK, Json(ok)).into_response(),
        Err(r) => r.into_response(),
    }
}

async fn ca(State(s): State<Arc<AttestationService>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/pem-certificate-chain")],
        s.ca_certificate_pem().to_string(),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    after: Option<i64>,
    limit: Option<u32>,
    outcome: Option<String>,
    platform: Option<String>,
}

async fn audit(
    State(s): State<Arc<AttestationService>>,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Response {
    let Query(p) = match params {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, Check::Request, e.body_text()),
    };
    let limit = p.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return error(
            StatusCode::BAD_REQUEST,
            Check::Request,
            format!("limit must be between 1 and {MAX_PAGE}"),
        );
    }
    let accepted = match p.outcome.as_deref() {
        None => None,
        Some("accepted") => Some(true),
        Some("refused") => Some(false),
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                Check::Request,
                format!("outcome must be `accepted` or `refused`, not `{other}`"),
            )
        }
    };
    if p.platform.as_deref().is_some_and(|x| x.len() > 32) {
        return error(
            StatusCode::BAD_REQUEST,
            Check::Request,
            "platform is too long".into(),
        );
    }
    let query = AttemptQuery {
        after: p.after,
        limit,
        accepted,
        platform: p.platform,
    };
    match s.store().list_attempts(&query).await {
        Ok(rows) => {
            let next_after = (rows.len() == limit as usize)
                .then(|| rows.last().map(|r| r.id))
                .flatten();
            let attempts = rows
                .into_iter()
                .map(|a| AuditEntry {
                    id: a.id,
                    time_ms: a.record.time_ms,
                    challenge_id: a.record.challenge_id,
                    platform: a.record.platform,
                    measurement: a.record.measurement,
                    policy_hash: a.record.policy_hash,
                    key_hash: a.record.key_hash,
                    debug: a.record.debug,
                    tcb_status: a.record.tcb_status,
                    outcome: if a.record.accepted {
                        "accepted"
                    } else {
                        "refused"
                    }
                    .to_string(),
                    check: a.record.check,
                    reason: a.record.reason,
                    serial: a.record.serial,
                    not_after_ms: a.record.not_after_ms,
                })
                .collect();
            Json(AuditPage {
                attempts,
                next_after,
            })
            .into_response()
        }
        Err(e) => Refusal::from(e).into_response(),
    }
}

async fn healthz(State(s): State<Arc<AttestationService>>) -> Response {
    match s.store().ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
    }
}

async fn metrics(State(s): State<Arc<AttestationService>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}
