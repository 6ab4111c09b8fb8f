//! Making a principal's identity: a P-256 key and a self-signed certificate for it.

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};

use crate::ClientError;

/// A new identity as PEM text: the certificate goes into the policy, the key stays secret.
pub struct NewIdentity {
    pub certificate_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for NewIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("NewIdentity").finish_non_exhaustive()
    }
}

/// Creates a P-256 key and a self-signed certificate (CN = `name`) valid from a few minutes
/// ago, for peers whose clocks run slightly behind, for `days` days.
pub fn generate_identity(name: &str, days: u32) -> Result<NewIdentity, ClientError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        return Err(ClientError::Identity(format!(
            "name `{name}` must be non-empty, without spaces or `/`"
        )));
    }
    if days == 0 {
        return Err(ClientError::Identity(
            "the certificate must be valid for at least one day".into(),
        ));
    }
    let fail = |what: &str, e: rcgen::Error| ClientError::Identity(format!("{what}: {e}"));
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|e| fail("generating a P-256 key", e))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(days.into());
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let cert = params
        .self_signed(&key)
        .map_err(|e| fail("signing the certificate", e))?;
    Ok(NewIdentity {
        certificate_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}
