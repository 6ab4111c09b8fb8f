//! Moving average convergence/divergence (MACD) over a provider's price series: the
//! receiver gets the trading indicator without the prices themselves.
//!
//! Reads `/input/prices.csv` (header `date,close`, rows in time order), writes
//! `/output/macd.csv` with `date,macd,signal,histogram` per row, using the standard
//! 12/26/9 periods. Each EMA starts at the first value of its input series.

use veracruz_guest::{csv, num, vfs, Error, Result};

const INPUT: &str = "/input/prices.csv";
const OUTPUT: &str = "/output/macd.csv";
const FAST: u32 = 12;
const SLOW: u32 = 26;
const SIGNAL: u32 = 9;

fn main() {
    veracruz_guest::run(body)
}

fn body() -> Result<()> {
    let text = vfs::read_to_string(INPUT)?;
    let mut reader = csv::Reader::new(INPUT, &text);
    reader.expect_header(&["date", "close"])?;
    let mut dates = Vec::new();
    let mut closes = Vec::new();
    while let Some(rec) = reader.next_record()? {
        closes.push(reader.parse_f64(&rec, 1)?);
        dates.push(rec.fields[0].clone());
    }
    if closes.is_empty() {
        return Err(Error::new(format!("`{}` has no prices", INPUT)));
    }
    let rows = macd(&closes);
    let mut out = csv::Writer::new();
    out.record(&["date", "macd", "signal", "histogram"]);
    for (date, r) in dates.iter().zip(&rows) {
        out.record(&[
            date.as_ref(),
            &num::fmt_f64(r.macd),
            &num::fmt_f64(r.signal),
            &num::fmt_f64(r.histogram),
        ]);
    }
    vfs::write(OUTPUT, out.as_str().as_bytes())
}

struct Row {
    macd: f64,
    signal: f64,
    histogram: f64,
}

/// Exponential moving average step with smoothing 2 / (period + 1).
fn ema_step(previous: f64, value: f64, period: u32) -> f64 {
    let alpha = 2.0 / (f64::from(period) + 1.0);
    previous + alpha * (value - previous)
}

fn macd(closes: &[f64]) -> Vec<Row> {
    let mut out = Vec::with_capacity(closes.len());
    let (mut fast, mut slow) = (closes[0], closes[0]);
    let mut signal = 0.0;
    for (i, &c) in closes.iter().enumerate() {
        fast = ema_step(fast, c, FAST);
        slow = ema_step(slow, c, SLOW);
        let m = fast - slow;
        signal = if i == 0 {
            m
        } else {
            ema_step(signal, m, SIGNAL)
        };
        out.push(Row {
            macd: m,
            signal,
            histogram: m - signal,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_prices_have_zero_macd() {
        let rows = macd(&[10.0; 50]);
        assert!(rows
            .iter()
            .all(|r| r.macd == 0.0 && r.signal == 0.0 && r.histogram == 0.0));
    }

    #[test]
    fn rising_prices_give_positive_macd() {
        let prices: Vec<f64> = (0..100).map(f64::from).collect();
        let rows = macd(&prices);
        assert!(rows[1..].iter().all(|r| r.macd > 0.0));
        // A steady trend drives MACD to (slow lag - fast lag) = (26-1)/2 - (12-1)/2 = 7.
        assert!((rows[99].macd - 7.0).abs() < 0.01, "{}", rows[99].macd);
    }
}
