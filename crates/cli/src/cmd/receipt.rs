//! `veracruz receipt`: offline verification of the receipts runtimes sign after each run.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use veracruz_client::{
    decode_receipt, verify_receipt_with, RuntimeRequirements, VerifiedReceipt, MAX_RECEIPT_BYTES,
};
use veracruz_policy::Policy;

#[derive(Subcommand)]
pub enum ReceiptCommand {
    /// Verify a receipt (as saved by `veracruz client --receipt`) against a policy: the
    /// runtime's certificate chain up to the policy's attestation CA, its platform,
    /// measurement and policy hash, the signature, and the policy hash in the body.
    Verify {
        /// The policy the receipt must be for.
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// The receipt file.
        receipt: PathBuf,
        /// Accept a receipt signed by a runtime in a debug mode its host can inspect.
        #[arg(long)]
        allow_debug_runtime: bool,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: ReceiptCommand) -> Result<ExitCode> {
    match cmd {
        ReceiptCommand::Verify {
            policy,
            receipt,
            allow_debug_runtime,
            json,
        } => verify(&policy, &receipt, allow_debug_runtime, json),
    }
}

fn verify(
    policy_path: &PathBuf,
    receipt_path: &PathBuf,
    allow_debug: bool,
    as_json: bool,
) -> Result<ExitCode> {
    let policy_bytes = fs::read(policy_path)
        .with_context(|| format!("reading the policy {}", policy_path.display()))?;
    let policy = Policy::from_bytes(&policy_bytes)
        .with_context(|| format!("the policy {} is not valid", policy_path.display()))?;
    let size = fs::metadata(receipt_path)
        .with_context(|| format!("reading {}", receipt_path.display()))?
        .len();
    if size > MAX_RECEIPT_BYTES as u64 {
        anyhow::bail!(
            "{} is {size} bytes, more than a receipt can be ({MAX_RECEIPT_BYTES})",
            receipt_path.display()
        );
    }
    let bytes =
        fs::read(receipt_path).with_context(|| format!("reading {}", receipt_path.display()))?;
    let requirements = RuntimeRequirements::from_policy(&policy)
        .context("the policy's attestation CA is unusable")?
        .allow_debug(allow_debug);
    let outcome =
        decode_receipt(&bytes).and_then(|r| verify_receipt_with(&r, &requirements, now()));
    match outcome {
        Ok(v) => {
            if as_json {
                let doc = json!({"verified": true, "policy_hash": policy.hash_hex(),
                                 "receipt": receipt_json(&v)});
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                let mut out = io::stdout().lock();
                writeln!(
                    out,
                    "receipt {} VERIFIED for policy {}",
                    receipt_path.display(),
                    policy.hash_hex()
                )?;
                write_receipt_human(&mut out, &v, "  ")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if as_json {
                let doc = json!({"verified": false, "policy_hash": policy.hash_hex(),
                                 "error": e.to_string()});
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                eprintln!(
                    "receipt {} does NOT verify: {}",
                    receipt_path.display(),
                    escape(&e.to_string())
                );
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Makes text from the runtime safe to print on a terminal: control characters (which could
/// move the cursor or rewrite earlier lines) are shown escaped.
pub fn escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds (proleptic Gregorian, UTC).
pub fn unix_time(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn digests_json(d: &[veracruz_client::v1::FileDigest]) -> Value {
    Value::Array(
        d.iter()
            .map(|d| json!({"path": d.path, "sha256": hex::encode(&d.sha256)}))
            .collect(),
    )
}

pub fn receipt_json(v: &VerifiedReceipt) -> Value {
    let b = &v.body;
    json!({
        "policy_hash": hex::encode(&b.policy_hash),
        "round": b.round,
        "pipeline": if b.pipeline.is_empty() { Value::Null } else { json!(b.pipeline) },
        "programs": digests_json(&b.programs),
        "inputs": digests_json(&b.inputs),
        "outputs": digests_json(&b.outputs),
        "exit_code": b.exit_code,
        "finished_at": b.finished_at,
        "runtime": super::client::runtime_json(&v.runtime),
    })
}

pub fn write_receipt_human(
    out: &mut impl Write,
    v: &VerifiedReceipt,
    indent: &str,
) -> io::Result<()> {
    let b = &v.body;
    writeln!(out, "{indent}policy hash  {}", hex::encode(&b.policy_hash))?;
    writeln!(out, "{indent}round        {}", b.round)?;
    if !b.pipeline.is_empty() {
        writeln!(out, "{indent}pipeline     {}", escape(&b.pipeline))?;
    }
    for (label, list) in [
        ("program", &b.programs),
        ("input", &b.inputs),
        ("output", &b.outputs),
    ] {
        if list.is_empty() {
            writeln!(out, "{indent}{label:<12} (none)")?;
        }
        for d in list {
            writeln!(
                out,
                "{indent}{label:<12} {} sha256 {}",
                escape(&d.path),
                hex::encode(&d.sha256)
            )?;
        }
    }
    writeln!(out, "{indent}exit code    {}", b.exit_code)?;
    writeln!(
        out,
        "{indent}finished at  {}",
        unix_time(i64::try_from(b.finished_at).unwrap_or(i64::MAX))
    )?;
    writeln!(
        out,
        "{indent}signed by a runtime verified against the policy:"
    )?;
    for l in super::client::runtime_lines(&v.runtime) {
        writeln!(out, "{indent}  {l}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_time_matches_known_dates() {
        assert_eq!(unix_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(unix_time(1_795_737_600), "2026-11-27T00:00:00Z");
        assert_eq!(unix_time(951_782_400 + 3661), "2000-02-29T01:01:01Z");
        assert_eq!(unix_time(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn escape_neutralises_terminal_controls() {
        assert_eq!(escape("ok\x1b[2J\n"), "ok\\u{1b}[2J\\n");
        assert_eq!(escape("plain – text"), "plain – text");
    }
}
