//! The few DER encodings certificates and our extensions need, written by hand because the
//! Veracruz OID arc has a component wider than 64 bits, which general-purpose builders reject.
//! Reading is bounded: lengths are checked against the input before anything is sliced.

pub(crate) const TAG_BOOLEAN: u8 = 0x01;
pub(crate) const TAG_INTEGER: u8 = 0x02;
pub(crate) const TAG_BIT_STRING: u8 = 0x03;
pub(crate) const TAG_OCTET_STRING: u8 = 0x04;
pub(crate) const TAG_OID: u8 = 0x06;
pub(crate) const TAG_UTF8_STRING: u8 = 0x0c;
pub(crate) const TAG_UTC_TIME: u8 = 0x17;
pub(crate) const TAG_GENERALIZED_TIME: u8 = 0x18;
pub(crate) const TAG_SEQUENCE: u8 = 0x30;
pub(crate) const TAG_SET: u8 = 0x31;

/// One tag-length-value with a definite, minimal length.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

pub(crate) fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    tlv(TAG_SEQUENCE, &parts.concat())
}

/// A non-negative INTEGER from big-endian magnitude bytes.
pub(crate) fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude
        .iter()
        .take_while(|b| **b == 0)
        .count()
        .min(magnitude.len().saturating_sub(1));
    let trimmed = &magnitude[skip..];
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.is_empty() || trimmed[0] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(TAG_INTEGER, &content)
}

/// The content octets of an OBJECT IDENTIFIER (without tag and length).
pub(crate) fn oid_content(arcs: &[u128]) -> Vec<u8> {
    assert!(
        arcs.len() >= 2 && arcs[0] <= 2,
        "an OID has at least two arcs"
    );
    let mut out = Vec::new();
    push_base128(&mut out, arcs[0] * 40 + arcs[1]);
    for arc in &arcs[2..] {
        push_base128(&mut out, *arc);
    }
    out
}

fn push_base128(out: &mut Vec<u8>, mut value: u128) {
    let mut groups = vec![(value & 0x7f) as u8];
    value >>= 7;
    while value > 0 {
        groups.push(0x80 | (value & 0x7f) as u8);
        value >>= 7;
    }
    out.extend(groups.iter().rev());
}

pub(crate) fn oid(content: &[u8]) -> Vec<u8> {
    tlv(TAG_OID, content)
}

pub(crate) fn boolean(value: bool) -> Vec<u8> {
    tlv(TAG_BOOLEAN, &[if value { 0xff } else { 0x00 }])
}

/// An explicitly tagged, constructed context-specific field (`[n] EXPLICIT`).
pub(crate) fn explicit(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, content)
}

/// X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 section 4.1.2.5).
pub(crate) fn x509_time(unix_seconds: i64) -> Result<Vec<u8>, time::error::ComponentRange> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_seconds)?;
    let (y, mo, d, h, mi, s) = (
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    );
    Ok(if (1950..2050).contains(&y) {
        let text = format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z", y % 100);
        tlv(TAG_UTC_TIME, text.as_bytes())
    } else {
        let text = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z");
        tlv(TAG_GENERALIZED_TIME, text.as_bytes())
    })
}

/// Why a DER value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DerError {
    #[error("truncated DER value")]
    Truncated,
    #[error("expected DER tag {expected:#04x}, found {found:#04x}")]
    UnexpectedTag { expected: u8, found: u8 },
    #[error("DER length is not minimal or not definite")]
    BadLength,
    #[error("{0} trailing bytes after the DER value")]
    Trailing(usize),
    #[error("invalid DER content: {0}")]
    BadContent(&'static str),
}

/// Reads exactly one TLV with the given tag that spans all of `input`; returns its content.
pub(crate) fn read_single(input: &[u8], tag: u8) -> Result<&[u8], DerError> {
    let (found, content, rest) = read_tlv(input)?;
    if found != tag {
        return Err(DerError::UnexpectedTag {
            expected: tag,
            found,
        });
    }
    if !rest.is_empty() {
        return Err(DerError::Trailing(rest.len()));
    }
    Ok(content)
}

/// Splits one TLV off the front of `input`: (tag, content, rest).
pub(crate) fn read_tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), DerError> {
    let (&tag, rest) = input.split_first().ok_or(DerError::Truncated)?;
    let (&first, rest) = rest.split_first().ok_or(DerError::Truncated)?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        // Four length octets already allow 4 GiB, far beyond anything we accept.
        if n == 0 || n > 4 || rest.len() < n {
            return Err(DerError::BadLength);
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        if rest[0] == 0 || len < 0x80 {
            return Err(DerError::BadLength);
        }
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(DerError::Truncated);
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

pub(crate) fn read_boolean(input: &[u8]) -> Result<bool, DerError> {
    match read_single(input, TAG_BOOLEAN)? {
        [0x00] => Ok(false),
        [0xff] => Ok(true),
        _ => Err(DerError::BadContent(
            "BOOLEAN must be one byte, 0x00 or 0xff",
        )),
    }
}

pub(crate) fn read_utf8(input: &[u8]) -> Result<&str, DerError> {
    std::str::from_utf8(read_single(input, TAG_UTF8_STRING)?)
        .map_err(|_| DerError::BadContent("UTF8String is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_encoding_matches_known_values() {
        // 1.2.840.10045.4.3.2 (ecdsa-with-SHA256), a well-known encoding.
        assert_eq!(
            oid_content(&[1, 2, 840, 10045, 4, 3, 2]),
            [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]
        );
        // 2.25 starts with 2*40+25 = 105; a single-group arc follows unchanged.
        assert_eq!(oid_content(&[2, 25, 5]), [0x69, 0x05]);
        assert_eq!(oid_content(&[2, 25, 128]), [0x69, 0x81, 0x00]);
    }

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70000] {
            let content = vec![7u8; len];
            let enc = tlv(TAG_OCTET_STRING, &content);
            assert_eq!(read_single(&enc, TAG_OCTET_STRING).unwrap(), &content[..]);
        }
    }

    #[test]
    fn reader_refuses_bad_input() {
        assert_eq!(
            read_single(&[0x04], TAG_OCTET_STRING),
            Err(DerError::Truncated)
        );
        assert_eq!(
            read_single(&[0x04, 0x05, 1], TAG_OCTET_STRING),
            Err(DerError::Truncated)
        );
        assert_eq!(
            read_single(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5], TAG_OCTET_STRING),
            Err(DerError::BadLength)
        );
        assert_eq!(
            read_single(&[0x04, 0x80], TAG_OCTET_STRING),
            Err(DerError::BadLength)
        );
        assert_eq!(
            read_single(&[0x04, 0x00, 0x00], TAG_OCTET_STRING),
            Err(DerError::Trailing(1))
        );
        assert!(matches!(
            read_single(&[0x0c, 0x00], TAG_OCTET_STRING),
            Err(DerError::UnexpectedTag { .. })
        ));
        assert!(read_boolean(&[0x01, 0x01, 0x01]).is_err());
        assert_eq!(read_boolean(&boolean(true)), Ok(true));
    }

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(unsigned_integer(&[0, 0, 5]), [0x02, 0x01, 0x05]);
        assert_eq!(unsigned_integer(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(unsigned_integer(&[0]), [0x02, 0x01, 0x00]);
    }

    #[test]
    fn times_switch_to_generalized_in_2050() {
        assert_eq!(x509_time(0).unwrap(), tlv(TAG_UTC_TIME, b"700101000000Z"));
        let y2050 = 2524608000; // 2050-01-01T00:00:00Z
        assert_eq!(
            x509_time(y2050).unwrap(),
            tlv(TAG_GENERALIZED_TIME, b"20500101000000Z")
        );
    }
}
