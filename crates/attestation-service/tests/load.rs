//! Bounded load on loopback: 500 attestations from 50 concurrent clients are all answered, and
//! every one is in the audit record. Figures: `cargo run --release -p
//! veracruz-attestation-service --example load`.

mod common;
#[path = "common/load.rs"]
mod load;

use std::collections::HashSet;

use common::*;

const TOTAL: usize = 500;
const CLIENTS: usize = 50;

async fn load_is_complete(db: Db) {
    let Some(database) = Database::create(db).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), &database.url);
    let h = Harness::start(config, dir).await;

    let report = load::run(&h.base, TOTAL, CLIENTS, MEASUREMENT, POLICY_HASH).await;
    assert!(
        report.failures.is_empty(),
        "failures: {:?}",
        &report.failures[..report.failures.len().min(5)]
    );
    assert_eq!(report.serials.len(), TOTAL);
    eprintln!(
        "{db:?}: {TOTAL} attestations, {CLIENTS} clients: {:.0}/s, p50 {:?}, p99 {:?}",
        report.per_second(),
        report.percentile(50.0),
        report.percentile(99.0)
    );

    // Every issued serial has its accepted audit row, and nothing else was recorded.
    let mut audited = HashSet::new();
    let mut after = 0;
    loop {
        let page = h
            .client
            .audit(&format!("after={after}&limit=1000"))
            .await
            .unwrap();
        for a in &page.attempts {
            assert_eq!(a.outcome, "accepted", "{a:?}");
            assert!(
                audited.insert(a.serial.clone().unwrap()),
                "duplicate serial"
            );
        }
        match page.next_after {
            Some(n) => after = n,
            None => break,
        }
    }
    let issued: HashSet<String> = report.serials.into_iter().collect();
    assert_eq!(issued.len(), TOTAL, "serials are unique");
    assert_eq!(audited, issued);
    assert_eq!(
        h.service.store().count_attempts(Some(true)).await.unwrap(),
        TOTAL as i64
    );
    assert_eq!(
        h.service.store().count_attempts(None).await.unwrap(),
        TOTAL as i64
    );
    h.stop().await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_500_attestations_50_clients_none_lost() {
    load_is_complete(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_500_attestations_50_clients_none_lost() {
    load_is_complete(Db::Postgres).await;
}
