//! Prints attestation throughput and latency for a bounded load on loopback against an
//! in-process service:
//!
//!     cargo run --release -p veracruz-attestation-service --example load -- [TOTAL] [CLIENTS]
//!
//! SQLite in a temporary directory by default; PostgreSQL when VERACRUZ_TEST_POSTGRES_URL is set
//! (the database it names is used as is, so point it at a scratch database).

#[path = "../tests/common/load.rs"]
mod load;

use std::sync::Arc;

use anyhow::Context;
use veracruz_attestation_service::{init, AttestationService, Config};
use veracruz_policy::Platform;

const MEASUREMENT: [u8; 32] = [0x4d; 32];
const POLICY_HASH: [u8; 32] = [0x50; 32];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let total: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()
        .context("TOTAL")?
        .unwrap_or(500);
    let clients: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()
        .context("CLIENTS")?
        .unwrap_or(50);
    anyhow::ensure!(clients > 0 && total >= clients, "need TOTAL >= CLIENTS > 0");

    let dir = tempfile::tempdir()?;
    let out = init(dir.path())?;
    let mut config = Config::load(&out.config)?;
    let backend = match std::env::var("VERACRUZ_TEST_POSTGRES_URL") {
        Ok(url) => {
            config.database = url;
            "PostgreSQL"
        }
        Err(_) => "SQLite",
    };
    let linux = config
        .platforms
        .get_mut(&Platform::Linux)
        .context("linux section")?;
    linux.allow_insecure = true;
    linux.accepted_measurements = vec![hex::encode(MEASUREMENT)];
    let service = Arc::new(AttestationService::new(config).await?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(veracruz_attestation_service::serve_with_shutdown(
        service,
        listener,
        std::future::pending(),
    ));

    let report = load::run(&base, total, clients, MEASUREMENT, POLICY_HASH).await;
    println!("backend:         {backend}");
    println!("attestations:    {total} from {clients} concurrent clients");
    println!("accepted:        {}", report.latencies.len());
    println!("failed:          {}", report.failures.len());
    println!("elapsed:         {:.2} s", report.elapsed.as_secs_f64());
    println!("attestations/s:  {:.0}", report.per_second());
    println!(
        "latency p50:     {:.1} ms",
        report.percentile(50.0).as_secs_f64() * 1e3
    );
    println!(
        "latency p99:     {:.1} ms",
        report.percentile(99.0).as_secs_f64() * 1e3
    );
    if let Some(e) = report.failures.first() {
        anyhow::bail!("{} attestations failed, first: {e}", report.failures.len());
    }
    Ok(())
}
