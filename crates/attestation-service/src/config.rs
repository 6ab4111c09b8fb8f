//! The service's configuration file (TOML) and `init`, which creates a CA and a commented
//! configuration next to it.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use veracruz_evidence::VerifierConfig;
use veracruz_policy::Platform;

/// Default and limits for the lifetimes the configuration may set.
pub const DEFAULT_CHALLENGE_LIFETIME_SECS: u64 = 120;
const MAX_LIFETIME_SECS: u64 = 30 * 24 * 3600;

/// File names `init` writes.
pub const CONFIG_FILE: &str = "attestation-service.toml";
pub const CA_CERT_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca.key";

/// Why the configuration could not be read or created.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} already exists; refusing to overwrite it")]
    Exists { path: PathBuf },
    #[error("{path} is not valid configuration: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("configuration field `{field}`: {message}")]
    Invalid { field: String, message: String },
    #[error("cannot create the CA: {0}")]
    Ca(#[from] veracruz_attestation::CaError),
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Reference values for one platform. A platform without a section is refused outright.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PlatformConfig {
    /// Runtime measurements (hex) accepted on this platform; empty accepts none.
    #[serde(default)]
    pub accepted_measurements: Vec<String>,
    /// Accept self-asserted evidence (only meaningful for `linux`, the insecure platform).
    #[serde(default)]
    pub allow_insecure: bool,
    /// Accept isolates that run in a debug mode their host can inspect.
    #[serde(default)]
    pub allow_debug: bool,
    /// TCB verdicts accepted (e.g. `UpToDate`); absent accepts any. When set, evidence that
    /// reports no verdict is refused.
    #[serde(default)]
    pub accepted_tcb_status: Option<Vec<String>>,
}

/// The configuration as written in the file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: SocketAddr,
    database: String,
    ca_certificate: PathBuf,
    ca_key: PathBuf,
    #[serde(default = "default_certificate_lifetime")]
    certificate_lifetime_secs: u64,
    #[serde(default = "default_challenge_lifetime")]
    challenge_lifetime_secs: u64,
    #[serde(default)]
    platforms: BTreeMap<Platform, PlatformConfig>,
    #[serde(default)]
    verifier: VerifierConfig,
}

fn default_certificate_lifetime() -> u64 {
    veracruz_attestation::DEFAULT_CERTIFICATE_LIFETIME_SECS
}

fn default_challenge_lifetime() -> u64 {
    DEFAULT_CHALLENGE_LIFETIME_SECS
}

/// A validated configuration; paths are absolute (relative ones are taken from the
/// configuration file's directory).
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// A `postgres://` URL, a `sqlite:` URL, or a path to an SQLite file.
    pub database: String,
    pub ca_certificate: PathBuf,
    pub ca_key: PathBuf,
    pub certificate_lifetime_secs: u64,
    pub challenge_lifetime_secs: u64,
    pub platforms: BTreeMap<Platform, PlatformConfig>,
    /// Trust anchors and reference values of the hardware verifiers (vendor roots built in
    /// by default). Debug isolates are governed per platform by `allow_debug` instead.
    pub verifier: VerifierConfig,
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let raw: RawConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let database = if is_url(&raw.database) {
            raw.database
        } else {
            resolve(PathBuf::from(&raw.database)).display().to_string()
        };
        let config = Config {
            listen: raw.listen,
            database,
            ca_certificate: resolve(raw.ca_certificate),
            ca_key: resolve(raw.ca_key),
            certificate_lifetime_secs: raw.certificate_lifetime_secs,
            challenge_lifetime_secs: raw.challenge_lifetime_secs,
            platforms: raw.platforms,
            verifier: raw.verifier,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks the values the file cannot express constraints on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, v) in [
            ("certificate_lifetime_secs", self.certificate_lifetime_secs),
            ("challenge_lifetime_secs", self.challenge_lifetime_secs),
        ] {
            if v == 0 || v > MAX_LIFETIME_SECS {
                return Err(invalid(
                    field,
                    format!("must be between 1 and {MAX_LIFETIME_SECS} seconds, got {v}"),
                ));
            }
        }
        if self.verifier.allow_debug {
            return Err(invalid(
                "verifier.allow_debug",
                "set `allow_debug` per platform under [platforms.<name>] instead",
            ));
        }
        for (platform, pc) in &self.platforms {
            let field = |name: &str| format!("platforms.{platform}.{name}");
            if pc.allow_insecure && !platform.is_insecure() {
                return Err(invalid(
                    field("allow_insecure"),
                    format!("`{platform}` evidence is hardware-rooted; only `linux` can be allowed as insecure"),
                ));
            }
            for (i, m) in pc.accepted_measurements.iter().enumerate() {
                let bytes = hex::decode(m).map_err(|e| {
                    invalid(
                        format!("{}[{i}]", field("accepted_measurements")),
                        format!("not hex: {e}"),
                    )
                })?;
                if !platform.measurement_lengths().contains(&bytes.len()) {
                    return Err(invalid(
                        format!("{}[{i}]", field("accepted_measurements")),
                        format!(
                            "{} bytes; `{platform}` measurements are {:?} bytes",
                            bytes.len(),
                            platform.measurement_lengths()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The accepted measurements of a platform, decoded. Validation has checked them.
    pub(crate) fn accepted_measurements(&self, platform: Platform) -> Vec<Vec<u8>> {
        self.platforms
            .get(&platform)
            .map(|pc| {
                pc.accepted_measurements
                    .iter()
                    .filter_map(|m| hex::decode(m).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub(crate) fn is_url(database: &str) -> bool {
    database.starts_with("postgres://")
        || database.starts_with("postgresql://")
        || database.starts_with("sqlite:")
}

/// What `init` wrote.
#[derive(Clone, Debug)]
pub struct InitOutput {
    pub config: PathBuf,
    pub ca_certificate: PathBuf,
    pub ca_key: PathBuf,
}

/// Creates `dir` if needed, a P-256 CA (key file mode 0600) and a commented configuration that
/// accepts no platform until edited. Refuses to overwrite any existing file, above all a CA key.
pub fn init(dir: &Path) -> Result<InitOutput, ConfigError> {
    std::fs::create_dir_all(dir).map_err(|source| ConfigError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let out = InitOutput {
        config: dir.join(CONFIG_FILE),
        ca_certificate: dir.join(CA_CERT_FILE),
        ca_key: dir.join(CA_KEY_FILE),
    };
    for path in [&out.config, &out.ca_certificate, &out.ca_key] {
        if path.exists() {
            return Err(ConfigError::Exists { path: path.clone() });
        }
    }
    let ca = veracruz_attestation::generate_ca(
        "Veracruz attestation service CA",
        veracruz_attestation::CaAlgorithm::P256,
        3650,
    )?;
    write_new(&out.ca_key, ca.key_pem.as_bytes(), 0o600)?;
    write_new(&out.ca_certificate, ca.certificate_pem.as_bytes(), 0o644)?;
    write_new(&out.config, CONFIG_TEMPLATE.as_bytes(), 0o644)?;
    tracing::info!(dir = %dir.display(), "created attestation service CA and configuration");
    Ok(out)
}

/// Creates a file that must not exist yet, with its permissions set at creation so that a key
/// is never readable by others, not even briefly.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), ConfigError> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| ConfigError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(err)?;
    file.write_all(contents).map_err(err)?;
    file.sync_all().map_err(err)
}

/// The configuration `init` writes.
pub const CONFIG_TEMPLATE: &str = r#"# Veracruz attestation service configuration.
# Relative paths are relative to the directory of this file.

# Address of the HTTP API (plain HTTP: issued certificates are checked by clients against the
# CA certificate in their policy, so the transport need not be trusted for them).
listen = "127.0.0.1:3010"

# Where the audit record and challenges live: a path to an SQLite file (created on first run),
# or a PostgreSQL URL such as "postgres://user:password@localhost/veracruz".
database = "attestation.db"

# The CA that signs runtime certificates. Keep the key readable by the service only.
ca_certificate = "ca.pem"
ca_key = "ca.key"

# Lifetime of an issued runtime certificate, in seconds (default one hour).
certificate_lifetime_secs = 3600

# How long a challenge nonce may be used after it was issued, in seconds. Each is single-use.
challenge_lifetime_secs = 120

# Reference values, one section per platform. A platform without a section is refused.
# accepted_measurements: hex runtime measurements (linux: SHA-256 of the runtime executable,
#   32 bytes; sev-snp, tdx, nitro: 48 bytes; sgx: 32 bytes; cca: 32, 48 or 64 bytes).
# allow_debug: accept isolates running in a debug mode their host can inspect.
# accepted_tcb_status: TCB verdicts accepted (e.g. ["UpToDate"]); when set, evidence without
#   a verdict is refused. Leave it out for platforms that report none.

# The `linux` platform's evidence is self-asserted by the runtime and proves nothing. It is
# refused unless allow_insecure is true: for development and tests only.
[platforms.linux]
allow_insecure = false
accepted_measurements = []

# Hardware platforms: evidence is verified up to the vendor's roots (built in).
# [platforms.sev-snp]
# accepted_measurements = []
# allow_debug = false
#
# [platforms.tdx]
# accepted_measurements = []
# accepted_tcb_status = ["UpToDate"]

# Optional trust anchors and minimum TCB levels for the hardware verifiers, replacing the
# built-in vendor roots; see docs/ATTESTATION.md. For example:
# [verifier.sev_snp.min_tcb]
# boot_loader = 3
# tee = 0
# snp = 8
# microcode = 115
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_a_loadable_configuration_and_a_private_key() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let out = init(dir.path()).unwrap();
        let mode = std::fs::metadata(&out.ca_key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let config = Config::load(&out.config).unwrap();
        assert_eq!(config.ca_key, out.ca_key);
        assert_eq!(
            config.database,
            dir.path().join("attestation.db").display().to_string()
        );
        assert_eq!(config.certificate_lifetime_secs, 3600);
        let linux = &config.platforms[&Platform::Linux];
        assert!(!linux.allow_insecure);
        assert!(linux.accepted_measurements.is_empty());
        let ca = veracruz_attestation::CertificateAuthority::from_pem(
            &std::fs::read_to_string(&out.ca_certificate).unwrap(),
            &std::fs::read_to_string(&out.ca_key).unwrap(),
        );
        assert!(ca.is_ok());
        // A second init must not replace the CA.
        assert!(matches!(init(dir.path()), Err(ConfigError::Exists { .. })));
    }

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&path)
    }

    const BASE: &str = "listen = \"127.0.0.1:0\"\ndatabase = \"postgres://u@h/d\"\nca_certificate = \"/c\"\nca_key = \"/k\"\n";

    #[test]
    fn hardware_verifier_settings_load() {
        let c = load_text(&format!(
            "{BASE}[platforms.sev-snp]\naccepted_measurements = [\"{}\"]\naccepted_tcb_status = [\"UpToDate\"]\n\
             [verifier.sev_snp.min_tcb]\nsnp = 8\nmicrocode = 115\n",
            "ab".repeat(48)
        ))
        .unwrap();
        assert_eq!(c.verifier.sev_snp.min_tcb.snp, 8);
        assert_eq!(c.verifier.sev_snp.min_tcb.microcode, 115);
        let snp = &c.platforms[&Platform::SevSnp];
        assert_eq!(
            snp.accepted_tcb_status.as_deref(),
            Some(&["UpToDate".to_string()][..])
        );
    }

    #[test]
    fn validation_names_the_field() {
        let err = load_text(&format!(
            "{BASE}[platforms.sev-snp]\nallow_insecure = true\n"
        ))
        .unwrap_err();
        assert!(
            err.to_string().contains("platforms.sev-snp.allow_insecure"),
            "{err}"
        );
        let err = load_text(&format!(
            "{BASE}[platforms.linux]\naccepted_measurements = [\"abcd\"]\n"
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("platforms.linux.accepted_measurements[0]"),
            "{err}"
        );
        let err = load_text(&format!(
            "{BASE}[platforms.linux]\naccepted_measurements = [\"zz\"]\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("not hex"), "{err}");
        let err = load_text(&format!("{BASE}certificate_lifetime_secs = 0\n")).unwrap_err();
        assert!(
            err.to_string().contains("certificate_lifetime_secs"),
            "{err}"
        );
        let err = load_text(&format!("{BASE}surprise = 1\n")).unwrap_err();
        assert!(err.to_string().contains("surprise"), "{err}");
        let err = load_text(&format!("{BASE}[platforms.vax]\n")).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
        let err = load_text(&format!("{BASE}[verifier]\nallow_debug = true\n")).unwrap_err();
        assert!(err.to_string().contains("verifier.allow_debug"), "{err}");
        let ok = load_text(BASE).unwrap();
        assert_eq!(ok.database, "postgres://u@h/d");
        assert_eq!(ok.challenge_lifetime_secs, DEFAULT_CHALLENGE_LIFETIME_SECS);
    }
}
