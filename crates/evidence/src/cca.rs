//! Arm CCA attestation tokens.
//!
//! Evidence is the token exactly as the RMM returns it: a CBOR collection (tag 399) holding a
//! platform token (COSE_Sign1 by the CPAK) and a realm token (COSE_Sign1 by the realm
//! attestation key, RAK). The platform token's challenge is the hash of the RAK, which ties the
//! two together; the CPAK is a raw public key the platform owner provisions, configured as a
//! trust anchor (there is no X.509 chain and so no expiry).

use base64::Engine;
use ciborium::value::Value;
use ring::digest;
use serde::{Deserialize, Serialize};

use crate::config::{CcaConfig, CcaTrustAnchor};
use crate::cose::{self, as_bytes, as_i64, as_map, as_text, int_key, map_get};
use crate::{Claims, EvidenceError, Platform, UnixTime, Verifier};

const COLLECTION_TAG: u64 = 399;
const PLATFORM_TOKEN: i64 = 44234;
const REALM_TOKEN: i64 = 44241;

const CHALLENGE: i64 = 10;
const REALM_PERSONALIZATION: i64 = 44235;
const REALM_HASH_ALG: i64 = 44236;
const REALM_PUB_KEY: i64 = 44237;
const REALM_RIM: i64 = 44238;
const REALM_REMS: i64 = 44239;
const REALM_PUB_KEY_HASH_ALG: i64 = 44240;

const PLAT_PROFILE: i64 = 265;
const PLAT_INSTANCE_ID: i64 = 256;
const PLAT_IMPLEMENTATION_ID: i64 = 2396;
const PLAT_LIFECYCLE: i64 = 2395;
const PLAT_SW_COMPONENTS: i64 = 2399;
const PLAT_VERIFICATION_SERVICE: i64 = 2400;
const PLAT_CONFIG: i64 = 2401;
const PLAT_HASH_ALG: i64 = 2402;

/// Tokens from the RMM are 1 to 3 KiB.
const MAX_TOKEN_LEN: usize = 16 * 1024;
const MAX_SW_COMPONENTS: usize = 64;

/// An EC public key as a JSON Web Key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
}

impl Jwk {
    /// The key as an uncompressed SEC1 point.
    pub fn to_sec1(&self) -> Result<Vec<u8>, EvidenceError> {
        let width = match (self.kty.as_str(), self.crv.as_str()) {
            ("EC", "P-256") => 32,
            ("EC", "P-384") => 48,
            (kty, crv) => {
                return Err(EvidenceError::Config(format!(
                    "CPAK JWK must be an EC key on P-256 or P-384, not {kty}/{crv}"
                )))
            }
        };
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let x = b64
            .decode(self.x.trim_end_matches('='))
            .map_err(|e| EvidenceError::Config(format!("CPAK JWK `x` is not base64url: {e}")))?;
        let y = b64
            .decode(self.y.trim_end_matches('='))
            .map_err(|e| EvidenceError::Config(format!("CPAK JWK `y` is not base64url: {e}")))?;
        if x.len() != width || y.len() != width {
            return Err(EvidenceError::Config(format!(
                "CPAK JWK coordinates are {} and {} bytes, expected {width}",
                x.len(),
                y.len()
            )));
        }
        let mut point = Vec::with_capacity(1 + 2 * width);
        point.push(0x04);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        Ok(point)
    }
}

struct Anchor {
    key: Vec<u8>,
    implementation_id: Option<Vec<u8>>,
    instance_id: Option<Vec<u8>>,
}

fn hex_field(v: &Option<String>, what: &str) -> Result<Option<Vec<u8>>, EvidenceError> {
    v.as_deref()
        .map(|h| {
            hex::decode(h)
                .map_err(|e| EvidenceError::Config(format!("CPAK `{what}` is not hex: {e}")))
        })
        .transpose()
}

/// Checks CCA attestation tokens against configured CPAKs.
pub struct CcaVerifier {
    anchors: Vec<Anchor>,
    allow_debug: bool,
}

impl CcaVerifier {
    pub fn new(config: &CcaConfig, allow_debug: bool) -> Result<Self, EvidenceError> {
        if config.trust_anchors.is_empty() {
            return Err(EvidenceError::Config(
                "no CCA platform attestation key (CPAK) is configured".into(),
            ));
        }
        let anchors = config
            .trust_anchors
            .iter()
            .map(|a: &CcaTrustAnchor| {
                Ok(Anchor {
                    key: a.pkey.to_sec1()?,
                    implementation_id: hex_field(&a.implementation_id, "implementation-id")?,
                    instance_id: hex_field(&a.instance_id, "instance-id")?,
                })
            })
            .collect::<Result<Vec<_>, EvidenceError>>()?;
        Ok(Self {
            anchors,
            allow_debug,
        })
    }
}

/// The two signed halves of a token.
#[derive(Debug)]
pub struct CcaToken {
    pub platform: cose::CoseSign1,
    pub realm: cose::CoseSign1,
}

/// Splits a token into its platform and realm COSE_Sign1 messages.
pub fn parse_token(token: &[u8]) -> Result<CcaToken, EvidenceError> {
    let value = cose::decode(token, MAX_TOKEN_LEN, "CCA token")?;
    let value = match value {
        Value::Tag(COLLECTION_TAG, inner) => *inner,
        Value::Tag(t, _) => {
            return Err(EvidenceError::Malformed(format!(
                "CCA token has CBOR tag {t}, not the CCA collection ({COLLECTION_TAG})"
            )))
        }
        v => v,
    };
    let map = as_map(&value, "CCA token collection")?;
    if map.len() != 2 {
        return Err(EvidenceError::Malformed(format!(
            "CCA token collection has {} entries, expected the platform and realm tokens",
            map.len()
        )));
    }
    let part = |key: i64, what: &str| -> Result<cose::CoseSign1, EvidenceError> {
        let bytes = map_get(map, &int_key(key))
            .ok_or_else(|| EvidenceError::Malformed(format!("CCA token has no {what} ({key})")))?;
        cose::parse_sign1(as_bytes(bytes, what)?, MAX_TOKEN_LEN, what)
    };
    Ok(CcaToken {
        platform: part(PLATFORM_TOKEN, "CCA platform token")?,
        realm: part(REALM_TOKEN, "CCA realm token")?,
    })
}

fn claim<'a>(map: &'a [(Value, Value)], key: i64, what: &str) -> Result<&'a Value, EvidenceError> {
    map_get(map, &int_key(key))
        .ok_or_else(|| EvidenceError::Malformed(format!("CCA {what} claim ({key}) is missing")))
}

fn bytes_claim(
    map: &[(Value, Value)],
    key: i64,
    what: &str,
    lens: &[usize],
) -> Result<Vec<u8>, EvidenceError> {
    let b = as_bytes(claim(map, key, what)?, what)?;
    if !lens.contains(&b.len()) {
        return Err(EvidenceError::Malformed(format!(
            "CCA {what} is {} bytes, expected one of {lens:?}",
            b.len()
        )));
    }
    Ok(b.to_vec())
}

fn hash_alg(name: &str) -> Result<&'static digest::Algorithm, EvidenceError> {
    match name {
        "sha-256" => Ok(&digest::SHA256),
        "sha-384" => Ok(&digest::SHA384),
        "sha-512" => Ok(&digest::SHA512),
        other => Err(EvidenceError::Malformed(format!(
            "CCA hash algorithm `{other}` is not supported"
        ))),
    }
}

/// The RAK as a SEC1 point, from either a raw point or a COSE_Key.
fn realm_key(raw: &[u8]) -> Result<Vec<u8>, EvidenceError> {
    if raw.first() == Some(&0x04) && (raw.len() == 65 || raw.len() == 97) {
        return Ok(raw.to_vec());
    }
    let key = cose::decode(raw, 1024, "CCA realm public key")?;
    let key = as_map(&key, "CCA realm public key (COSE_Key)")?;
    let kty = as_i64(claim(key, 1, "realm key type")?, "realm key type")?;
    let crv = as_i64(claim(key, -1, "realm key curve")?, "realm key curve")?;
    let width = match (kty, crv) {
        (2, 1) => 32,
        (2, 2) => 48,
        _ => {
            return Err(EvidenceError::Malformed(format!(
                "CCA realm key is kty {kty} crv {crv}; only EC2 P-256 and P-384 are supported"
            )))
        }
    };
    let x = as_bytes(claim(key, -2, "realm key x")?, "realm key x")?;
    let y = as_bytes(claim(key, -3, "realm key y")?, "realm key y")?;
    if x.len() != width || y.len() != width {
        return Err(EvidenceError::Malformed(
            "CCA realm key coordinates have the wrong size".into(),
        ));
    }
    let mut point = vec![0x04];
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    Ok(point)
}

/// PSA/CCA security lifecycle: 0x3000-0x30ff is "secured"; 0x4000-0x5fff are debug states in
/// which the platform root of trust can be inspected.
fn lifecycle_state(lc: i64) -> Result<bool, EvidenceError> {
    match lc {
        0x3000..=0x30ff => Ok(false),
        0x4000..=0x5fff => Ok(true),
        other => Err(EvidenceError::Tcb(format!(
            "CCA platform lifecycle {other:#06x} is not a deployed state"
        ))),
    }
}

impl Verifier for CcaVerifier {
    fn platform(&self) -> Platform {
        Platform::Cca
    }

    fn verify(&self, evidence: &[u8], _now: UnixTime) -> Result<Claims, EvidenceError> {
        let token = parse_token(evidence)?;

        // Realm token: signed by the RAK it carries; the platform token vouches for the RAK.
        let realm_v = cose::decode(&token.realm.payload, MAX_TOKEN_LEN, "CCA realm claims")?;
        let realm = as_map(&realm_v, "CCA realm claims")?;
        let challenge = bytes_claim(realm, CHALLENGE, "realm challenge", &[32, 48, 64])?;
        let personalization = bytes_claim(
            realm,
            REALM_PERSONALIZATION,
            "realm personalization value",
            &[64],
        )?;
        let rim = bytes_claim(realm, REALM_RIM, "realm initial measurement", &[32, 48, 64])?;
        let rak_raw = as_bytes(
            claim(realm, REALM_PUB_KEY, "realm public key")?,
            "realm public key",
        )?;
        let rak_hash_alg = as_text(
            claim(
                realm,
                REALM_PUB_KEY_HASH_ALG,
                "realm public key hash algorithm",
            )?,
            "realm public key hash algorithm",
        )?;
        let meas_alg = as_text(
            claim(realm, REALM_HASH_ALG, "realm hash algorithm")?,
            "realm hash algorithm",
        )?;
        let rems = match claim(realm, REALM_REMS, "realm extensible measurements")? {
            Value::Array(items) if items.len() == 4 => items
                .iter()
                .map(|v| as_bytes(v, "REM").map(<[u8]>::to_vec))
                .collect::<Result<Vec<_>, _>>()?,
            _ => {
                return Err(EvidenceError::Malformed(
                    "CCA realm extensible measurements are not an array of 4".into(),
                ))
            }
        };
        let rak = realm_key(rak_raw)?;
        token.realm.verify_ec(&rak, "CCA realm token")?;

        // Platform token: signed by a configured CPAK, and its challenge must be the RAK hash.
        let plat_v = cose::decode(
            &token.platform.payload,
            MAX_TOKEN_LEN,
            "CCA platform claims",
        )?;
        let plat = as_map(&plat_v, "CCA platform claims")?;
        let instance_id = bytes_claim(plat, PLAT_INSTANCE_ID, "platform instance ID", &[33])?;
        let implementation_id = bytes_claim(
            plat,
            PLAT_IMPLEMENTATION_ID,
            "platform implementation ID",
            &[32, 64],
        )?;
        let candidates: Vec<&Anchor> = self
            .anchors
            .iter()
            .filter(|a| a.instance_id.as_ref().is_none_or(|i| *i == instance_id))
            .filter(|a| {
                a.implementation_id
                    .as_ref()
                    .is_none_or(|i| *i == implementation_id)
            })
            .collect();
        if candidates.is_empty() {
            return Err(EvidenceError::BadChain(format!(
                "no CPAK is configured for platform instance {}",
                hex::encode(&instance_id)
            )));
        }
        let mut last = None;
        let mut verified = false;
        for anchor in candidates {
            match token.platform.verify_ec(&anchor.key, "CCA platform token") {
                Ok(()) => {
                    verified = true;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if !verified {
            return Err(last.unwrap_or_else(|| {
                EvidenceError::BadSignature("CCA platform token signature does not verify".into())
            }));
        }

        let plat_challenge = as_bytes(
            claim(plat, CHALLENGE, "platform challenge")?,
            "platform challenge",
        )?;
        let rak_digest = digest::digest(hash_alg(rak_hash_alg)?, rak_raw);
        if plat_challenge != rak_digest.as_ref() {
            return Err(EvidenceError::BadSignature(
                "CCA platform challenge is not the hash of the realm attestation key: the tokens are not bound"
                    .into(),
            ));
        }

        let lifecycle = as_i64(
            claim(plat, PLAT_LIFECYCLE, "platform lifecycle")?,
            "platform lifecycle",
        )?;
        let debug = lifecycle_state(lifecycle)?;
        if debug && !self.allow_debug {
            return Err(EvidenceError::Debug(format!(
                "CCA platform lifecycle {lifecycle:#06x} is a debug state"
            )));
        }

        let mut details = vec![
            (
                "realm_personalization_value".to_owned(),
                hex::encode(&personalization),
            ),
            ("realm_hash_algorithm".to_owned(), meas_alg.to_owned()),
            ("platform_instance_id".to_owned(), hex::encode(&instance_id)),
            (
                "platform_implementation_id".to_owned(),
                hex::encode(&implementation_id),
            ),
            ("platform_lifecycle".to_owned(), format!("{lifecycle:#06x}")),
        ];
        for (i, rem) in rems.iter().enumerate() {
            details.push((format!("rem{i}"), hex::encode(rem)));
        }
        if let Some(Value::Text(p)) = map_get(plat, &int_key(PLAT_PROFILE)) {
            details.push(("platform_profile".to_owned(), p.clone()));
        }
        if let Some(Value::Text(v)) = map_get(plat, &int_key(PLAT_VERIFICATION_SERVICE)) {
            details.push(("platform_verification_service".to_owned(), v.clone()));
        }
        if let Some(Value::Text(v)) = map_get(plat, &int_key(PLAT_HASH_ALG)) {
            details.push(("platform_hash_algorithm".to_owned(), v.clone()));
        }
        if let Some(Value::Bytes(v)) = map_get(plat, &int_key(PLAT_CONFIG)) {
            details.push(("platform_config".to_owned(), hex::encode(v)));
        }
        if let Some(Value::Array(components)) = map_get(plat, &int_key(PLAT_SW_COMPONENTS)) {
            if components.len() > MAX_SW_COMPONENTS {
                return Err(EvidenceError::Malformed(format!(
                    "CCA platform lists {} software components, more than {MAX_SW_COMPONENTS}",
                    components.len()
                )));
            }
            for (i, c) in components.iter().enumerate() {
                let c = as_map(c, "software component")?;
                let kind = match map_get(c, &int_key(1)) {
                    Some(Value::Text(t)) => t.clone(),
                    _ => String::new(),
                };
                let value = match map_get(c, &int_key(2)) {
                    Some(Value::Bytes(b)) => hex::encode(b),
                    _ => String::new(),
                };
                details.push((format!("sw_component{i}"), format!("{kind}:{value}")));
            }
        }
        tracing::debug!(instance = %hex::encode(&instance_id), "CCA token verified");
        Ok(Claims {
            platform: Platform::Cca,
            measurement: rim,
            report_data: challenge,
            debug,
            tcb_status: None,
            details,
        })
    }
}
