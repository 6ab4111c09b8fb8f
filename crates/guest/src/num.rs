//! Numbers in inputs and outputs.
//!
//! Money and other decimal amounts are parsed into exact integers of the smallest unit
//! (`12.34` with 2 places is `1234`), so sums are exact and identical everywhere. Floats are
//! printed with [`fmt_f64`]: the shortest decimal that reads back to the same bits, never
//! with an exponent. That text is a function of the bits alone, so a native and a wasm
//! build that compute the same bits print the same bytes.

use crate::{Error, Result};

/// Shortest round-trip decimal for a finite float (`0.1`, `-3`, `0.000001`).
pub fn fmt_f64(x: f64) -> String {
    format!("{}", x)
}

/// Parses a decimal amount with at most `places` fraction digits into an integer count of
/// the smallest unit. More fraction digits are refused rather than rounded, because a
/// rounded amount is not the amount the provider wrote.
pub fn parse_decimal(text: &str, places: u32) -> std::result::Result<i64, String> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int_part, frac_part) = match digits.find('.') {
        Some(i) => (&digits[..i], &digits[i + 1..]),
        None => (digits, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(format!("`{}` is not a decimal number", text));
    }
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int_part)
        || !all_digits(frac_part)
        || (digits.contains('.') && frac_part.is_empty())
    {
        return Err(format!("`{}` is not a decimal number", text));
    }
    if frac_part.len() > places as usize {
        return Err(format!(
            "`{}` has more than {} digits after the decimal point",
            text, places
        ));
    }
    let overflow = || format!("`{}` is too large", text);
    let mut value: i64 = 0;
    for b in int_part.bytes().chain(frac_part.bytes()) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or_else(overflow)?;
    }
    for _ in frac_part.len()..places as usize {
        value = value.checked_mul(10).ok_or_else(overflow)?;
    }
    Ok(if negative { -value } else { value })
}

/// Formats an integer count of the smallest unit as a decimal with `places` fraction digits.
pub fn format_decimal(value: i64, places: u32) -> String {
    let scale = 10u64.pow(places);
    let magnitude = value.unsigned_abs();
    let sign = if value < 0 { "-" } else { "" };
    if places == 0 {
        return format!("{}{}", sign, magnitude);
    }
    format!(
        "{}{}.{:0width$}",
        sign,
        magnitude / scale,
        magnitude % scale,
        width = places as usize
    )
}

/// Adds with an error instead of wrapping; totals of provider data must never overflow silently.
pub fn checked_sum(a: i64, b: i64, what: &str) -> Result<i64> {
    a.checked_add(b)
        .ok_or_else(|| Error::new(format!("{} overflows a 64-bit integer", what)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(parse_decimal("12.34", 2), Ok(1234));
        assert_eq!(parse_decimal("12.3", 2), Ok(1230));
        assert_eq!(parse_decimal(" 7 ", 2), Ok(700));
        assert_eq!(parse_decimal("-0.05", 2), Ok(-5));
        assert_eq!(parse_decimal(".5", 2), Ok(50));
        assert!(parse_decimal("1.234", 2)
            .unwrap_err()
            .contains("more than 2 digits"));
        assert!(parse_decimal("1e3", 2).is_err());
        assert!(parse_decimal("", 2).is_err());
        assert!(parse_decimal("5.", 2).is_err());
        assert!(parse_decimal("99999999999999999999", 2)
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn decimals_format_back() {
        assert_eq!(format_decimal(1234, 2), "12.34");
        assert_eq!(format_decimal(-5, 2), "-0.05");
        assert_eq!(format_decimal(0, 2), "0.00");
        assert_eq!(format_decimal(42, 0), "42");
        assert_eq!(format_decimal(i64::MIN, 2), "-92233720368547758.08");
    }

    #[test]
    fn floats_print_shortest_without_exponent() {
        assert_eq!(fmt_f64(0.1), "0.1");
        assert_eq!(fmt_f64(-3.0), "-3");
        assert_eq!(fmt_f64(1e-7), "0.0000001");
        assert_eq!(fmt_f64(1.0 / 3.0).parse::<f64>().unwrap(), 1.0 / 3.0);
    }
}
