//! Test harness: an attestation service on 127.0.0.1:0 over SQLite or PostgreSQL, and a
//! simulated `linux` runtime that makes real keys, CSRs and evidence.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

use std::sync::Arc;

use sqlx::Connection;
use veracruz_attestation::linux::encode_evidence;
use veracruz_attestation::{create_csr_pem, key_hash};
use veracruz_attestation_service::client::Client;
use veracruz_attestation_service::{init, AttestationService, Config};
use veracruz_evidence::{Binding, Verifier};

pub const MEASUREMENT: [u8; 32] = [0x4d; 32];
pub const POLICY_HASH: [u8; 32] = [0x50; 32];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Where the database of one harness lives, so a restarted service can reopen it.
pub struct Database {
    pub url: String,
    pg: Option<(String, String)>, // (admin URL, database name) to drop at the end
    _dir: Option<tempfile::TempDir>,
}

impl Database {
    /// A fresh, empty database, or `None` (after saying so) when PostgreSQL is not configured.
    pub async fn create(db: Db) -> Option<Database> {
        match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                Some(Database {
                    url: dir
                        .path()
                        .join("audit")
                        .join("attestation.db")
                        .display()
                        .to_string(),
                    pg: None,
                    _dir: Some(dir),
                })
            }
            Db::Postgres => {
                let Ok(admin) = std::env::var("VERACRUZ_TEST_POSTGRES_URL") else {
                    eprintln!(
                        "SKIPPED: PostgreSQL variant of this test (VERACRUZ_TEST_POSTGRES_URL is not set; \
                         `scripts/postgres.sh` starts a server and prints one)"
                    );
                    return None;
                };
                let name = format!("vt_{}", hex::encode(rand_bytes::<8>()));
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("connect to VERACRUZ_TEST_POSTGRES_URL");
                sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                conn.close().await.ok();
                let base = admin.rsplit_once('/').expect("URL has a database").0;
                Some(Database {
                    url: format!("{base}/{name}"),
                    pg: Some((admin, name)),
                    _dir: None,
                })
            }
        }
    }

    pub async fn drop_database(self) {
        if let Some((admin, name)) = &self.pg {
            if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        }
    }
}

pub fn rand_bytes<const N: usize>() -> [u8; N] {
    use ring::rand::SecureRandom;
    let mut b = [0u8; N];
    ring::rand::SystemRandom::new().fill(&mut b).unwrap();
    b
}

/// A running service.
pub struct Harness {
    pub client: Client,
    pub base: String,
    pub service: Arc<AttestationService>,
    pub config: Config,
    pub config_dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The configuration tests start from: `linux` allowed as insecure, one accepted measurement.
pub fn test_config(dir: &std::path::Path, database: &str) -> Config {
    let out = init(dir).unwrap();
    let mut config = Config::load(&out.config).unwrap();
    config.database = database.to_string();
    let linux = config
        .platforms
        .get_mut(&veracruz_policy::Platform::Linux)
        .unwrap();
    linux.allow_insecure = true;
    linux.accepted_measurements = vec![hex::encode(MEASUREMENT)];
    config
}

impl Harness {
    pub async fn start(config: Config, config_dir: tempfile::TempDir) -> Harness {
        Self::start_with(config, config_dir, Vec::new()).await
    }

    pub async fn start_with(
        config: Config,
        config_dir: tempfile::TempDir,
        verifiers: Vec<Arc<dyn Verifier>>,
    ) -> Harness {
        let mut service = AttestationService::new(config.clone()).await.unwrap();
        for v in verifiers {
            service = service.with_verifier(v);
        }
        let service = Arc::new(service);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn({
            let service = service.clone();
            async move {
                veracruz_attestation_service::serve_with_shutdown(service, listener, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            }
        });
        Harness {
            client: Client::new(&base).unwrap(),
            base,
            service,
            config,
            config_dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops serving and closes the database, as a process exit would.
    pub async fn stop(mut self) -> (Config, tempfile::TempDir) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        self.service.store().close().await;
        (self.config, self.config_dir)
    }
}

/// A simulated runtime: a P-256 key, its CSR, and `linux` evidence made on demand.
pub struct Runtime {
    pub key: rcgen::KeyPair,
    pub csr_pem: String,
    pub key_hash: [u8; 32],
}

impl Runtime {
    pub fn new() -> Runtime {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let csr_pem = create_csr_pem(&key).unwrap();
        let key_hash = key_hash(&key.public_key_der());
        Runtime {
            key,
            csr_pem,
            key_hash,
        }
    }

    pub fn evidence(
        &self,
        nonce_hex: &str,
        measurement: [u8; 32],
        policy_hash: [u8; 32],
    ) -> Vec<u8> {
        let nonce: [u8; 32] = hex::decode(nonce_hex).unwrap().try_into().unwrap();
        encode_evidence(
            &measurement,
            &Binding {
                nonce,
                key_hash: self.key_hash,
                policy_hash,
            },
        )
    }
}
