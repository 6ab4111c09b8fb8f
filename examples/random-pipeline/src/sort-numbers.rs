//! Second step of the random-numbers pipeline: sort the generated integers.
//!
//! Reads `/output/random.csv` (header `value`, u64 per line) written by the first step,
//! writes `/output/sorted.csv` in ascending order with the same layout.

use veracruz_guest::{csv, vfs, Result};

const INPUT: &str = "/output/random.csv";
const OUTPUT: &str = "/output/sorted.csv";

fn main() {
    veracruz_guest::run(body)
}

fn body() -> Result<()> {
    let text = vfs::read_to_string(INPUT)?;
    let mut reader = csv::Reader::new(INPUT, &text);
    reader.expect_header(&["value"])?;
    let mut values: Vec<u64> = Vec::new();
    while let Some(rec) = reader.next_record()? {
        values.push(reader.parse(&rec, 0)?);
    }
    // Equal integers are indistinguishable, so an unstable sort gives the same bytes.
    values.sort_unstable();
    let mut out = csv::Writer::new();
    out.record(&["value"]);
    for v in values {
        out.raw_line(&v.to_string());
    }
    vfs::write(OUTPUT, out.as_str().as_bytes())
}
