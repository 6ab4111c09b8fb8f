//! A bounded load generator: `total` attestations from `clients` concurrent simulated runtimes,
//! each a fresh key and CSR, over real HTTP. Shared by the load test and the `load` example.

use std::time::{Duration, Instant};

use veracruz_attestation::linux::encode_evidence;
use veracruz_attestation::{create_csr_pem, key_hash};
use veracruz_attestation_service::client::{Client, ClientError};
use veracruz_evidence::Binding;

pub struct LoadReport {
    pub elapsed: Duration,
    /// One per accepted attestation: challenge plus attestation round trips.
    pub latencies: Vec<Duration>,
    pub serials: Vec<String>,
    pub failures: Vec<String>,
}

impl LoadReport {
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p`th percentile (nearest rank) of the latencies.
    pub fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }
}

pub async fn run(
    base: &str,
    total: usize,
    clients: usize,
    measurement: [u8; 32],
    policy_hash: [u8; 32],
) -> LoadReport {
    // Keys and CSRs are made before the clock starts: they are the runtime's cost, not the
    // service's.
    let per_client: Vec<Vec<(String, [u8; 32])>> = (0..clients)
        .map(|c| {
            (0..total / clients + usize::from(c < total % clients))
                .map(|_| {
                    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
                    (
                        create_csr_pem(&key).unwrap(),
                        key_hash(&key.public_key_der()),
                    )
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for runtimes in per_client {
        let client = Client::new(base).unwrap();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for (csr, key_hash) in runtimes {
                let t = Instant::now();
                let result: Result<String, ClientError> = async {
                    let ch = client.challenge().await?;
                    let nonce: [u8; 32] = hex::decode(&ch.nonce).unwrap().try_into().unwrap();
                    let ev = encode_evidence(
                        &measurement,
                        &Binding {
                            nonce,
                            key_hash,
                            policy_hash,
                        },
                    );
                    let ok = client
                        .attest(&ch.challenge_id, "linux", &ev, &csr, &policy_hash)
                        .await?;
                    Ok(ok.serial)
                }
                .await;
                out.push((t.elapsed(), result.map_err(|e| e.to_string())));
            }
            out
        }));
    }
    let mut report = LoadReport {
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        serials: Vec::new(),
        failures: Vec::new(),
    };
    for task in tasks {
        for (latency, result) in task.await.unwrap() {
            match result {
                Ok(serial) => {
                    report.latencies.push(latency);
                    report.serials.push(serial);
                }
                Err(e) => report.failures.push(e),
            }
        }
    }
    report.elapsed = started.elapsed();
    report
}
