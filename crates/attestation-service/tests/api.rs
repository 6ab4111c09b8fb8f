//! The attestation service over real HTTP on loopback, on SQLite and on PostgreSQL: the success
//! path, every refusal (each names its check and leaves an audit row), restarts, the audit API.

mod common;

use std::sync::Arc;

use common::*;
use veracruz_attestation::verify_runtime_chain;
use veracruz_attestation_service::api::{AttestationRequest, AuditEntry};
use veracruz_attestation_service::client::ClientError;
use veracruz_evidence::{Claims, EvidenceError, UnixTime, Verifier};
use veracruz_policy::Platform;

/// Runs each listed case once per database backend.
macro_rules! on_both_databases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Db::Postgres).await
                }
            )*
        }
    };
}

on_both_databases!(
    success_end_to_end,
    unknown_challenge,
    expired_challenge,
    reused_challenge,
    challenge_is_consumed_by_a_refusal,
    concurrent_uses_of_one_challenge,
    bad_csr_signature,
    evidence_for_another_nonce,
    evidence_for_another_key,
    evidence_for_another_policy_hash,
    measurement_not_accepted,
    insecure_platform_not_allowed,
    platform_not_configured,
    real_sev_snp_evidence_is_verified_then_bound,
    malformed_requests,
    debug_and_tcb_policy,
    restart_keeps_challenges_and_audit,
    audit_paging_and_filters,
    health_metrics_and_ca,
);

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Starts a service with the standard test configuration, edited by `edit`.
async fn start(
    db: Db,
    edit: impl FnOnce(&mut veracruz_attestation_service::Config),
) -> Option<(Harness, Database)> {
    let database = Database::create(db).await?;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), &database.url);
    edit(&mut config);
    Some((Harness::start(config, dir).await, database))
}

async fn finish(h: Harness, database: Database) {
    h.stop().await;
    database.drop_database().await;
}

/// Asserts a refusal at `check` and that the audit row it names says the same.
async fn expect_refused<T: std::fmt::Debug>(
    h: &Harness,
    result: Result<T, ClientError>,
    check: &str,
) -> AuditEntry {
    let body = match result {
        Err(ClientError::Refused(body)) => body,
        other => panic!("expected refusal at `{check}`, got {other:?}"),
    };
    assert_eq!(body.check, check, "reason: {}", body.reason);
    assert!(!body.reason.is_empty());
    let id = body.attempt_id.expect("refusal names its audit row");
    let page = h
        .client
        .audit(&format!("after={}&limit=1", id - 1))
        .await
        .unwrap();
    let row = page.attempts.into_iter().next().expect("audit row exists");
    assert_eq!(row.id, id);
    assert_eq!(row.outcome, "refused");
    assert_eq!(row.check.as_deref(), Some(check));
    assert_eq!(row.reason.as_deref(), Some(body.reason.as_str()));
    assert_eq!(row.serial, None);
    row
}

async fn success_end_to_end(db: Db) {
    let Some((h, database)) = start(db, |_| {}).await else {
        return;
    };
    let rt = Runtime::new();
    let ch = h.client.challenge().await.unwrap();
    assert_eq!(ch.nonce.len(), 64);
    assert!(ch.expires_at > now());
    let ev = rt.evidence(&ch.nonce, MEASUREMENT, POLICY_HASH);
    let ok = h
        .client
        .attest(&ch.challenge_id, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
        .await
        .unwrap();

    // The chain verifies against the CA the service publishes and says what was verified.
    let ca_pem = h.client.ca().await.unwrap();
    let ca_der = veracruz_attestation::parse_pem_chain(&ca_pem)
        .unwrap()
        .remove(0);
    let chain = veracruz_attestation::parse_pem_chain(&ok.certificate_chain).unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[1], ca_der);
    let id = verify_runtime_chain(&chain[0], &ca_der, now()).unwrap();
    assert_eq!(id.platform, Platform::Linux);
    assert_eq!(id.measurement, MEASUREMENT.to_vec());
    assert_eq!(id.policy_hash, POLICY_HASH);
    assert_eq!(id.spki_hash, rt.key_hash);
    assert!(!id.debug);
    assert_eq!(hex::encode(&id.serial), ok.serial);
    assert_eq!(id.not_after, ok.not_after);
    assert!((ok.not_after - now() - 3600).abs() <= 5);

    let page = h
        .client
        .audit(&format!("after={}", ok.attempt_id - 1))
        .await
        .unwrap();
    let row = &page.attempts[0];
    assert_eq!(row.outcome, "accepted");
    assert_eq!(row.platform.as_deref(), Some("linux"));
    assert_eq!(
        row.measurement.as_deref(),
        Some(hex::encode(MEASUREMENT).as_str())
    );
    assert_eq!(
        row.policy_hash.as_deref(),
        Some(hex::encode(POLICY_HASH).as_str())
    );
    assert_eq!(
        row.key_hash.as_deref(),
        Some(hex::encode(rt.key_hash).as_str())
    );
    assert_eq!(row.serial.as_deref(), Some(ok.serial.as_str()));
    assert_eq!(row.challenge_id.as_deref(), Some(ch.challenge_id.as_str()));
    assert_eq!(row.check, None);
    finish(h, database).await;
}

async fn unknown_challenge(db: Db) {
    let Some((h, database)) = start(db, |_| {}).await else {
        return;
    };
    let rt = Runtime::new();
    let real = h.client.challenge().await.unwrap();
    let ev = rt.evidence(&real.nonce, MEASUREMENT, POLICY_HASH);
    let made_up = hex::encode(rand_bytes::<16>());
    let r = h
        .client
        .attest(&made_up, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
        .await;
    let row = expect_refused(&h, r, "challenge_unknown").await;
    assert_eq!(row.challenge_id.as_deref(), Some(made_up.as_str()));
    for bogus in ["", "not-hex", "' OR 1=1 --"] {
        let r = h
            .client
            .attest(bogus, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
            .await;
        let row = expect_refused(&h, r, "challenge_unknown").await;
        assert_eq!(
            row.challenge_id.as_deref(),
            (!bogus.is_empty()).then_some(bogus)
        );
    }
    // None of that spent the real challenge.
    h.client
        .attest(&real.challenge_id, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
        .await
        .unwrap();
    finish(h, database).await;
}

async fn expired_challenge(db: Db) {
    let Some((h, database)) = start(db, |c| c.challenge_lifetime_secs = 1).await else {
        return;
    };
    let rt = Runtime::new();
    let ch = h.client.challenge().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let ev = rt.evidence(&ch.nonce, MEASUREMENT, POLICY_HASH);
    let r = h
        .client
        .attest(&ch.challenge_id, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
        .await;
    expect_refused(&h, r, "challenge_expired").await;
    // Expired is consumed too.
    let r = h
        .client
        .attest(&ch.challenge_id, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
        .await;
    expect_refused(&h, r, "challenge_used").await;
    finish(h, database).await;
}

async fn reused_challenge(db: Db) {
    let Some((h, database)) = start(db, |_| {}).await else {
        return;
    };
    let rt = Runtime::new();
    let ch = h.client.challenge().await.unwrap();
    let ev = rt.evidence(&ch.nonce, MEASUREMENT, POLICY_HASH);
    h.client
        .attest(&ch.challenge_id, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
        .await
        .unwrap();
    let r = h
        .client
        .attest(&ch.challenge_id, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
        .await;
    expect_refused(&h, r, "challenge_used").await;
    finish(h, database).await;
}

async fn challenge_is_consumed_by_a_refusal(db: Db) {
    let Some((h, database)) = start(db, |_| {}).await else {
        return;
    };
    let rt = Runtime::new();
    let ch = h.client.challenge().await.unwrap();
    let wrong = rt.evidence(&ch.nonce, [0x11; 32], POLICY_HASH);
    let r = h
        .client
        .attest(&ch.challenge_id, "linux", &wrong, &rt.csr_pem, &POLICY_HASH)
        .await;
    expect_refused(&h, r, "measurement").await;
    let right = rt.evidence(&ch.nonce, MEASUREMENT, POLICY_HASH);
    let r = h
        .client
        .attest(&ch.challenge_id, "linux", &right, &rt.csr_pem, &POLICY_HASH)
        .await;
    expect_refused(&h, r, "challenge_used").await;
    finish(h, database).await;
}

async fn concurrent_uses_of_one_challenge(db: Db) {
    let Some((h, database)) = start(db, |_| {}).await else {
        return;
    };
    let rt = Arc::new(Runtime::new());
    let ch = h.client.challenge().await.unwrap();
    let ev = rt.evidence(&ch.nonce, MEASUREMENT, POLICY_HASH);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (client, id, ev, rt) = (
            h.client.clone(),
            ch.challenge_id.clone(),
            ev.clone(),
            rt.clone(),
        );
        tasks.push(tokio::spawn(async move {
            client
                .attest(&id, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
                .await
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(ClientError::Refused(b)) => assert_eq!(b.check, "challenge_used"),
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(accepted, 1, "exactly one use of a challenge may succeed");
    let page = h.client.audit("limit=100").await.unwrap();
    assert_eq!(page.attempts.len(), 16);
    assert_eq!(
        page.attempts
            .iter()
            .filter(|a| a.outcome == "accepted")
            .count(),
        1
    );
    finish(h, database).await;
}

async fn bad_csr_signature(db: Db) {
    let Some((h, database)) = start(db, |_| {}).await else {
        return;
    };
    let rt = Runtime::new();
    let other = Runtime::new();
    // Rt's CSR with other's public key put in: the self-signature no longer verifies.
    let der = pem::parse(&rt.csr_pem).unwrap().into_contents();
    let (a, b) = (rt.key.public_key_der(), other.key.public_key_der());
    let pos = der.windows(a.len()).position(|w| w == a).unwrap();
    let mut forged = der.clone();
    forged[pos..pos + a.len()].copy_from_slice(&b);
    let forged_pem = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", forged));
    let ch = h.client.challenge().await.unwrap();
    let ev = other.evidence(&ch.nonce, MEASUREMENT, POLICY_HASH);
    let r = h
        .client
        .attest(&ch.challenge_id, "linux", &ev, &forged_pem, &POLICY_HASH)
        .await;
    let row = expect_refused(&h, r, "csr_signature").await;
    assert_eq!(
        row.key_hash, None,
        "an unverified key is not recorded as the attested key"
    );

    let ch = h.client.challenge().await.unwrap();
    let r = h
        .client
        .attest(
            &ch.challenge_id,
            "linux",
            &ev,
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            &POLICY_HASH,
        )
        .await;
    expect_refused(&h, r, "csr_invalid").await;
    finish(h, database).await;
}

async fn evidence_for_another_nonce(db: Db) {
    let Some((h, database)) = start(db, |_| {}).await else {
        return;
    };
    let rt = Runtime::new();
    let ch = h.client.challenge().await.unwrap();
    let other = h.client.challenge().await.unwrap();
    let ev = rt.evidence(&other.nonce, MEASUREMENT, POLICY_HASH);
    let r = h
        .client
        .attest(&ch.challenge_id, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
        .await;
    let row = expect_refused(&h, r, "binding").await;
    // What the evidence claimed is still recorded.
    assert_eq!(
        row.measurement.as_deref(),
        Some(hex::encode(MEASUREMENT).as_str())
    );
    assert_eq!(
        row.key_hash.as_deref(),
        Some(hex::encode(rt.key_hash).as_str())
    );
    finish(h, database).await;
}

async fn evidence_for_another_key(db: Db) {
    let Some((h, database)) = start(db, |_| {}).await else {
        return;
    };
    let rt = Runtime::new();
    let other = Runtime::new();
    let ch = h.client.challenge().await.unwrap();
    // Evidence bound to another key, presented with this runtime's (valid) CSR.
    let ev = other.evidence(&ch.nonce, MEASUREMENT, POLICY_HASH);
    let r = h
        .client
        .attest(&ch.challenge_id, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
        .await;
    expect_refused(&h, r, "binding").await;
    finish(h, database).await;
}

async fn evidence_for_another_policy_hash(db: Db) {
    let Some((h, database)) = start(db, |_| {}).await else {
        return;
    };
    let rt = Runtime::new();
    let ch = h.client.challenge().await.unwrap();
    let ev = rt.evidence(&ch.nonce, MEASUREMENT, [0x99; 32]);
    let r = h
        .client
        .attest(&ch.challenge_id, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
        .await;
    let row = expect_refused(&h, r, "binding").await;
    assert_eq!(
        row.policy_hash.as_deref(),
        Some(hex::encode(POLICY_HASH).as_str())
    );
    finish(h, database).await;
}

async fn measurement_not_accepted(db: Db) {
    let Some((h, database)) = start(db, |_| {}).await else {
        return;
    };
    let rt = Runtime::new();
    let ch = h.client.challenge().await.unwrap();
    let ev = rt.evidence(&ch.nonce, [0x11; 32], POLICY_HASH);
    let r = h
        .client
        .attest(&ch.challenge_id, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
        .await;
    let row = expect_refused(&h, r, "measurement").await;
    assert_eq!(
        row.measurement.as_deref(),
        Some(hex::encode([0x11; 32]).as_str())
    );
    finish(h, database).await;
}

async fn insecure_platform_not_allowed(db: Db) {
    let Some((h, database)) = start(db, |c| {
        c.platforms
            .get_mut(&Platform::Linux)
            .unwrap()
            .allow_insecure = false;
    })
    .await
    else {
        return;
    };
    let rt = Runtime::new();
    let ch = h.client.challenge().await.unwrap();
    let ev = rt.evidence(&ch.nonce, MEASUREMENT, POLICY_HASH);
    let r = h
        .client
        .attest(&ch.challenge_id, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
        .await;
    let row = expect_refused(&h, r, "platform_insecure").await;
    assert_eq!(row.platform.as_deref(), Some("linux"));
    finish(h, database).await;
}

async fn platform_not_configured(db: Db) {
    let Some((h, database)) = start(db, |c| {
        c.platforms.insert(Platform::Tdx, Default::default());
    })
    .await
    else {
        return;
    };
    let rt = Runtime::new();
    for (platform, check) in [
        ("sev-snp", "platform_not_accepted"),
        ("vax", "platform_not_accepted"),
        ("", "platform_not_accepted"),
        // Configured: the real DCAP verifier refuses linux-format bytes as a quote.
        ("tdx", "evidence"),
    ] {
        let ch = h.client.challenge().await.unwrap();
        let ev = rt.evidence(&ch.nonce, MEASUREMENT, POLICY_HASH);
        let r = h
            .client
            .attest(&ch.challenge_id, platform, &ev, &rt.csr_pem, &POLICY_HASH)
            .await;
        expect_refused(&h, r, check).await;
    }
    finish(h, database).await;
}

async fn malformed_requests(db: Db) {
    let Some((h, database)) = start(db, |_| {}).await else {
        return;
    };
    let rt = Runtime::new();
    let http = reqwest::Client::new();
    let url = format!("{}/v1/attestations", h.base);

    // Not JSON: refused before any challenge is known, still audited.
    let resp = http.post(&url).body("{not json").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: veracruz_attestation_service::api::ErrorBody = resp.json().await.unwrap();
    assert_eq!(body.check, "request");
    assert!(body.attempt_id.is_some());

    // A bad field after a valid challenge: the challenge is spent.
    let ch = h.client.challenge().await.unwrap();
    let req = AttestationRequest {
        challenge_id: ch.challenge_id.clone(),
        platform: "linux".into(),
        evidence: "!!!not base64".into(),
        csr: rt.csr_pem.clone(),
        policy_hash: hex::encode(POLICY_HASH),
    };
    let r = h.client.attest_raw(&req).await;
    expect_refused(&h, r, "request").await;
    let r = h.client.attest_raw(&req).await;
    expect_refused(&h, r, "challenge_used").await;

    let ch = h.client.challenge().await.unwrap();
    let req = AttestationRequest {
        policy_hash: "abcd".into(),
        challenge_id: ch.challenge_id,
        ..req
    };
    let r = h.client.attest_raw(&req).await;
    expect_refused(&h, r, "request").await;

    // Evidence the linux verifier cannot parse.
    let ch = h.client.challenge().await.unwrap();
    let r = h
        .client
        .attest(
            &ch.challenge_id,
            "linux",
            b"short",
            &rt.csr_pem,
            &POLICY_HASH,
        )
        .await;
    expect_refused(&h, r, "evidence").await;

    // Refusals answer 403 with the check in the body.
    let ch = h.client.challenge().await.unwrap();
    let resp = http
        .post(&url)
        .json(&AttestationRequest {
            challenge_id: ch.challenge_id,
            platform: "linux".into(),
            evidence: String::new(),
            csr: "x".into(),
            policy_hash: hex::encode(POLICY_HASH),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // Oversized bodies never reach the pipeline.
    let resp = http
        .post(&url)
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    finish(h, database).await;
}

/// Stands in for a hardware verifier (those live in the evidence crate) so that the service's
/// debug and TCB policy, which is the same whatever signs the evidence, can be exercised.
/// Evidence: 48-byte measurement, 64-byte report data, debug byte, TCB status text.
struct TestTeeVerifier;

impl Verifier for TestTeeVerifier {
    fn platform(&self) -> Platform {
        Platform::SevSnp
    }
    fn verify(&self, evidence: &[u8], _now: UnixTime) -> Result<Claims, EvidenceError> {
        if evidence.len() < 113 {
            return Err(EvidenceError::Malformed("too short".into()));
        }
        let tcb = std::str::from_utf8(&evidence[113..])
            .map_err(|e| EvidenceError::Malformed(e.to_string()))?;
        Ok(Claims {
            platform: Platform::SevSnp,
            measurement: evidence[..48].to_vec(),
            report_data: evidence[48..112].to_vec(),
            debug: evidence[112] != 0,
            tcb_status: (!tcb.is_empty()).then(|| tcb.to_string()),
            details: vec![],
        })
    }
}

async fn debug_and_tcb_policy(db: Db) {
    let Some(database) = Database::create(db).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), &database.url);
    config.platforms.insert(
        Platform::SevSnp,
        veracruz_attestation_service::PlatformConfig {
            accepted_measurements: vec![hex::encode([0x33; 48])],
            allow_insecure: false,
            allow_debug: false,
            accepted_tcb_status: Some(vec!["UpToDate".into()]),
        },
    );
    let h = Harness::start_with(config, dir, vec![Arc::new(TestTeeVerifier)]).await;
    let rt = Runtime::new();
    let attempt = |debug: bool, tcb: &'static str| {
        let (h, rt) = (&h, &rt);
        async move {
            let ch = h.client.challenge().await.unwrap();
            let nonce: [u8; 32] = hex::decode(&ch.nonce).unwrap().try_into().unwrap();
            let binding = veracruz_evidence::Binding {
                nonce,
                key_hash: rt.key_hash,
                policy_hash: POLICY_HASH,
            };
            let ev = [
                &[0x33; 48][..],
                &binding.report_data(),
                &[u8::from(debug)],
                tcb.as_bytes(),
            ]
            .concat();
            h.client
                .attest(&ch.challenge_id, "sev-snp", &ev, &rt.csr_pem, &POLICY_HASH)
                .await
        }
    };
    let ok = attempt(false, "UpToDate").await.unwrap();
    let chain = veracruz_attestation::parse_pem_chain(&ok.certificate_chain).unwrap();
    let id = veracruz_attestation::parse_runtime_certificate(&chain[0]).unwrap();
    assert_eq!(id.platform, Platform::SevSnp);
    assert_eq!(id.measurement, vec![0x33; 48]);
    assert_eq!(id.tcb_status.as_deref(), Some("UpToDate"));

    let row = expect_refused(&h, attempt(true, "UpToDate").await, "debug").await;
    assert_eq!(row.debug, Some(true));
    let row = expect_refused(&h, attempt(false, "OutOfDate").await, "tcb").await;
    assert_eq!(row.tcb_status.as_deref(), Some("OutOfDate"));
    expect_refused(&h, attempt(false, "").await, "tcb").await;
    finish(h, database).await;
}

async fn restart_keeps_challenges_and_audit(db: Db) {
    let Some((h, database)) = start(db, |_| {}).await else {
        return;
    };
    let rt = Runtime::new();
    let early = h.client.challenge().await.unwrap();
    let pending = h.client.challenge().await.unwrap();
    let ev = rt.evidence(&early.nonce, MEASUREMENT, POLICY_HASH);
    let first = h
        .client
        .attest(&early.challenge_id, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
        .await
        .unwrap();
    let (config, dir) = h.stop().await;

    let h = Harness::start(config, dir).await;
    // The audit row written before the restart is still there.
    let page = h.client.audit("limit=10").await.unwrap();
    assert_eq!(page.attempts.len(), 1);
    assert_eq!(
        page.attempts[0].serial.as_deref(),
        Some(first.serial.as_str())
    );
    // A nonce issued before the restart works, once.
    let ev = rt.evidence(&pending.nonce, MEASUREMENT, POLICY_HASH);
    h.client
        .attest(
            &pending.challenge_id,
            "linux",
            &ev,
            &rt.csr_pem,
            &POLICY_HASH,
        )
        .await
        .unwrap();
    let r = h
        .client
        .attest(
            &pending.challenge_id,
            "linux",
            &ev,
            &rt.csr_pem,
            &POLICY_HASH,
        )
        .await;
    expect_refused(&h, r, "challenge_used").await;
    // So does the one used before the restart: still used.
    let r = h
        .client
        .attest(&early.challenge_id, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
        .await;
    expect_refused(&h, r, "challenge_used").await;
    finish(h, database).await;
}

async fn audit_paging_and_filters(db: Db) {
    let Some((h, database)) = start(db, |_| {}).await else {
        return;
    };
    let rt = Runtime::new();
    for i in 0..5 {
        let ch = h.client.challenge().await.unwrap();
        let m = if i % 2 == 0 { MEASUREMENT } else { [0x11; 32] };
        let ev = rt.evidence(&ch.nonce, m, POLICY_HASH);
        let _ = h
            .client
            .attest(&ch.challenge_id, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
            .await;
    }
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = h
            .client
            .audit(&format!("after={after}&limit=2"))
            .await
            .unwrap();
        assert!(page.attempts.len() <= 2);
        seen.extend(page.attempts.iter().map(|a| a.id));
        match page.next_after {
            Some(n) => after = n,
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    let accepted = h.client.audit("outcome=accepted").await.unwrap();
    assert_eq!(accepted.attempts.len(), 3);
    let refused = h.client.audit("outcome=refused").await.unwrap();
    assert_eq!(refused.attempts.len(), 2);
    assert!(refused
        .attempts
        .iter()
        .all(|a| a.check.as_deref() == Some("measurement")));
    assert_eq!(
        h.client
            .audit("platform=sev-snp")
            .await
            .unwrap()
            .attempts
            .len(),
        0
    );
    for bad in [
        "limit=0",
        "limit=5000",
        "outcome=maybe",
        "after=x",
        "bogus=1",
    ] {
        match h.client.audit(bad).await {
            Err(ClientError::Refused(b)) => assert_eq!(b.check, "request", "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    finish(h, database).await;
}

async fn health_metrics_and_ca(db: Db) {
    let Some((h, database)) = start(db, |_| {}).await else {
        return;
    };
    let http = reqwest::Client::new();
    let resp = http
        .get(format!("{}/healthz", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let rt = Runtime::new();
    let ch = h.client.challenge().await.unwrap();
    let ev = rt.evidence(&ch.nonce, [0x11; 32], POLICY_HASH);
    let _ = h
        .client
        .attest(&ch.challenge_id, "linux", &ev, &rt.csr_pem, &POLICY_HASH)
        .await;
    let text = http
        .get(format!("{}/metrics", h.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("veracruz_attestation_challenges_total 1\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "veracruz_attestation_attempts_total{outcome=\"refused\",check=\"measurement\"} 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("veracruz_attestation_duration_seconds_count 1\n"),
        "{text}"
    );
    let ca = h.client.ca().await.unwrap();
    assert_eq!(ca, h.service.ca_certificate_pem());
    finish(h, database).await;
}

fn vector(path: &str) -> Vec<u8> {
    let full = format!(
        "{}/../../testdata/vectors/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A real, published SEV-SNP report (virtee/sev test data) with its VCEK goes through the real
/// AMD verifier: signature and chain verify against the built-in AMD roots, the measurement is
/// recorded, and the report is refused at the binding, since it was not made for our nonce.
async fn real_sev_snp_evidence_is_verified_then_bound(db: Db) {
    let Some((h, database)) = start(db, |c| {
        c.platforms.insert(Platform::SevSnp, Default::default());
    })
    .await
    else {
        return;
    };
    let rt = Runtime::new();
    let report_hex = String::from_utf8(vector("sev-snp/virtee_report_milan.hex")).unwrap();
    let report = hex::decode(report_hex.trim()).unwrap();
    let vcek = vector("sev-snp/virtee_vcek_milan.der");
    let evidence = veracruz_evidence::snp::SnpEvidence::new(&report, &vcek, None).to_bytes();

    let ch = h.client.challenge().await.unwrap();
    let r = h
        .client
        .attest(
            &ch.challenge_id,
            "sev-snp",
            &evidence,
            &rt.csr_pem,
            &POLICY_HASH,
        )
        .await;
    let row = expect_refused(&h, r, "binding").await;
    let measurement = row.measurement.expect("verified measurement recorded");
    assert_eq!(measurement.len(), 96, "48-byte SEV-SNP launch measurement");
    // The report's MEASUREMENT field sits at offset 0x90.
    assert_eq!(measurement, hex::encode(&report[0x90..0xc0]));

    // One flipped bit in the signed part: the AMD signature no longer verifies.
    let mut tampered = report.clone();
    tampered[0x90] ^= 1;
    let evidence = veracruz_evidence::snp::SnpEvidence::new(&tampered, &vcek, None).to_bytes();
    let ch = h.client.challenge().await.unwrap();
    let r = h
        .client
        .attest(
            &ch.challenge_id,
            "sev-snp",
            &evidence,
            &rt.csr_pem,
            &POLICY_HASH,
        )
        .await;
    let row = expect_refused(&h, r, "evidence").await;
    assert_eq!(row.measurement, None);
    finish(h, database).await;
}
