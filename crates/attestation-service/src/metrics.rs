//! Prometheus text exposition, kept by hand: a few counters and one latency histogram.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::check::Check;

/// Upper bounds of the attestation latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
pub(crate) struct Metrics {
    challenges: AtomicU64,
    accepted: AtomicU64,
    refused: [AtomicU64; Check::ALL.len()],
    buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_micros: AtomicU64,
}

impl Metrics {
    pub fn challenge_issued(&self) {
        self.challenges.fetch_add(1, Ordering::Relaxed);
    }

    pub fn attestation(&self, refused: Option<Check>, elapsed: Duration) {
        match refused {
            None => self.accepted.fetch_add(1, Ordering::Relaxed),
            Some(check) => {
                let i = Check::ALL.iter().position(|c| *c == check).unwrap_or(0);
                self.refused[i].fetch_add(1, Ordering::Relaxed)
            }
        };
        let secs = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "# HELP veracruz_attestation_challenges_total Challenges issued."
        );
        let _ = writeln!(out, "# TYPE veracruz_attestation_challenges_total counter");
        let _ = writeln!(
            out,
            "veracruz_attestation_challenges_total {}",
            get(&self.challenges)
        );
        let _ = writeln!(out, "# HELP veracruz_attestation_attempts_total Attestation attempts by outcome and failed check.");
        let _ = writeln!(out, "# TYPE veracruz_attestation_attempts_total counter");
        let _ = writeln!(
            out,
            "veracruz_attestation_attempts_total{{outcome=\"accepted\",check=\"\"}} {}",
            get(&self.accepted)
        );
        for (check, n) in Check::ALL.iter().zip(&self.refused) {
            let _ = writeln!(
                out,
                "veracruz_attestation_attempts_total{{outcome=\"refused\",check=\"{check}\"}} {}",
                get(n)
            );
        }
        let _ = writeln!(
            out,
            "# HELP veracruz_attestation_duration_seconds Time to answer POST /v1/attestations."
        );
        let _ = writeln!(
            out,
            "# TYPE veracruz_attestation_duration_seconds histogram"
        );
        for (bound, n) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "veracruz_attestation_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                get(n)
            );
        }
        let count = get(&self.latency_count);
        let _ = writeln!(
            out,
            "veracruz_attestation_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "veracruz_attestation_duration_seconds_sum {}",
            get(&self.latency_micros) as f64 / 1e6
        );
        let _ = writeln!(out, "veracruz_attestation_duration_seconds_count {count}");
        out
    }
}
