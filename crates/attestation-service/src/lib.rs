//! The Veracruz attestation service: hands out single-use challenges, verifies a runtime's
//! platform evidence and its binding to the challenge, its TLS key and its policy, and issues the
//! runtime a short-lived certificate saying what was verified. Every attempt, accepted or
//! refused, is recorded in SQLite or PostgreSQL.
//!
//! Start it in-process with [`serve`] on any listener (tests use `127.0.0.1:0`).

pub mod api;
mod check;
pub mod client;
pub mod config;
mod http;
mod metrics;
mod service;
pub mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use check::Check;
pub use config::{init, Config, ConfigError, InitOutput, PlatformConfig};
pub use http::router;
pub use service::{AttestationService, Refusal, ServiceError, MAX_BODY_LEN, MAX_EVIDENCE_LEN};

/// Expired challenges are kept this long (so a late request is told "expired", not "unknown")
/// and then purged.
const CHALLENGE_RETENTION_MS: i64 = 24 * 3600 * 1000;

/// Serves the API on `listener` until `shutdown` completes, purging old challenges meanwhile.
pub async fn serve_with_shutdown(
    service: Arc<AttestationService>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "attestation service listening");
    let purger = {
        let service = service.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let before = service::now_ms() - CHALLENGE_RETENTION_MS;
                match service.store().purge_challenges(before).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(purged = n, "purged old challenges"),
                    Err(e) => tracing::warn!(error = %e, "purging old challenges failed"),
                }
            }
        })
    };
    let result = axum::serve(listener, router(service))
        .with_graceful_shutdown(shutdown)
        .await;
    purger.abort();
    result.map_err(ServiceError::Io)
}

/// Builds the service from `config` and serves it on `listener` until the process ends.
pub async fn serve(config: Config, listener: tokio::net::TcpListener) -> Result<(), ServiceError> {
    let service = Arc::new(AttestationService::new(config).await?);
    serve_with_shutdown(service, listener, std::future::pending()).await
}
