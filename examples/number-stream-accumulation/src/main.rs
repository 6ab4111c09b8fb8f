//! Number-stream accumulation across rounds: each round a provider writes a new batch of
//! integers and the program adds it to the running total it left in its previous output,
//! so the receiver follows a stream whose individual batches stay private.
//!
//! Reads `/input/batch.csv` (header `value`, integers) and, if present, its own previous
//! `/output/total.csv`; writes `/output/total.csv` (header `rounds,count,sum`).

use veracruz_guest::{csv, vfs, Error, Result};

const BATCH: &str = "/input/batch.csv";
const TOTAL: &str = "/output/total.csv";

fn main() {
    veracruz_guest::run(body)
}

#[derive(Debug, PartialEq)]
struct Total {
    rounds: u64,
    count: u64,
    sum: i64,
}

fn read_previous() -> Result<Total> {
    let bytes = match vfs::read_optional(TOTAL)? {
        Some(b) => b,
        None => {
            return Ok(Total {
                rounds: 0,
                count: 0,
                sum: 0,
            })
        }
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::new(format!("previous `{}` is not UTF-8 text", TOTAL)))?;
    let mut reader = csv::Reader::new(TOTAL, &text);
    reader.expect_header(&["rounds", "count", "sum"])?;
    let rec = reader
        .next_record()?
        .ok_or_else(|| Error::new(format!("previous `{}` has a header but no totals", TOTAL)))?;
    let total = Total {
        rounds: reader.parse(&rec, 0)?,
        count: reader.parse(&rec, 1)?,
        sum: reader.parse(&rec, 2)?,
    };
    if let Some(extra) = reader.next_record()? {
        return Err(reader.error(&extra, "previous totals hold more than one row"));
    }
    Ok(total)
}

fn body() -> Result<()> {
    let mut total = read_previous()?;
    let text = vfs::read_to_string(BATCH)?;
    let mut reader = csv::Reader::new(BATCH, &text);
    reader.expect_header(&["value"])?;
    while let Some(rec) = reader.next_record()? {
        let v: i64 = reader.parse(&rec, 0)?;
        total.sum = total
            .sum
            .checked_add(v)
            .ok_or_else(|| reader.error(&rec, "the running sum overflows a 64-bit integer"))?;
        total.count += 1;
    }
    total.rounds += 1;
    let mut out = csv::Writer::new();
    out.record(&["rounds", "count", "sum"]);
    out.raw_line(&format!("{},{},{}", total.rounds, total.count, total.sum));
    vfs::write(TOTAL, out.as_str().as_bytes())
}
