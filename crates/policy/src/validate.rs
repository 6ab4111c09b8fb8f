//! Validation: from a parsed [`PolicyDocument`] to a [`Policy`] whose every part has been
//! checked, or an error naming the field and why.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::capabilities::{CapPath, CapabilityError, CapabilityMap, PathError};
use crate::document::{PolicyDocument, POLICY_VERSION, TLS13_SUITES};
use crate::pipeline::{self, PipelineError, Pos, Script};
use crate::platform::Platform;
use crate::rights::Rights;

/// Largest policy file accepted, so that a hostile host cannot make parsing expensive.
pub const MAX_POLICY_BYTES: usize = 4 * 1024 * 1024;

/// Why a policy was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy is {size} bytes, more than the {max} accepted")]
    TooLarge { size: usize, max: usize },
    /// The file is not JSON of the policy's shape (includes unknown and missing fields).
    #[error("policy does not parse at `{field}` (line {line}, column {column}): {message}")]
    Parse {
        field: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// The JSON has the right shape but a field's value is refused.
    #[error("policy field `{field}`: {reason}")]
    Invalid { field: String, reason: Invalid },
}

impl PolicyError {
    /// The field the error is about (`principals[1].certificate`, ...).
    pub fn field(&self) -> Option<&str> {
        match self {
            PolicyError::Parse { field, .. } | PolicyError::Invalid { field, .. } => Some(field),
            PolicyError::TooLarge { .. } => None,
        }
    }

    /// The validation failure, if the error is one.
    pub fn reason(&self) -> Option<&Invalid> {
        match self {
            PolicyError::Invalid { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// What was wrong with a field's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("version {0} is not supported (this build reads version {POLICY_VERSION})")]
    UnsupportedVersion(u32),
    #[error("the policy names no {0}")]
    Empty(&'static str),
    #[error("principal name must be non-empty printable text without spaces")]
    BadName,
    #[error("principal name `{0}` is used twice")]
    DuplicatePrincipalName(String),
    #[error("certificate is the same as principal `{0}`'s")]
    DuplicateCertificate(String),
    #[error("certificate does not parse: {0}")]
    Certificate(String),
    #[error("certificate expired at {not_after} (Unix {not_after_unix})")]
    CertificateExpired {
        not_after: String,
        not_after_unix: i64,
    },
    #[error("certificate is not valid before {not_before} (Unix {not_before_unix})")]
    CertificateNotYetValid {
        not_before: String,
        not_before_unix: i64,
    },
    #[error("`{0}` is not a SHA-256 (expected 64 hex digits)")]
    BadSha256(String),
    #[error("{0}")]
    Capability(#[from] CapabilityError),
    #[error("{0}")]
    Path(#[from] PathError),
    #[error("`{0}` is a stream; this must be a file path")]
    StreamNotAllowed(String),
    #[error("`{0}` is listed twice")]
    Duplicate(String),
    #[error("no principal has `w` on program path `{0}`, so it can never be provisioned")]
    ProgramNotWritable(String),
    #[error("no principal has `x` on program path `{0}`, so it can never run")]
    ProgramNotExecutable(String),
    #[error("{0}")]
    Pipeline(#[from] PipelineError),
    #[error("pipeline names program `{name}` at {pos}, which is not a program of the policy")]
    UnknownProgram { name: String, pos: Pos },
    #[error("pipeline names `{name}` at {pos}, which matches several programs; use the full path")]
    AmbiguousProgram { name: String, pos: Pos },
    #[error("{0}")]
    UnknownPlatform(#[from] crate::platform::UnknownPlatform),
    #[error("measurement `{value}` for {platform} is not hex of {expected} bytes")]
    BadMeasurement {
        platform: Platform,
        value: String,
        expected: String,
    },
    #[error("no runtime measurement is accepted for any platform, so no runtime can be trusted")]
    NoMeasurements,
    #[error(
        "measurements are listed for insecure platform `{0}` but allow_insecure_platforms is false"
    )]
    InsecureNotAllowed(Platform),
    #[error("the cipher suite list is empty")]
    NoCipherSuites,
    #[error("`{0}` is not a TLS 1.3 cipher suite (expected one of {suites})", suites = TLS13_SUITES.join(", "))]
    NotTls13Suite(String),
    #[error("`{0}` is not an address of the form host:port with a port from 1 to 65535")]
    BadAddress(String),
    #[error("`{0}` is not an http:// or https:// URL with a host")]
    BadUrl(String),
    #[error("`{0}` is not a principal of this policy")]
    UnknownPrincipal(String),
    #[error("quorum {quorum} must be between 1 and the number of voters ({voters})")]
    BadQuorum { quorum: u32, voters: usize },
    #[error("neither `fuel` nor `time_limit_ms` is set, so a run could loop forever")]
    NoRunLimit,
    #[error("must be greater than zero")]
    Zero,
    #[error("{value} is more than the largest accepted value, {max}")]
    TooLarge { value: u64, max: u64 },
    #[error("contains a NUL byte, which programs cannot receive")]
    Nul,
}

fn invalid(field: impl Into<String>, reason: impl Into<Invalid>) -> PolicyError {
    PolicyError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// A principal after validation.
#[derive(Clone, Debug)]
pub struct Principal {
    pub name: String,
    pub roles: Vec<String>,
    /// DER of the principal's certificate: a TLS peer is this principal iff its certificate
    /// is byte-for-byte this one.
    pub certificate_der: Vec<u8>,
    pub capabilities: CapabilityMap,
}

/// A program after validation.
#[derive(Clone, Debug)]
pub struct Program {
    /// Canonical VFS path (no trailing slash).
    pub path: String,
    pub sha256: [u8; 32],
    pub capabilities: CapabilityMap,
}

impl Program {
    /// The last component of the path, by which pipelines may name the program.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// A pipeline after validation; `programs` maps each name used in the script to the
/// canonical path of the program it means.
#[derive(Clone, Debug)]
pub struct Pipeline {
    pub name: String,
    pub script: Script,
    pub capabilities: CapabilityMap,
    pub programs: BTreeMap<String, String>,
}

/// A validated policy and its hash.
#[derive(Clone, Debug)]
pub struct Policy {
    hash: [u8; 32],
    document: PolicyDocument,
    principals: Vec<Principal>,
    programs: Vec<Program>,
    pipelines: Vec<Pipeline>,
    pinned: BTreeMap<String, [u8; 32]>,
    inputs: Vec<String>,
    measurements: BTreeMap<Platform, Vec<Vec<u8>>>,
    consent_from: Vec<String>,
    shutdown_voters: Vec<String>,
    shutdown_quorum: u32,
}

/// SHA-256 of the exact policy bytes: the policy hash.
pub fn policy_hash(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Policy {
    /// Parses and validates a policy file, judging certificates at the current time.
    pub fn from_bytes(bytes: &[u8]) -> Result<Policy, PolicyError> {
        Self::from_bytes_at(bytes, now_unix())
    }

    /// Parses and validates a policy file, judging certificates at `now` (Unix seconds).
    pub fn from_bytes_at(bytes: &[u8], now: i64) -> Result<Policy, PolicyError> {
        if bytes.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge {
                size: bytes.len(),
                max: MAX_POLICY_BYTES,
            });
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let document: PolicyDocument = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            PolicyError::Parse {
                field,
                line: inner.line(),
                column: inner.column(),
                message: inner.to_string(),
            }
        })?;
        de.end().map_err(|e| PolicyError::Parse {
            field: ".".into(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        Self::validate(document, policy_hash(bytes), now)
    }

    fn validate(doc: PolicyDocument, hash: [u8; 32], now: i64) -> Result<Policy, PolicyError> {
        if doc.version != POLICY_VERSION {
            return Err(invalid("version", Invalid::UnsupportedVersion(doc.version)));
        }
        let principals = validate_principals(&doc, now)?;
        let names: BTreeSet<&str> = principals.iter().map(|p| p.name.as_str()).collect();
        let programs = validate_programs(&doc, &principals)?;
        let pipelines = validate_pipelines(&doc, &programs)?;

        let mut pinned = BTreeMap::new();
        for (i, f) in doc.files.iter().enumerate() {
            let path = tree_path(&f.path, &format!("files[{i}].path"))?;
            let sha = parse_sha256(&f.sha256, &format!("files[{i}].sha256"))?;
            if pinned.insert(path.clone(), sha).is_some() {
                return Err(invalid(
                    format!("files[{i}].path"),
                    Invalid::Duplicate(path),
                ));
            }
        }
        let mut inputs = Vec::new();
        for (i, p) in doc.inputs.iter().enumerate() {
            let path = tree_path(p, &format!("inputs[{i}]"))?;
            if inputs.contains(&path) {
                return Err(invalid(format!("inputs[{i}]"), Invalid::Duplicate(path)));
            }
            inputs.push(path);
        }

        validate_execution(&doc)?;
        let (consent_from, shutdown_voters, shutdown_quorum) = validate_lifecycle(&doc, &names)?;
        let measurements = validate_attestation(&doc, now)?;
        validate_transport(&doc)?;

        Ok(Policy {
            hash,
            document: doc,
            principals,
            programs,
            pipelines,
            pinned,
            inputs,
            measurements,
            consent_from,
            shutdown_voters,
            shutdown_quorum,
        })
    }

    /// SHA-256 of the exact bytes the policy was read from.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }

    /// The document as parsed.
    pub fn document(&self) -> &PolicyDocument {
        &self.document
    }

    pub fn principals(&self) -> &[Principal] {
        &self.principals
    }

    pub fn principal(&self, name: &str) -> Option<&Principal> {
        self.principals.iter().find(|p| p.name == name)
    }

    /// The principal whose policy certificate is exactly `der`, if any.
    pub fn principal_by_certificate(&self, der: &[u8]) -> Option<&Principal> {
        self.principals.iter().find(|p| p.certificate_der == der)
    }

    pub fn programs(&self) -> &[Program] {
        &self.programs
    }

    /// The program at `path` (any spelling of the same path).
    pub fn program(&self, path: &str) -> Option<&Program> {
        let canonical = CapPath::parse(path).ok()?.to_string();
        self.programs.iter().find(|p| p.path == canonical)
    }

    pub fn pipelines(&self) -> &[Pipeline] {
        &self.pipelines
    }

    pub fn pipeline(&self, name: &str) -> Option<&Pipeline> {
        self.pipelines.iter().find(|p| p.name == name)
    }

    /// Pinned data files: canonical path -> SHA-256.
    pub fn pinned_files(&self) -> &BTreeMap<String, [u8; 32]> {
        &self.pinned
    }

    /// Declared inputs (canonical paths) that must be present before execution.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// Accepted runtime measurements for `platform` (empty if none).
    pub fn accepted_measurements(&self, platform: Platform) -> &[Vec<u8>] {
        self.measurements
            .get(&platform)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Is a runtime on `platform` with `measurement` one this policy trusts?
    pub fn accepts(&self, platform: Platform, measurement: &[u8]) -> bool {
        (!platform.is_insecure() || self.document.attestation.allow_insecure_platforms)
            && self
                .accepted_measurements(platform)
                .iter()
                .any(|m| m == measurement)
    }

    /// Principals who must consent to each run beyond the allowed number.
    pub fn consent_required_from(&self) -> &[String] {
        &self.consent_from
    }

    pub fn shutdown_voters(&self) -> &[String] {
        &self.shutdown_voters
    }

    pub fn shutdown_quorum(&self) -> u32 {
        self.shutdown_quorum
    }

    /// Who may do what: (principal, path as written canonically, rights), in policy order.
    pub fn rights_table(&self) -> Vec<(&str, String, Rights)> {
        self.principals
            .iter()
            .flat_map(|p| {
                p.capabilities
                    .entries()
                    .map(move |(path, r)| (p.name.as_str(), path.to_string(), r))
            })
            .collect()
    }
}

fn parse_sha256(s: &str, field: &str) -> Result<[u8; 32], PolicyError> {
    let bad = || invalid(field, Invalid::BadSha256(s.to_string()));
    if s.len() != 64 {
        return Err(bad());
    }
    let bytes = hex::decode(s).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

fn tree_path(s: &str, field: &str) -> Result<String, PolicyError> {
    match CapPath::parse(s).map_err(|e| invalid(field, e))? {
        CapPath::Stream(_) => Err(invalid(field, Invalid::StreamNotAllowed(s.to_string()))),
        p @ CapPath::Tree(_) => Ok(p.to_string()),
    }
}

fn capabilities(
    raw: &crate::capabilities::RawCapabilities,
    field: &str,
) -> Result<CapabilityMap, PolicyError> {
    CapabilityMap::from_raw(raw).map_err(|e| invalid(field, e))
}

/// Parses a PEM certificate and checks its validity window at `now`; returns its DER.
pub fn check_certificate(pem_text: &str, now: i64) -> Result<Vec<u8>, Invalid> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes())
        .map_err(|e| Invalid::Certificate(format!("not PEM: {e}")))?;
    if pem.label != "CERTIFICATE" {
        return Err(Invalid::Certificate(format!(
            "PEM block is `{}`, expected `CERTIFICATE`",
            pem.label
        )));
    }
    check_certificate_der(&pem.contents, now)?;
    Ok(pem.contents)
}

/// Parses a DER certificate and checks its validity window at `now` (Unix seconds).
pub fn check_certificate_der(der: &[u8], now: i64) -> Result<(), Invalid> {
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|e| Invalid::Certificate(format!("not X.509: {e}")))?;
    if !rest.is_empty() {
        return Err(Invalid::Certificate(
            "trailing bytes after the certificate".into(),
        ));
    }
    let validity = cert.validity();
    if now < validity.not_before.timestamp() {
        return Err(Invalid::CertificateNotYetValid {
            not_before: validity.not_before.to_string(),
            not_before_unix: validity.not_before.timestamp(),
        });
    }
    if now > validity.not_after.timestamp() {
        return Err(Invalid::CertificateExpired {
            not_after: validity.not_after.to_string(),
            not_after_unix: validity.not_after.timestamp(),
        });
    }
    Ok(())
}

fn validate_principals(doc: &PolicyDocument, now: i64) -> Result<Vec<Principal>, PolicyError> {
    if doc.principals.is_empty() {
        return Err(invalid("principals", Invalid::Empty("principals")));
    }
    let mut out: Vec<Principal> = Vec::new();
    for (i, p) in doc.principals.iter().enumerate() {
        let field = format!("principals[{i}]");
        if p.name.is_empty() || p.name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(format!("{field}.name"), Invalid::BadName));
        }
        if out.iter().any(|o| o.name == p.name) {
            return Err(invalid(
                format!("{field}.name"),
                Invalid::DuplicatePrincipalName(p.name.clone()),
            ));
        }
        let der = check_certificate(&p.certificate, now)
            .map_err(|r| invalid(format!("{field}.certificate"), r))?;
        if let Some(other) = out.iter().find(|o| o.certificate_der == der) {
            return Err(invalid(
                format!("{field}.certificate"),
                Invalid::DuplicateCertificate(other.name.clone()),
            ));
        }
        out.push(Principal {
            name: p.name.clone(),
            roles: p.roles.clone(),
            certificate_der: der,
            capabilities: capabilities(&p.capabilities, &format!("{field}.capabilities"))?,
        });
    }
    Ok(out)
}

fn validate_programs(
    doc: &PolicyDocument,
    principals: &[Principal],
) -> Result<Vec<Program>, PolicyError> {
    if doc.programs.is_empty() {
        return Err(invalid("programs", Invalid::Empty("programs")));
    }
    let mut out: Vec<Program> = Vec::new();
    for (i, p) in doc.programs.iter().enumerate() {
        let field = format!("programs[{i}]");
        let path = tree_path(&p.path, &format!("{field}.path"))?;
        if out.iter().any(|o| o.path == path) {
            return Err(invalid(format!("{field}.path"), Invalid::Duplicate(path)));
        }
        let sha256 = parse_sha256(&p.sha256, &format!("{field}.sha256"))?;
        let caps = capabilities(&p.capabilities, &format!("{field}.capabilities"))?;
        let can = |r: Rights| {
            principals
                .iter()
                .any(|pr| pr.capabilities.rights_for(&path).contains(r))
        };
        if !can(Rights::WRITE) {
            return Err(invalid(
                format!("{field}.path"),
                Invalid::ProgramNotWritable(path),
            ));
        }
        if !can(Rights::EXECUTE) {
            return Err(invalid(
                format!("{field}.path"),
                Invalid::ProgramNotExecutable(path),
            ));
        }
        out.push(Program {
            path,
            sha256,
            capabilities: caps,
        });
    }
    Ok(out)
}

fn validate_pipelines(
    doc: &PolicyDocument,
    programs: &[Program],
) -> Result<Vec<Pipeline>, PolicyError> {
    let mut out: Vec<Pipeline> = Vec::new();
    for (i, p) in doc.pipelines.iter().enumerate() {
        let field = format!("pipelines[{i}]");
        if p.name.is_empty() || p.name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(format!("{field}.name"), Invalid::BadName));
        }
        if out.iter().any(|o| o.name == p.name) {
            return Err(invalid(
                format!("{field}.name"),
                Invalid::Duplicate(p.name.clone()),
            ));
        }
        let script =
            pipeline::parse(&p.script).map_err(|e| invalid(format!("{field}.script"), e))?;
        let mut resolved = BTreeMap::new();
        for (name, pos) in script.programs() {
            let canonical = CapPath::parse(name).ok().map(|c| c.to_string());
            let matches: Vec<&Program> = programs
                .iter()
                .filter(|pr| Some(&pr.path) == canonical.as_ref() || pr.file_name() == name)
                .collect();
            match matches.as_slice() {
                [one] => {
                    resolved.insert(name.to_string(), one.path.clone());
                }
                [] => {
                    return Err(invalid(
                        format!("{field}.script"),
                        Invalid::UnknownProgram {
                            name: name.to_string(),
                            pos,
                        },
                    ))
                }
                _ => {
                    return Err(invalid(
                        format!("{field}.script"),
                        Invalid::AmbiguousProgram {
                            name: name.to_string(),
                            pos,
                        },
                    ))
                }
            }
        }
        out.push(Pipeline {
            name: p.name.clone(),
            capabilities: capabilities(&p.capabilities, &format!("{field}.capabilities"))?,
            script,
            programs: resolved,
        });
    }
    Ok(out)
}

fn validate_execution(doc: &PolicyDocument) -> Result<(), PolicyError> {
    let e = &doc.execution;
    if e.max_memory_mib == 0 {
        return Err(invalid("execution.max_memory_mib", Invalid::Zero));
    }
    // 4 GiB is all a 32-bit linear memory can address.
    if e.max_memory_mib > 4096 {
        return Err(invalid(
            "execution.max_memory_mib",
            Invalid::TooLarge {
                value: e.max_memory_mib.into(),
                max: 4096,
            },
        ));
    }
    match (e.fuel, e.time_limit_ms) {
        (None, None) => return Err(invalid("execution", Invalid::NoRunLimit)),
        (Some(0), _) => return Err(invalid("execution.fuel", Invalid::Zero)),
        (_, Some(0)) => return Err(invalid("execution.time_limit_ms", Invalid::Zero)),
        _ => {}
    }
    if e.max_output_bytes == 0 {
        return Err(invalid("execution.max_output_bytes", Invalid::Zero));
    }
    if e.max_open_files == 0 {
        return Err(invalid("execution.max_open_files", Invalid::Zero));
    }
    for (k, v) in &e.environment {
        if k.contains('\0') || v.contains('\0') || k.contains('=') || k.is_empty() {
            return Err(invalid(format!("execution.environment.{k}"), Invalid::Nul));
        }
    }
    for (i, a) in e.arguments.iter().enumerate() {
        if a.contains('\0') {
            return Err(invalid(format!("execution.arguments[{i}]"), Invalid::Nul));
        }
    }
    Ok(())
}

type LifecycleParts = (Vec<String>, Vec<String>, u32);

fn validate_lifecycle(
    doc: &PolicyDocument,
    names: &BTreeSet<&str>,
) -> Result<LifecycleParts, PolicyError> {
    let l = &doc.lifecycle;
    let all: Vec<String> = doc.principals.iter().map(|p| p.name.clone()).collect();
    let check = |list: &Option<Vec<String>>, field: &str| -> Result<Vec<String>, PolicyError> {
        let Some(list) = list else {
            return Ok(all.clone());
        };
        let mut seen = BTreeSet::new();
        for (i, n) in list.iter().enumerate() {
            if !names.contains(n.as_str()) {
                return Err(invalid(
                    format!("{field}[{i}]"),
                    Invalid::UnknownPrincipal(n.clone()),
                ));
            }
            if !seen.insert(n) {
                return Err(invalid(
                    format!("{field}[{i}]"),
                    Invalid::Duplicate(n.clone()),
                ));
            }
        }
        Ok(list.clone())
    };
    let consent = check(&l.consent_required_from, "lifecycle.consent_required_from")?;
    let voters = check(&l.shutdown.voters, "lifecycle.shutdown.voters")?;
    let quorum = l.shutdown.quorum.unwrap_or(voters.len() as u32);
    if quorum == 0 || quorum as usize > voters.len() {
        return Err(invalid(
            "lifecycle.shutdown.quorum",
            Invalid::BadQuorum {
                quorum,
                voters: voters.len(),
            },
        ));
    }
    Ok((consent, voters, quorum))
}

fn validate_attestation(
    doc: &PolicyDocument,
    now: i64,
) -> Result<BTreeMap<Platform, Vec<Vec<u8>>>, PolicyError> {
    let a = &doc.attestation;
    if !is_url(&a.service_url) {
        return Err(invalid(
            "attestation.service_url",
            Invalid::BadUrl(a.service_url.clone()),
        ));
    }
    check_certificate(&a.ca_certificate, now)
        .map_err(|r| invalid("attestation.ca_certificate", r))?;
    let mut out = BTreeMap::new();
    for (name, values) in &a.accepted_measurements {
        let field = format!("attestation.accepted_measurements.{name}");
        let platform: Platform = name
            .parse()
            .map_err(|e| invalid(&field, Invalid::UnknownPlatform(e)))?;
        if platform.is_insecure() && !a.allow_insecure_platforms && !values.is_empty() {
            return Err(invalid(&field, Invalid::InsecureNotAllowed(platform)));
        }
        let lengths = platform.measurement_lengths();
        let mut parsed = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let bytes = hex::decode(v).ok().filter(|b| lengths.contains(&b.len()));
            let Some(bytes) = bytes else {
                let expected = lengths
                    .iter()
                    .map(|l| l.to_string())
                    .collect::<Vec<_>>()
                    .join(" or ");
                return Err(invalid(
                    format!("{field}[{i}]"),
                    Invalid::BadMeasurement {
                        platform,
                        value: v.clone(),
                        expected,
                    },
                ));
            };
            parsed.push(bytes);
        }
        if !parsed.is_empty() {
            out.insert(platform, parsed);
        }
    }
    if out.is_empty() {
        return Err(invalid(
            "attestation.accepted_measurements",
            Invalid::NoMeasurements,
        ));
    }
    Ok(out)
}

fn validate_transport(doc: &PolicyDocument) -> Result<(), PolicyError> {
    if !is_address(&doc.server.address) {
        return Err(invalid(
            "server.address",
            Invalid::BadAddress(doc.server.address.clone()),
        ));
    }
    let suites = &doc.tls.cipher_suites;
    if suites.is_empty() {
        return Err(invalid("tls.cipher_suites", Invalid::NoCipherSuites));
    }
    for (i, s) in suites.iter().enumerate() {
        if !TLS13_SUITES.contains(&s.as_str()) {
            return Err(invalid(
                format!("tls.cipher_suites[{i}]"),
                Invalid::NotTls13Suite(s.clone()),
            ));
        }
        if suites[..i].contains(s) {
            return Err(invalid(
                format!("tls.cipher_suites[{i}]"),
                Invalid::Duplicate(s.clone()),
            ));
        }
    }
    if doc.tls.certificate_lifetime_secs == 0 {
        return Err(invalid("tls.certificate_lifetime_secs", Invalid::Zero));
    }
    Ok(())
}

fn valid_host(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        // A dotted name of digits only is a mistyped IPv4 address, not a host name.
        && !host.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// Is `addr` of the form `host:port` (host a name, IPv4 address or `[IPv6]`; port 1 to 65535)?
pub fn is_address(addr: &str) -> bool {
    match addr.rsplit_once(':') {
        Some((host, port)) => matches!(port.parse::<u16>(), Ok(p) if p != 0) && valid_host(host),
        None => false,
    }
}

/// Is `url` of the form `http(s)://host[:port][/path]`?
pub fn is_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    // A bracketed IPv6 literal without a port contains colons of its own.
    if authority.ends_with(']') || !authority.contains(':') {
        return valid_host(authority);
    }
    is_address(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for ok in [
            "127.0.0.1:8080",
            "localhost:1",
            "[::1]:443",
            "a-b.example.com:65535",
        ] {
            assert!(is_address(ok), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "127.0.0.1:0",
            ":80",
            "host:99999",
            "ho st:1",
            "1.2.3:80",
            "[::1:80",
        ] {
            assert!(!is_address(bad), "{bad}");
        }
    }

    #[test]
    fn urls() {
        for ok in [
            "http://127.0.0.1:3010",
            "https://attest.example.com/",
            "http://[::1]:8000/x",
            "http://localhost",
        ] {
            assert!(is_url(ok), "{ok}");
        }
        for bad in [
            "127.0.0.1:3010",
            "ftp://x",
            "http://",
            "http://a:b",
            "http://user@host:1",
            "http://h:0",
        ] {
            assert!(!is_url(bad), "{bad}");
        }
    }
}
