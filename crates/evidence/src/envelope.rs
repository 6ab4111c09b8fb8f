//! Helpers for evidence as operators hold it in files: text encodings of binary evidence and
//! the times at which to judge it.

use base64::Engine;
use time::format_description::well_known::Rfc3339;

use crate::UnixTime;

/// Why a time given by a user was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimeError {
    #[error(
        "time `{0}` is neither Unix seconds nor an RFC 3339 date-time (e.g. 2025-01-06T17:00:00Z)"
    )]
    Unparsable(String),
    #[error("time `{0}` is before the Unix epoch")]
    BeforeEpoch(String),
}

/// Parses a time given as Unix seconds or as an RFC 3339 date-time.
pub fn parse_time(text: &str) -> Result<UnixTime, TimeError> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map_err(|_| TimeError::Unparsable(text.to_owned()));
    }
    let t = time::OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| TimeError::Unparsable(text.to_owned()))?;
    u64::try_from(t.unix_timestamp()).map_err(|_| TimeError::BeforeEpoch(text.to_owned()))
}

/// Returns binary evidence from a file's bytes: hex or base64 text (whitespace ignored) is
/// decoded, anything else (binary, or a JSON envelope) is returned unchanged.
pub fn decode_evidence_text(bytes: &[u8]) -> Vec<u8> {
    let compact: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return bytes.to_vec();
    }
    if compact.len() % 2 == 0 && compact.iter().all(u8::is_ascii_hexdigit) {
        if let Ok(raw) = hex::decode(&compact) {
            return raw;
        }
    }
    let b64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_');
    if compact.iter().all(b64) {
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::URL_SAFE,
        ];
        for engine in engines {
            if let Ok(raw) = engine.decode(&compact) {
                return raw;
            }
        }
    }
    bytes.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1736182800"), Ok(1736182800));
        assert_eq!(parse_time("2025-01-06T17:00:00Z"), Ok(1736182800));
        assert_eq!(parse_time("2025-01-06T18:00:00+01:00"), Ok(1736182800));
        assert!(matches!(
            parse_time("yesterday"),
            Err(TimeError::Unparsable(_))
        ));
        assert!(matches!(
            parse_time("1969-12-31T23:59:59Z"),
            Err(TimeError::BeforeEpoch(_))
        ));
    }

    #[test]
    fn text_encodings() {
        assert_eq!(decode_evidence_text(b"0aff\n"), vec![0x0a, 0xff]);
        assert_eq!(decode_evidence_text(b"AAECAw==\n"), vec![0, 1, 2, 3]);
        assert_eq!(decode_evidence_text(b"{\"a\":1}"), b"{\"a\":1}".to_vec());
        assert_eq!(decode_evidence_text(&[0xd2, 0x84]), vec![0xd2, 0x84]);
    }
}
