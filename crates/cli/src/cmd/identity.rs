//! `veracruz identity`: a principal's P-256 key and self-signed certificate.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

#[derive(Subcommand)]
pub enum IdentityCommand {
    /// Create NAME.key (P-256 private key, PKCS#8 PEM, mode 0600) and NAME.crt (self-signed
    /// certificate). The certificate goes into the policy; the key never leaves you.
    New {
        /// The principal's name, as the policy will call it (also the certificate's CN).
        name: String,
        /// Directory to write the two files into.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Days the certificate stays valid.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Replace existing files of the same name.
        #[arg(long)]
        force: bool,
    },
    /// Print a certificate's subject, validity and SHA-256 fingerprint.
    Show {
        /// A PEM certificate file.
        cert: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: IdentityCommand) -> Result<ExitCode> {
    match cmd {
        IdentityCommand::New {
            name,
            out,
            days,
            force,
        } => new_identity(&name, &out, days, force),
        IdentityCommand::Show { cert, json } => show(&cert, json),
    }
}

/// Writes `contents` to `path`, creating it with `mode`; refuses to replace a file unless `force`.
pub fn write_new_file(path: &Path, contents: &[u8], mode: u32, force: bool) -> Result<()> {
    if force && path.exists() {
        fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| {
            if path.exists() {
                format!(
                    "{} already exists (use --force to replace it)",
                    path.display()
                )
            } else {
                format!("creating {}", path.display())
            }
        })?;
    f.write_all(contents)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Creates a key and a self-signed certificate for `name`, valid from now for `days`.
pub fn generate(name: &str, days: u32) -> Result<(String, String)> {
    let id = veracruz_client::generate_identity(name, days)?;
    Ok((id.key_pem, id.certificate_pem))
}

fn new_identity(name: &str, out: &Path, days: u32, force: bool) -> Result<ExitCode> {
    let (key_pem, cert_pem) = generate(name, days)?;
    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let key_path = out.join(format!("{name}.key"));
    let cert_path = out.join(format!("{name}.crt"));
    write_new_file(&key_path, key_pem.as_bytes(), 0o600, force)?;
    write_new_file(&cert_path, cert_pem.as_bytes(), 0o644, force)?;
    println!("key:         {} (keep it secret)", key_path.display());
    println!(
        "certificate: {} (goes into the policy)",
        cert_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads the first PEM certificate of a file and returns its DER.
pub fn read_certificate(path: &Path) -> Result<(String, Vec<u8>)> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(text.as_bytes())
        .map_err(|e| anyhow::anyhow!("{} is not a PEM file: {e}", path.display()))?;
    if pem.label != "CERTIFICATE" {
        bail!(
            "{} holds a `{}` PEM block, not a CERTIFICATE",
            path.display(),
            pem.label
        );
    }
    Ok((text, pem.contents))
}

fn show(path: &Path, json: bool) -> Result<ExitCode> {
    let (_, der) = read_certificate(path)?;
    let (_, cert) = X509Certificate::from_der(&der)
        .map_err(|e| anyhow::anyhow!("{} is not an X.509 certificate: {e}", path.display()))?;
    let fingerprint = hex::encode(Sha256::digest(&der));
    let v = cert.validity();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let state = if now < v.not_before.timestamp() {
        "not yet valid"
    } else if now > v.not_after.timestamp() {
        "expired"
    } else {
        "valid"
    };
    let key_alg = cert.public_key().algorithm.algorithm.to_id_string();
    if json {
        let out = serde_json::json!({
            "subject": cert.subject().to_string(),
            "issuer": cert.issuer().to_string(),
            "serial": cert.raw_serial_as_string(),
            "not_before": v.not_before.to_rfc2822().unwrap_or_default(),
            "not_after": v.not_after.to_rfc2822().unwrap_or_default(),
            "state": state,
            "sha256": fingerprint,
            "public_key_algorithm": key_alg,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("subject:     {}", cert.subject());
        println!("issuer:      {}", cert.issuer());
        println!("serial:      {}", cert.raw_serial_as_string());
        println!("not before:  {}", v.not_before);
        println!("not after:   {}", v.not_after);
        println!("state:       {state}");
        println!("sha256:      {fingerprint}");
        println!("key:         {key_alg}");
    }
    Ok(ExitCode::SUCCESS)
}
