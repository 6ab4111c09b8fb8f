//! `veracruz attestation`: check a TEE's evidence the way the attestation service does, to
//! debug a platform's setup offline.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use veracruz_evidence::cca::Jwk;
use veracruz_evidence::dcap::DcapEvidence;
use veracruz_evidence::snp::SnpEvidence;
use veracruz_evidence::{
    check_binding, decode_evidence_text, parse_time, verifier_for, Binding, CcaTrustAnchor, Claims,
    EvidenceError, Platform, VerifierConfig,
};

/// Evidence files and their companions are small; this bounds what we read into memory.
const MAX_INPUT_LEN: u64 = 4 * 1024 * 1024;

#[derive(Subcommand)]
pub enum AttestationCommand {
    /// Verify a TEE's evidence against its vendor's roots and print the claims it makes, or the
    /// check that failed. Exit status 0 when verified, 1 when refused.
    ///
    /// EVIDENCE is the platform's evidence as binary, hex or base64, either the documented
    /// envelope (docs/PLATFORMS.md) or the raw report with its companions found beside it:
    ///   sev-snp  raw report + VCEK/VLEK (--endorsement-key, or a file beside it named like
    ///            the report with `report` replaced by `vcek`/`vlek`, `<file>.vcek.der`, `vcek.der`)
    ///   tdx/sgx  raw quote + collateral JSON (--collateral, or `<file>_collateral.json`,
    ///            `<file>.collateral.json`, `collateral.json` beside it)
    ///   nitro    the attestation document (COSE_Sign1)
    ///   cca      the CCA token; CPAKs from --cpak (a JWK or a trust-anchor store)
    ///
    /// Example: veracruz attestation verify --platform nitro doc.cose --at 2025-01-06T17:00:00Z
    Verify(Box<VerifyArgs>),
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The platform that produced the evidence: sev-snp, tdx, sgx, nitro or cca.
    #[arg(long)]
    platform: Platform,
    /// The evidence file.
    evidence: PathBuf,
    /// When to judge certificate and collateral validity: Unix seconds or RFC 3339
    /// (e.g. 2025-01-06T17:00:00Z). Defaults to now.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// SEV-SNP: the VCEK or VLEK certificate (DER or PEM) that signed a raw report.
    #[arg(long, value_name = "FILE")]
    endorsement_key: Option<PathBuf>,
    /// SEV-SNP: extra AMD CA certificates (ASK/ASVK, PEM). Only ones that chain to a pinned ARK count.
    #[arg(long, value_name = "FILE")]
    ca_chain: Option<PathBuf>,
    /// TDX/SGX: the collateral (dcap-qvl QuoteCollateralV3 JSON) for a raw quote.
    #[arg(long, value_name = "FILE")]
    collateral: Option<PathBuf>,
    /// CCA: the platform attestation key(s) to trust, as a JWK or a trust-anchor store (a JSON
    /// array of {"pkey", "implementation-id", "instance-id"}).
    #[arg(long, value_name = "FILE")]
    cpak: Option<PathBuf>,
    /// A verifier configuration (JSON, the attestation service's `VerifierConfig`): trust
    /// anchors, minimum TCB, accepted TCB statuses, CPAKs.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Accept isolates in debug mode (their host can read their memory).
    #[arg(long)]
    allow_debug: bool,
    /// TDX/SGX: a TCB status to accept (repeat); replaces the default list.
    #[arg(long = "accept-tcb", value_name = "STATUS")]
    accept_tcb: Vec<String>,
    /// Also check the report data binds this nonce (hex, 32 bytes); needs --key-hash and --policy-hash.
    #[arg(long, value_name = "HEX", requires_all = ["key_hash", "policy_hash"])]
    nonce: Option<String>,
    /// SHA-256 (hex) of the runtime's public key the evidence must bind.
    #[arg(long, value_name = "HEX", requires_all = ["nonce", "policy_hash"])]
    key_hash: Option<String>,
    /// SHA-256 (hex) of the policy the evidence must bind.
    #[arg(long, value_name = "HEX", requires_all = ["nonce", "key_hash"])]
    policy_hash: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: AttestationCommand) -> Result<ExitCode> {
    match cmd {
        AttestationCommand::Verify(args) => verify(&args),
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    let len = fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len > MAX_INPUT_LEN {
        bail!(
            "{} is {len} bytes, more than the {MAX_INPUT_LEN} accepted",
            path.display()
        );
    }
    fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn hash32(text: &str, what: &str) -> Result<[u8; 32]> {
    let bytes = hex::decode(text.trim()).with_context(|| format!("--{what} is not hex"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| anyhow::anyhow!("--{what} is {} bytes, not 32", b.len()))
}

/// The first existing file among `names` in `dir`.
fn beside(dir: &Path, names: &[String]) -> Option<PathBuf> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

fn file_parts(path: &Path) -> (PathBuf, String, String) {
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = path
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (dir, name, stem)
}

/// A certificate file as DER (PEM is converted).
fn cert_der(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    if bytes.starts_with(b"-----BEGIN") {
        let (_, pem) = x509_parser::pem::parse_x509_pem(bytes)
            .map_err(|e| anyhow::anyhow!("{} is not a PEM certificate: {e}", path.display()))?;
        Ok(pem.contents)
    } else {
        Ok(bytes.to_vec())
    }
}

fn snp_envelope(args: &VerifyArgs, raw: Vec<u8>) -> Result<Vec<u8>> {
    if raw.first() == Some(&b'{') {
        return Ok(raw);
    }
    let (dir, name, stem) = file_parts(&args.evidence);
    let key_path = match &args.endorsement_key {
        Some(p) => p.clone(),
        None => {
            let mut names = Vec::new();
            for kind in ["vcek", "vlek"] {
                names.push(format!("{name}.{kind}.der"));
                names.push(format!("{stem}.{kind}.der"));
                for word in ["report", "attestation"] {
                    if stem.contains(word) {
                        names.push(format!("{}.der", stem.replace(word, kind)));
                        // `x_vlek_report_y` beside `x_vlek_y`.
                        let dropped = stem.replace(&format!("_{word}"), "");
                        if dropped.contains(kind) {
                            names.push(format!("{dropped}.der"));
                        }
                    }
                }
                names.push(format!("{kind}.der"));
            }
            beside(&dir, &names).with_context(|| {
                format!(
                    "no VCEK/VLEK given (--endorsement-key) or found beside {} (looked for {})",
                    args.evidence.display(),
                    names.join(", ")
                )
            })?
        }
    };
    tracing::info!(file = %key_path.display(), "SEV-SNP endorsement key");
    let key = cert_der(&read_bounded(&key_path)?, &key_path)?;
    let chain = match &args.ca_chain {
        Some(p) => Some(
            String::from_utf8(read_bounded(p)?)
                .with_context(|| format!("{} is not PEM text", p.display()))?,
        ),
        None => None,
    };
    Ok(SnpEvidence::new(&raw, &key, chain.as_deref()).to_bytes())
}

fn dcap_envelope(args: &VerifyArgs, raw: Vec<u8>) -> Result<Vec<u8>> {
    if raw.first() == Some(&b'{') {
        return Ok(raw);
    }
    let (dir, name, stem) = file_parts(&args.evidence);
    let path = match &args.collateral {
        Some(p) => p.clone(),
        None => {
            let names = [
                format!("{name}_collateral.json"),
                format!("{name}.collateral.json"),
                format!("{stem}_collateral.json"),
                format!("{stem}.collateral.json"),
                "collateral.json".to_owned(),
                "collateral_v3_derived.json".to_owned(),
            ];
            beside(&dir, &names).with_context(|| {
                format!(
                    "no collateral given (--collateral) or found beside {} (looked for {})",
                    args.evidence.display(),
                    names.join(", ")
                )
            })?
        }
    };
    tracing::info!(file = %path.display(), "DCAP collateral");
    let collateral = serde_json::from_slice(&read_bounded(&path)?)
        .with_context(|| format!("{} is not QuoteCollateralV3 JSON", path.display()))?;
    Ok(DcapEvidence::new(&raw, collateral).to_bytes())
}

fn load_cpaks(path: &Path) -> Result<Vec<CcaTrustAnchor>> {
    let bytes = read_bounded(path)?;
    if let Ok(store) = serde_json::from_slice::<Vec<CcaTrustAnchor>>(&bytes) {
        return Ok(store);
    }
    let pkey: Jwk = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is neither a JWK nor a trust-anchor store",
            path.display()
        )
    })?;
    Ok(vec![CcaTrustAnchor {
        pkey,
        implementation_id: None,
        instance_id: None,
    }])
}

fn config(args: &VerifyArgs) -> Result<VerifierConfig> {
    let mut config = match &args.config {
        Some(p) => serde_json::from_slice(&read_bounded(p)?)
            .with_context(|| format!("{} is not a verifier configuration", p.display()))?,
        None => VerifierConfig::default(),
    };
    config.allow_debug |= args.allow_debug;
    if !args.accept_tcb.is_empty() {
        config.dcap.accepted_tcb_statuses = Some(args.accept_tcb.clone());
    }
    if let Some(p) = &args.cpak {
        config.cca.trust_anchors.extend(load_cpaks(p)?);
    }
    Ok(config)
}

fn verify(args: &VerifyArgs) -> Result<ExitCode> {
    let now = match &args.at {
        Some(t) => parse_time(t).context("--at")?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("system clock is before 1970")?
            .as_secs(),
    };
    let raw = decode_evidence_text(&read_bounded(&args.evidence)?);
    let evidence = match args.platform {
        Platform::SevSnp => snp_envelope(args, raw)?,
        Platform::Tdx | Platform::Sgx => dcap_envelope(args, raw)?,
        Platform::Nitro | Platform::Cca => raw,
        Platform::Linux => bail!(
            "`linux` evidence is self-asserted and checked by the attestation service itself; \
             this command verifies real TEEs (sev-snp, tdx, sgx, nitro, cca)"
        ),
    };
    let verifier = verifier_for(args.platform, &config(args)?)
        .with_context(|| format!("setting up the {} verifier", args.platform))?;
    let mut result = verifier.verify(&evidence, now);
    if let (Ok(claims), Some(nonce), Some(key), Some(policy)) =
        (&result, &args.nonce, &args.key_hash, &args.policy_hash)
    {
        let binding = Binding {
            nonce: hash32(nonce, "nonce")?,
            key_hash: hash32(key, "key-hash")?,
            policy_hash: hash32(policy, "policy-hash")?,
        };
        if let Err(e) = check_binding(claims, &binding) {
            result = Err(e);
        }
    }
    match result {
        Ok(claims) => {
            print_claims(&claims, now, args.json)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            print_refusal(args.platform, &err, now, args.json)?;
            Ok(ExitCode::FAILURE)
        }
    }
}

fn print_claims(claims: &Claims, now: u64, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let details: serde_json::Map<String, serde_json::Value> = claims
            .details
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let value = serde_json::json!({
            "verified": true,
            "platform": claims.platform.as_str(),
            "at": now,
            "measurement": hex::encode(&claims.measurement),
            "report_data": hex::encode(&claims.report_data),
            "debug": claims.debug,
            "tcb_status": claims.tcb_status,
            "details": details,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    writeln!(out, "verified: {} evidence at {now}", claims.platform)?;
    writeln!(out, "  measurement: {}", hex::encode(&claims.measurement))?;
    writeln!(out, "  report data: {}", hex::encode(&claims.report_data))?;
    writeln!(
        out,
        "  debug:       {}",
        if claims.debug { "yes" } else { "no" }
    )?;
    if let Some(status) = &claims.tcb_status {
        writeln!(out, "  TCB status:  {status}")?;
    }
    for (k, v) in &claims.details {
        writeln!(out, "  {k}: {v}")?;
    }
    Ok(())
}

fn print_refusal(platform: Platform, err: &EvidenceError, now: u64, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let value = serde_json::json!({
            "verified": false,
            "platform": platform.as_str(),
            "at": now,
            "check": err.check(),
            "error": err.to_string(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        writeln!(
            out,
            "refused: {platform} evidence at {now}: {} check failed",
            err.check()
        )?;
        writeln!(out, "  {err}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(subcommand)]
        cmd: AttestationCommand,
    }

    fn vectors() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vectors")
    }

    fn run_args(args: &[&str]) -> Result<ExitCode> {
        let mut argv = vec!["t", "verify"];
        argv.extend_from_slice(args);
        run(Wrapper::try_parse_from(argv)?.cmd)
    }

    fn path(rel: &str) -> String {
        vectors().join(rel).to_string_lossy().into_owned()
    }

    #[test]
    fn verifies_and_refuses_with_exit_codes() {
        let doc = path("nitro/nitro_attest_fixture_eu-central-1_20250106.cose");
        let ok = run_args(&["--platform", "nitro", &doc, "--at", "2025-01-06T17:00:00Z"]).unwrap();
        assert_eq!(ok, ExitCode::SUCCESS);
        let expired =
            run_args(&["--platform", "nitro", &doc, "--at", "1795737600", "--json"]).unwrap();
        assert_eq!(expired, ExitCode::FAILURE);
    }

    #[test]
    fn finds_companions_beside_the_evidence() {
        // virtee_report_milan.hex -> virtee_vcek_milan.der
        let report = path("sev-snp/virtee_report_milan.hex");
        assert_eq!(
            run_args(&["--platform", "sev-snp", &report, "--at", "1795737600"]).unwrap(),
            ExitCode::SUCCESS
        );
        // tdx_quote -> tdx_quote_collateral.json
        let quote = path("dcap/dcap-qvl/tdx_quote");
        assert_eq!(
            run_args(&["--platform", "tdx", &quote, "--at", "1751000000"]).unwrap(),
            ExitCode::SUCCESS
        );
        // The automata quote is OutOfDate: refused by default, accepted when asked.
        let quote = path("dcap/automata/quote_tdx_00806f050000.dat");
        assert_eq!(
            run_args(&["--platform", "tdx", &quote, "--at", "1740000000"]).unwrap(),
            ExitCode::FAILURE
        );
        assert_eq!(
            run_args(&[
                "--platform",
                "tdx",
                &quote,
                "--at",
                "1740000000",
                "--accept-tcb",
                "OutOfDate"
            ])
            .unwrap(),
            ExitCode::SUCCESS
        );
    }

    #[test]
    fn missing_companions_and_bad_input_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let lone = dir.path().join("report.bin");
        std::fs::write(&lone, [0u8; 1184]).unwrap();
        let err = run_args(&["--platform", "sev-snp", lone.to_str().unwrap()]).unwrap_err();
        assert!(format!("{err:#}").contains("no VCEK/VLEK"), "{err:#}");
        let err = run_args(&["--platform", "tdx", lone.to_str().unwrap()]).unwrap_err();
        assert!(format!("{err:#}").contains("no collateral"), "{err:#}");
        let err = run_args(&["--platform", "linux", lone.to_str().unwrap()]).unwrap_err();
        assert!(format!("{err:#}").contains("self-asserted"), "{err:#}");
        let err = run_args(&[
            "--platform",
            "nitro",
            lone.to_str().unwrap(),
            "--at",
            "soon",
        ])
        .unwrap_err();
        assert!(format!("{err:#}").contains("--at"), "{err:#}");
        // CCA without a CPAK cannot be verified at all.
        let token = path("cca/cca-token-01.cbor");
        assert!(run_args(&["--platform", "cca", &token]).is_err());
    }

    #[test]
    fn binding_flags_are_checked() {
        let token = path("cca/cca-token-01.cbor");
        let cpak = path("cca/cpak.json");
        let h = |b: &str| b.repeat(32);
        let code = run_args(&[
            "--platform",
            "cca",
            &token,
            "--cpak",
            &cpak,
            "--nonce",
            &h("11"),
            "--key-hash",
            &h("22"),
            "--policy-hash",
            &h("33"),
        ])
        .unwrap();
        assert_eq!(code, ExitCode::FAILURE);
        assert!(run_args(&[
            "--platform",
            "cca",
            &token,
            "--cpak",
            &cpak,
            "--nonce",
            &h("11")
        ])
        .is_err());
        assert_eq!(
            run_args(&["--platform", "cca", &token, "--cpak", &cpak]).unwrap(),
            ExitCode::SUCCESS
        );
    }
}
