//! CBOR decoding with limits, and COSE_Sign1 (RFC 9052) parsing and ECDSA verification, shared
//! by the Nitro and CCA verifiers.

use ciborium::value::{Integer, Value};
use ring::signature::{self, UnparsedPublicKey};

use crate::EvidenceError;

/// CBOR nesting deeper than this is refused: no evidence format we read nests beyond a handful
/// of levels, and the limit keeps recursion bounded on hostile input.
const MAX_CBOR_DEPTH: usize = 16;

/// COSE algorithm identifiers (IANA "COSE Algorithms").
pub(crate) const ALG_ES256: i64 = -7;
pub(crate) const ALG_ES384: i64 = -35;

/// Decodes exactly one CBOR item filling all of `bytes`, with a nesting limit.
pub fn decode(bytes: &[u8], max_len: usize, what: &str) -> Result<Value, EvidenceError> {
    if bytes.len() > max_len {
        return Err(EvidenceError::Malformed(format!(
            "{what} is {} bytes, more than the {max_len} allowed",
            bytes.len()
        )));
    }
    let mut reader = bytes;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut reader, MAX_CBOR_DEPTH)
        .map_err(|e| EvidenceError::Malformed(format!("{what} is not valid CBOR: {e}")))?;
    if !reader.is_empty() {
        return Err(EvidenceError::Malformed(format!(
            "{what} has {} bytes after its CBOR item",
            reader.len()
        )));
    }
    Ok(value)
}

/// Looks a key up in a CBOR map.
pub(crate) fn map_get<'a>(map: &'a [(Value, Value)], key: &Value) -> Option<&'a Value> {
    map.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

pub(crate) fn int_key(k: i64) -> Value {
    Value::Integer(Integer::from(k))
}

pub(crate) fn text_key(k: &str) -> Value {
    Value::Text(k.to_owned())
}

pub(crate) fn as_map<'a>(v: &'a Value, what: &str) -> Result<&'a [(Value, Value)], EvidenceError> {
    match v {
        Value::Map(m) => Ok(m),
        _ => Err(EvidenceError::Malformed(format!(
            "{what} is not a CBOR map"
        ))),
    }
}

pub(crate) fn as_bytes<'a>(v: &'a Value, what: &str) -> Result<&'a [u8], EvidenceError> {
    match v {
        Value::Bytes(b) => Ok(b),
        _ => Err(EvidenceError::Malformed(format!(
            "{what} is not a CBOR byte string"
        ))),
    }
}

pub(crate) fn as_text<'a>(v: &'a Value, what: &str) -> Result<&'a str, EvidenceError> {
    match v {
        Value::Text(t) => Ok(t),
        _ => Err(EvidenceError::Malformed(format!(
            "{what} is not a CBOR text string"
        ))),
    }
}

pub(crate) fn as_i64(v: &Value, what: &str) -> Result<i64, EvidenceError> {
    match v {
        Value::Integer(i) => i64::try_from(*i)
            .map_err(|_| EvidenceError::Malformed(format!("{what} is out of range"))),
        _ => Err(EvidenceError::Malformed(format!(
            "{what} is not a CBOR integer"
        ))),
    }
}

/// A parsed COSE_Sign1 message. The protected header and payload are kept as the exact bytes
/// that were signed: re-encoding could change them.
#[derive(Debug)]
pub struct CoseSign1 {
    pub protected: Vec<u8>,
    pub alg: i64,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Parses a COSE_Sign1 message, tagged (18) or not.
pub fn parse_sign1(bytes: &[u8], max_len: usize, what: &str) -> Result<CoseSign1, EvidenceError> {
    let value = decode(bytes, max_len, what)?;
    let value = match value {
        Value::Tag(18, inner) => *inner,
        Value::Tag(t, _) => {
            return Err(EvidenceError::Malformed(format!(
                "{what} has CBOR tag {t}, not COSE_Sign1 (18)"
            )))
        }
        v => v,
    };
    let Value::Array(items) = value else {
        return Err(EvidenceError::Malformed(format!(
            "{what} is not a COSE_Sign1 array"
        )));
    };
    let [protected, unprotected, payload, sig]: [Value; 4] =
        items.try_into().map_err(|v: Vec<Value>| {
            EvidenceError::Malformed(format!("{what} COSE_Sign1 has {} elements, not 4", v.len()))
        })?;
    let protected = as_bytes(&protected, &format!("{what} protected header"))?.to_vec();
    as_map(&unprotected, &format!("{what} unprotected header"))?;
    let payload = as_bytes(&payload, &format!("{what} payload"))?.to_vec();
    let signature = as_bytes(&sig, &format!("{what} signature"))?.to_vec();
    let header = decode(
        &protected,
        protected.len(),
        &format!("{what} protected header"),
    )?;
    let header = as_map(&header, &format!("{what} protected header"))?;
    let alg = map_get(header, &int_key(1)).ok_or_else(|| {
        EvidenceError::Malformed(format!("{what} protected header has no algorithm (1)"))
    })?;
    let alg = as_i64(alg, &format!("{what} algorithm"))?;
    Ok(CoseSign1 {
        protected,
        alg,
        payload,
        signature,
    })
}

fn put_header(out: &mut Vec<u8>, major: u8, len: usize) {
    let major = major << 5;
    // usize always fits in u64 on the targets we build for.
    let len = len as u64;
    match len {
        0..=23 => out.push(major | len as u8),
        24..=0xff => {
            out.push(major | 24);
            out.push(len as u8);
        }
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
}

impl CoseSign1 {
    /// The `Sig_structure` the signature covers: `["Signature1", protected, h'', payload]`.
    pub(crate) fn to_be_signed(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.protected.len() + self.payload.len() + 32);
        put_header(&mut out, 4, 4);
        put_header(&mut out, 3, 10);
        out.extend_from_slice(b"Signature1");
        put_header(&mut out, 2, self.protected.len());
        out.extend_from_slice(&self.protected);
        put_header(&mut out, 2, 0);
        put_header(&mut out, 2, self.payload.len());
        out.extend_from_slice(&self.payload);
        out
    }

    /// Verifies the signature with an uncompressed SEC1 EC public key.
    pub(crate) fn verify_ec(&self, public_key: &[u8], what: &str) -> Result<(), EvidenceError> {
        let alg: &'static signature::EcdsaVerificationAlgorithm = match self.alg {
            ALG_ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            ALG_ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            other => {
                return Err(EvidenceError::BadSignature(format!(
                    "{what} uses COSE algorithm {other}; only ES256 and ES384 are supported"
                )))
            }
        };
        UnparsedPublicKey::new(alg, public_key)
            .verify(&self.to_be_signed(), &self.signature)
            .map_err(|_| {
                EvidenceError::BadSignature(format!("{what} COSE signature does not verify"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_encoding_matches_cbor_rules() {
        let mut v = Vec::new();
        put_header(&mut v, 2, 23);
        put_header(&mut v, 2, 24);
        put_header(&mut v, 2, 256);
        put_header(&mut v, 2, 70_000);
        assert_eq!(v, [0x57, 0x58, 24, 0x59, 1, 0, 0x5a, 0, 1, 0x11, 0x70]);
    }

    #[test]
    fn refuses_trailing_bytes_and_deep_nesting() {
        assert!(matches!(
            decode(&[0x01, 0x02], 16, "x"),
            Err(EvidenceError::Malformed(_))
        ));
        let deep = vec![0x81u8; 64];
        assert!(matches!(
            decode(&deep, 1024, "x"),
            Err(EvidenceError::Malformed(_))
        ));
    }
}
